"""When to retry a request and how long to wait first (interactions-api.md §1 "Retries").

Only failures before a response stream has opened are retried; the client never consults this
policy once the first byte of a 200 body has been handed to the caller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from .errors import APIConnectionError, APIError, APIStatusError

__all__ = ["MAX_RETRY_AFTER", "RetryPolicy"]

# A server-supplied wait is honoured, but not blindly: a turn must not hang for an hour.
MAX_RETRY_AFTER = 60.0
_RETRY_STATUSES = frozenset({408, 409, 429})
# Failures that say nothing about the request itself. RemoteProtocolError is included because a
# pooled keep-alive connection the server already closed surfaces as "Server disconnected".
_RETRY_TRANSPORT = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0

    def should_retry(self, attempt: int, error: APIError) -> bool:
        """`attempt` counts the retries already made (0 after the first failure)."""
        if attempt >= self.max_retries:
            return False
        if isinstance(error, APIStatusError):
            return error.status_code in _RETRY_STATUSES or error.status_code >= 500
        if isinstance(error, APIConnectionError):
            return isinstance(error.__cause__, _RETRY_TRANSPORT)
        return False

    def delay(self, attempt: int, error: APIError) -> float:
        """Seconds to wait before retry number `attempt + 1`."""
        if isinstance(error, APIStatusError) and error.retry_after is not None:
            return min(error.retry_after, MAX_RETRY_AFTER)
        delay = min(self.backoff_base * 2**attempt, self.backoff_max)
        # Up to -25 % jitter, so that clients failing together do not retry together.
        return delay * (1 - 0.25 * random.random())
