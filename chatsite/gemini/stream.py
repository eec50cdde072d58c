"""EventStream: the events of one open streaming response, as an async iterator of dicts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from .errors import APIConnectionError, APITimeoutError, redact

__all__ = ["EventStream"]


class EventStream:
    """Async iterator of event dicts (see `sse.iter_events` for their shape).

    - `last_event_id` is the `event_id` of the last event yielded. A stream opened with
      `stream_get(..., last_event_id=X)` starts with X, so resuming again after another break
      never rewinds.
    - A transport failure after the stream opened raises `APIConnectionError` (a stall longer
      than the read timeout: `APITimeoutError`) and is never retried; resume with
      `client.stream_get(interaction_id, last_event_id=events.last_event_id)`.
    - A clean end of the body just ends the iteration, even without `interaction.completed`;
      callers that need a terminal event check for it themselves.
    - `aclose()` drops the HTTP connection at once (it never waits for the server), is
      idempotent, and may be called from another task while one is iterating: that iteration
      then simply ends.
    """

    def __init__(
        self,
        source: AsyncIterator[dict[str, Any]],
        response: httpx.Response | None = None,
        *,
        last_event_id: str | None = None,
        secret: str | None = None,
    ) -> None:
        self._source = source
        self._response = response
        self._secret = secret
        self._closed = False
        self.last_event_id = last_event_id

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._closed:
            raise StopAsyncIteration
        try:
            event = await anext(self._source)
        except StopAsyncIteration:
            await self.aclose()
            raise
        except (httpx.RequestError, httpx.StreamError) as exc:
            if self._closed:
                # aclose() from another task cut the connection under us: a normal end.
                raise StopAsyncIteration from None
            await self.aclose()
            raise self._interrupted(exc) from exc
        event_id = event.get("event_id")
        if isinstance(event_id, str) and event_id:
            self.last_event_id = event_id
        return event

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._response is not None:
                # Closing a response whose body is unread drops the connection instead of
                # draining it, which is what tells the upstream to stop generating.
                await self._response.aclose()
        finally:
            # A generator suspended in another task's __anext__ cannot be closed from here; it
            # fails on the dead connection and is finalised by that task instead.
            if not getattr(self._source, "ag_running", False):
                aclose = getattr(self._source, "aclose", None)
                if aclose is not None:
                    await aclose()

    def _interrupted(self, exc: Exception) -> APIConnectionError:
        where = f"after event {self.last_event_id}" if self.last_event_id else "before any event"
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"stream stalled {where}: no data within the read timeout")
        detail = redact(str(exc) or type(exc).__name__, self._secret)
        return APIConnectionError(f"stream interrupted {where}: {detail}")
