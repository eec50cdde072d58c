"""Typed errors of the Interactions API client.

The hierarchy mirrors the SDK's public layer (interactions-api.md §2 "Errors"): the class is
chosen by HTTP status alone, because the upstream body's own `code` is not reliably typed.

    APIError
    ├── APIStatusError            any non-200 reply (and a 200 of an unusable content type)
    │   ├── BadRequestError            400
    │   ├── AuthenticationError        401
    │   ├── PermissionDeniedError      403
    │   ├── NotFoundError              404
    │   ├── ConflictError              409
    │   ├── UnprocessableEntityError   422
    │   ├── RateLimitError             429
    │   └── InternalServerError        5xx
    ├── APIConnectionError        transport failure (refused, reset, broken stream, …)
    │   └── APITimeoutError            no bytes for longer than the timeout
    └── StreamError               an SSE `error` event, raised by the caller if it wants to

No message built here may contain the API key: the client passes it as `secret` and every text
that came from the network goes through `redact()` first.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import time
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamError",
    "UnprocessableEntityError",
    "parse_retry_after",
    "redact",
    "status_error",
]

REDACTED = "[redacted]"
# Shorter "keys" (test doubles such as "k") would turn redaction into mangling of ordinary words;
# real Gemini keys are 39 characters long.
_MIN_SECRET_LEN = 6
_MAX_SNIPPET = 200


class APIError(Exception):
    """Base class of every error this package raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIStatusError(APIError):
    """The server answered with something other than 200."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        upstream_status: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.upstream_status = upstream_status
        self.retry_after = retry_after
        label = upstream_status or httpx.codes.get_reason_phrase(status_code)
        if not label:
            text = f"{status_code}: {message}"
        elif message and message != label:
            text = f"{status_code} {label}: {message}"
        else:
            text = f"{status_code} {label}"
        # The human-readable form goes to Exception.args, so str() and repr() both read well;
        # `.message` stays the bare upstream message.
        super().__init__(text)
        self.message = message


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    pass


class InternalServerError(APIStatusError):
    pass


class APIConnectionError(APIError):
    """The request or the stream failed below HTTP (refused, reset, truncated body, …)."""


class APITimeoutError(APIConnectionError):
    """Connect, write or read timed out. For a stream: no bytes arrived for `timeout` seconds."""


class StreamError(APIError):
    """An SSE `error` event as an exception; `code` is often a string like "resource_exhausted"."""

    def __init__(self, code: Any, message: str, event: dict[str, Any] | None = None) -> None:
        self.code = code
        self.event = event
        super().__init__(f"stream error {code}: {message}" if code else f"stream error: {message}")
        self.message = message

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> StreamError:
        error = event.get("error")
        if not isinstance(error, Mapping):
            error = {}
        message = error.get("message")
        return cls(
            error.get("code"),
            str(message) if message else "the stream reported an error",
            dict(event),
        )


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= _MIN_SECRET_LEN:
        return text.replace(secret, REDACTED)
    return text


def status_error(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    secret: str | None = None,
    message: str | None = None,
) -> APIStatusError:
    """Build the typed error for a non-200 reply from its status, headers and raw body."""
    text = redact(content.decode("utf-8", errors="replace"), secret)
    body: Any = text
    with contextlib.suppress(ValueError):
        body = json.loads(text)
    upstream_status = None
    upstream_message = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        upstream_status = error.get("status") if isinstance(error.get("status"), str) else None
        if error.get("message"):
            upstream_message = str(error["message"])
    if message is None:
        message = upstream_message or _snippet(text) or httpx.codes.get_reason_phrase(status_code)
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    return cls(
        message,
        status_code=status_code,
        body=body,
        upstream_status=upstream_status,
        retry_after=parse_retry_after(headers),
    )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, else `Retry-After` (secs or date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            millis = float(value)
        except ValueError:
            millis = -1.0
        if math.isfinite(millis) and millis >= 0:
            return millis / 1000
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SNIPPET else text[: _MAX_SNIPPET - 1] + "…"
