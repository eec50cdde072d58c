"""The Gemini Interactions API seen from Python: client, SSE parsing, step assembly, errors.

Pure asyncio + httpx; nothing here may import Django or the rest of chatsite.
"""

from .assembler import StepAssembler
from .client import InteractionsClient
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from .stream import EventStream

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "EventStream",
    "InteractionsClient",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StepAssembler",
    "StreamError",
    "UnprocessableEntityError",
]
