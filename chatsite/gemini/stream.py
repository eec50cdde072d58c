"""EventStream: the events of one open streaming response, as an async iterator of dicts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
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
        watchdog: Watchdog | None = None,
    ) -> None:
        self._source = source
        self._response = response
        self._secret = secret
        self._watchdog = watchdog
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
        watchdog = self._watchdog
        try:
            if watchdog is None:
                event = await anext(self._source)
            else:
                watchdog.waiting()
                try:
                    event = await anext(self._source)
                finally:
                    watchdog.done()
        except asyncio.CancelledError:
            if watchdog is None or not watchdog.claim_cancel():
                raise
            await self.aclose()
            raise self._stalled() from None
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
        if self._watchdog is not None:
            self._watchdog.stop()
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

    def _where(self) -> str:
        return f"after event {self.last_event_id}" if self.last_event_id else "before any event"

    def _stalled(self) -> APITimeoutError:
        return APITimeoutError(f"stream stalled {self._where()}: no data within the read timeout")

    def _interrupted(self, exc: Exception) -> APIConnectionError:
        where = self._where()
        if isinstance(exc, httpx.TimeoutException):
            return self._stalled()
        detail = redact(str(exc) or type(exc).__name__, self._secret)
        return APIConnectionError(f"stream interrupted {where}: {detail}")


class Watchdog:
    """The read timeout of an open stream: "`timeout` seconds without a byte while someone waits".

    httpx enforces its read timeout with a timer (an anyio cancel scope) armed and disarmed
    around every socket read; with hundreds of streams that was a large share of a process's
    CPU. Here one `call_at` timer per stream looks at when the last byte came and re-arms itself
    for the remaining time, so a busy stream costs one timer per `timeout`, not one per read.
    When it fires with the reader still waiting, it cancels the reading task; `EventStream`
    turns that cancellation into `APITimeoutError`.
    """

    __slots__ = ("_fired", "_handle", "_loop", "_since", "_timeout", "_waiter")

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Task[Any] | None = None
        self._since = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    def bytes_arrived(self) -> None:
        self._since = self._loop.time()

    @property
    def on_bytes(self) -> Callable[[], None]:
        return self.bytes_arrived

    def waiting(self) -> None:
        """The current task now waits for the stream: time counts from here or the next byte."""
        self._waiter = asyncio.current_task()
        self._since = self._loop.time()
        if self._handle is None:
            self._handle = self._loop.call_at(self._since + self._timeout, self._check)

    def done(self) -> None:
        self._waiter = None

    def stop(self) -> None:
        self._waiter = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def claim_cancel(self) -> bool:
        """True when the cancellation being handled is this watchdog's and nobody else's."""
        if not self._fired:
            return False
        self._fired = False
        task = asyncio.current_task()
        return task is not None and task.uncancel() == 0

    def _check(self) -> None:
        self._handle = None
        if self._waiter is None:
            return  # nobody waits; `waiting()` re-arms
        due = self._since + self._timeout
        if self._loop.time() < due:
            self._handle = self._loop.call_at(due, self._check)
            return
        self._fired = True
        self._waiter.cancel()
