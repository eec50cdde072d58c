"""InteractionsClient: a thin async httpx client of the Gemini Interactions API (REST + SSE).

Wire format: /work/shared/interactions-api.md §1, §2, §6, §8. Only 200 counts as success; every
other status raises the typed error of `errors.py`. Failures before a response has opened are
retried per `retry.RetryPolicy`; a stream that breaks after opening is not (see `EventStream`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import metadata
from types import TracebackType
from typing import Any
from urllib.parse import quote
from urllib.request import getproxies

import httpx

from .errors import APIConnectionError, APIError, APIStatusError, APITimeoutError, redact
from .errors import status_error as build_status_error
from .retry import RetryPolicy
from .sse import iter_events
from .stream import EventStream, Watchdog
from .transport import lean_transport

__all__ = ["InteractionsClient"]

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
CONNECT_TIMEOUT = 10.0


def _user_agent() -> str:
    try:
        version = metadata.version("chatsite")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"chatsite/{version} httpx/{httpx.__version__}"


USER_AGENT = _user_agent()


class InteractionsClient:
    """Create, read, stream, cancel and delete interactions.

    `base_url` already includes the API version (".../v1beta"); "/interactions" is appended.
    `timeout` is the read/write/pool timeout in seconds (connect is 10 s); for a stream the read
    timeout means "no bytes for that long", so server keep-alive comments keep it open. `None`
    disables it. `sleep` is the coroutine used to wait between retries (tests inject a fake);
    `on_retry(delay, error)` is told of each retry before that wait.
    A caller-supplied `http_client` is not closed by `aclose()`; the timeouts above still apply
    to each request sent through it.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | None = 60.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        on_retry: Callable[[float, APIError], None] | None = None,
    ) -> None:
        self.base_url = base_url  # kept as given, so callers can compare it with their setting
        self._endpoint = base_url.rstrip("/") + "/interactions"
        self._api_key = api_key
        self._timeout = httpx.Timeout(timeout, connect=CONNECT_TIMEOUT)
        self._retry = RetryPolicy(max_retries, backoff_base, backoff_max)
        self._sleep = sleep
        self._on_retry = on_retry
        self._owns_http = http_client is None
        # No connection cap: every streamed turn holds a connection for its whole length, and a
        # cap would make the next turn wait for an unrelated one to finish.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
        # The lean transport cannot go through a proxy; with one configured, httpx's own.
        lean = lean_transport(limits) if not getproxies() else None
        self._http = http_client or httpx.AsyncClient(
            timeout=self._timeout, limits=limits, transport=lean
        )

    def __repr__(self) -> str:
        # Deliberately without the API key.
        return f"InteractionsClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> InteractionsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # -- operations -------------------------------------------------------------------------

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /interactions and return the Interaction. A `stream` key in `body` is dropped:
        use `stream_create` to stream."""
        body = {key: value for key, value in body.items() if key != "stream"}
        return await self._json("POST", "", body=body)

    @asynccontextmanager
    async def stream_create(self, body: dict[str, Any]) -> AsyncIterator[EventStream]:
        """POST /interactions with `"stream": true`; yields the open `EventStream`."""
        async with self._stream("POST", "", body={**body, "stream": True}) as events:
            yield events

    async def get(self, interaction_id: str, include_input: bool = False) -> dict[str, Any]:
        params = [("include_input", "true")] if include_input else []
        params.append(("stream", "false"))
        return await self._json("GET", _id_path(interaction_id), params=params)

    @asynccontextmanager
    async def stream_get(
        self, interaction_id: str, last_event_id: str | None = None
    ) -> AsyncIterator[EventStream]:
        """GET /interactions/{id}?stream=true, replaying the events after `last_event_id`."""
        params = [("last_event_id", last_event_id)] if last_event_id else []
        params.append(("stream", "true"))
        path = _id_path(interaction_id)
        async with self._stream("GET", path, params=params, last_event_id=last_event_id) as events:
            yield events

    async def cancel(self, interaction_id: str) -> dict[str, Any]:
        """POST /interactions/{id}/cancel with an empty body; returns the Interaction."""
        return await self._json("POST", _id_path(interaction_id) + "/cancel")

    async def delete(self, interaction_id: str) -> None:
        """DELETE /interactions/{id}. The reply body is ignored."""
        await self._send("DELETE", _id_path(interaction_id), accept=JSON, stream=False)

    # -- plumbing ---------------------------------------------------------------------------

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        response = await self._send(method, path, params=params, body=body, accept=JSON)
        return self._parse_json(response)

    @asynccontextmanager
    async def _stream(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        last_event_id: str | None = None,
    ) -> AsyncIterator[EventStream]:
        response = await self._send(
            method, path, params=params, body=body, accept=EVENT_STREAM, stream=True
        )
        events = await self._open_events(response, last_event_id)
        try:
            yield events
        finally:
            await events.aclose()

    async def _open_events(
        self, response: httpx.Response, last_event_id: str | None
    ) -> EventStream:
        content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type == EVENT_STREAM:
            # From here the read timeout is the stream's watchdog, not httpx's timer per read:
            # httpcore takes the body's read timeout from this dict when the body is first read.
            timeouts = response.request.extensions.get("timeout")
            read_timeout = timeouts.get("read") if isinstance(timeouts, dict) else None
            watchdog = None
            if isinstance(timeouts, dict) and read_timeout is not None:
                response.request.extensions["timeout"] = {**timeouts, "read": None}
                watchdog = Watchdog(read_timeout)
            return EventStream(
                iter_events(response, watchdog.on_bytes if watchdog else None),
                response,
                last_event_id=last_event_id,
                secret=self._api_key,
                watchdog=watchdog,
            )
        try:
            await response.aread()
        except httpx.RequestError as exc:
            raise self._transport_error(exc) from exc
        finally:
            await response.aclose()
        if content_type == JSON:
            # Like the SDK, a 200 JSON reply to a streaming request is accepted quietly; it is
            # presented as the one event that carries a whole Interaction.
            interaction = self._parse_json(response)
            return EventStream(
                _single({"event_type": "interaction.completed", "interaction": interaction})
            )
        raise self._status_error(
            response, message=f"expected {EVENT_STREAM}, got {content_type or 'no content type'}"
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        accept: str,
        stream: bool = False,
    ) -> httpx.Response:
        """Send with retries; return the 200 response (unread if `stream`) or raise."""
        request = self._http.build_request(
            method,
            self._endpoint + path,
            # A tuple: httpx's types take a list only of its wider value type (lists are invariant).
            params=tuple(params) if params is not None else None,
            json=body,
            headers=self._headers(accept),
            timeout=self._timeout,
        )
        attempt = 0
        while True:
            error: APIError
            try:
                response = await self._http.send(request, stream=stream)
                if response.status_code == 200:
                    return response
                try:
                    await response.aread()
                finally:
                    await response.aclose()
                error = self._status_error(response)
            except httpx.RequestError as exc:
                error = self._transport_error(exc)
                error.__cause__ = exc
            if not self._retry.should_retry(attempt, error):
                raise error
            delay = self._retry.delay(attempt, error)
            if self._on_retry is not None:  # so a person waiting sees why, and for how long
                self._on_retry(delay, error)
            await self._sleep(delay)
            attempt += 1

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"content-type": JSON, "accept": accept, "user-agent": USER_AGENT}
        if self._api_key:  # the local emulator needs no key; an empty header would be noise
            headers["x-goog-api-key"] = self._api_key
        return headers

    def _parse_json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            value = response.json()
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise self._status_error(response, message="the 200 reply is not a JSON object")
        return value

    def _status_error(self, response: httpx.Response, message: str | None = None) -> APIStatusError:
        return build_status_error(
            response.status_code,
            response.headers,
            response.content,
            secret=self._api_key,
            message=message,
        )

    def _transport_error(self, exc: httpx.RequestError) -> APIConnectionError:
        detail = redact(str(exc) or type(exc).__name__, self._api_key)
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"request timed out ({type(exc).__name__}): {detail}")
        return APIConnectionError(f"connection error ({type(exc).__name__}): {detail}")


def _id_path(interaction_id: str) -> str:
    if not interaction_id:
        raise ValueError("interaction_id must be a non-empty string")
    # Ids are opaque: escape them so one can never add path segments or a query.
    return "/" + quote(interaction_id, safe="")


async def _single(event: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield event
