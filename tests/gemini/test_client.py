"""InteractionsClient against a real HTTP server on loopback (see conftest.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
from typing import Any

import httpx
import pytest

from chatsite.gemini import (
    APIConnectionError,
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
from chatsite.gemini.retry import MAX_RETRY_AFTER

from .conftest import API_KEY, Reply, seed_events, seed_stream_bytes, sse_frame

INTERACTION = {"id": "v1_x", "status": "completed", "object": "interaction", "steps": []}
E1 = {"event_type": "step.delta", "event_id": "e1", "index": 0, "delta": {"type": "text"}}
E2 = {"event_type": "step.delta", "event_id": "e2", "index": 0, "delta": {"type": "text"}}
E3 = {"event_type": "step.stop", "event_id": "e3", "index": 0}


async def collect(events: Any) -> list[dict[str, Any]]:
    return [event async for event in events]


# -- requests on the wire ---------------------------------------------------------------------


async def test_create_posts_json_and_returns_the_interaction(server, client) -> None:
    server.script(Reply.json(INTERACTION))
    body = {"model": "gemini-3-flash-preview", "input": "héllo", "stream": True}

    assert await client.create(body) == INTERACTION

    [request] = server.requests
    assert (request.method, request.path, request.query) == ("POST", "/v1beta/interactions", "")
    assert request.json() == {"model": "gemini-3-flash-preview", "input": "héllo"}
    assert request.headers["x-goog-api-key"] == API_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("chatsite/")
    assert f"httpx/{httpx.__version__}" in request.headers["user-agent"]


async def test_stream_create_sends_stream_true_and_yields_events(server, client) -> None:
    raw = seed_stream_bytes()
    server.script(Reply.sse([raw[:50], raw[50:300], raw[300:]]))

    async with client.stream_create({"model": "m", "input": "hi"}) as events:
        assert await collect(events) == seed_events()
        assert events.last_event_id is None  # the guide's events carry no event_id

    [request] = server.requests
    assert request.json() == {"model": "m", "input": "hi", "stream": True}
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["content-type"] == "application/json"


async def test_stream_tracks_last_event_id(server, client) -> None:
    server.script(Reply.sse([sse_frame(E1), sse_frame({"event_type": "ping"}), sse_frame(E2)]))
    async with client.stream_create({}) as events:
        seen = [(event["event_type"], events.last_event_id) async for event in events]
    assert seen == [("step.delta", "e1"), ("ping", "e1"), ("step.delta", "e2")]


@pytest.mark.parametrize(
    ("call", "query"),
    [
        ({}, "stream=false"),
        ({"include_input": True}, "include_input=true&stream=false"),
    ],
)
async def test_get_query_string(server, client, call, query) -> None:
    server.script(Reply.json(INTERACTION))
    assert await client.get("v1_x", **call) == INTERACTION
    [request] = server.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/v1beta/interactions/v1_x",
        query,
    )
    assert request.headers["content-type"] == "application/json"
    assert request.body == b""


@pytest.mark.parametrize(
    ("last_event_id", "query"),
    [("e3", "last_event_id=e3&stream=true"), (None, "stream=true")],
)
async def test_stream_get_query_string(server, client, last_event_id, query) -> None:
    server.script(Reply.sse([sse_frame(E1)]))
    async with client.stream_get("v1_x", last_event_id=last_event_id) as events:
        assert await collect(events) == [E1]
    [request] = server.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/v1beta/interactions/v1_x",
        query,
    )
    assert request.headers["accept"] == "text/event-stream"


async def test_resumed_stream_starts_from_the_given_event_id(server, client) -> None:
    server.script(Reply.sse([b": nothing new yet\n\n"]))
    async with client.stream_get("v1_x", last_event_id="e3") as events:
        assert await collect(events) == []
        assert events.last_event_id == "e3"


async def test_interaction_ids_are_escaped(server, client) -> None:
    server.script(Reply.json(INTERACTION))
    await client.get("a/../b?c")
    assert server.requests[0].raw_path == "/v1beta/interactions/a%2F..%2Fb%3Fc"


async def test_cancel_posts_an_empty_body(server, client) -> None:
    server.script(Reply.json({**INTERACTION, "status": "cancelled"}))
    assert (await client.cancel("v1_x"))["status"] == "cancelled"
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1beta/interactions/v1_x/cancel")
    assert request.body == b""
    assert request.headers["content-length"] == "0"


async def test_delete_returns_none(server, client) -> None:
    server.script(Reply.json({}))
    assert await client.delete("v1_x") is None
    [request] = server.requests
    assert (request.method, request.path) == ("DELETE", "/v1beta/interactions/v1_x")


async def test_delete_ignores_any_reply_body(server, client) -> None:
    server.script(Reply(200, {"content-type": "text/plain"}, b"whatever"))
    assert await client.delete("v1_x") is None


# -- errors -----------------------------------------------------------------------------------


async def test_not_found_keeps_the_upstream_message(server, client) -> None:
    server.script(Reply.error(404, "Interaction v1_x not found", "NOT_FOUND"))
    with pytest.raises(NotFoundError) as caught:
        await client.get("v1_x")
    error = caught.value
    assert error.status_code == 404
    assert error.message == "Interaction v1_x not found"
    assert error.upstream_status == "NOT_FOUND"
    assert error.body == {
        "error": {"code": 404, "message": "Interaction v1_x not found", "status": "NOT_FOUND"}
    }
    assert error.retry_after is None
    assert str(error) == "404 NOT_FOUND: Interaction v1_x not found"
    assert len(server.requests) == 1  # 404 is not retried


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
        (201, APIStatusError),
    ],
)
async def test_status_to_class(server, make_client, status, cls) -> None:
    server.script(Reply.error(status, "nope", "SOME_STATUS"))
    with pytest.raises(APIStatusError) as caught:
        await make_client(max_retries=0).create({})
    assert type(caught.value) is cls
    assert caught.value.status_code == status


async def test_error_without_json_body_reads_well(server, make_client) -> None:
    server.script(Reply(502, {"content-type": "text/html"}, b"<html>  Bad\n gateway </html>"))
    with pytest.raises(InternalServerError) as caught:
        await make_client(max_retries=0).create({})
    assert caught.value.body == "<html>  Bad\n gateway </html>"
    assert caught.value.upstream_status is None
    assert str(caught.value) == "502 Bad Gateway: <html> Bad gateway </html>"


async def test_a_200_that_is_not_a_json_object_is_an_error(server, client) -> None:
    server.script(Reply(200, {"content-type": "text/plain"}, b"hello"))
    with pytest.raises(APIStatusError, match="not a JSON object") as caught:
        await client.create({})
    assert caught.value.status_code == 200
    assert len(server.requests) == 1


async def test_stream_errors_raise_when_entering(server, client) -> None:
    server.script(Reply.error(400, "bad model", "INVALID_ARGUMENT"))
    with pytest.raises(BadRequestError, match="400 INVALID_ARGUMENT: bad model"):
        async with client.stream_create({}):
            pytest.fail("the stream must not open")


async def test_api_key_never_appears_in_errors(server, make_client) -> None:
    server.script(Reply.error(400, f"API key {API_KEY} not valid", "INVALID_ARGUMENT"))
    client = make_client(max_retries=0)
    with pytest.raises(BadRequestError) as caught:
        await client.create({})
    texts = [str(caught.value), repr(caught.value), caught.value.message]
    texts += [json.dumps(caught.value.body), repr(client)]
    assert "API key [redacted] not valid" in caught.value.message
    for text in texts:
        assert API_KEY not in text


# -- retries ----------------------------------------------------------------------------------


async def test_429_retry_after_is_honoured(server, client, sleeps) -> None:
    server.script(
        Reply.error(429, "Quota exceeded", "RESOURCE_EXHAUSTED", Retry_After="0"),
        Reply.json(INTERACTION),
    )
    assert await client.create({}) == INTERACTION
    assert len(server.requests) == 2
    assert sleeps.delays == [0.0]


async def test_retry_after_ms_and_the_cap(server, client, sleeps) -> None:
    server.script(
        Reply.error(429, "slow down", "RESOURCE_EXHAUSTED", retry_after_ms="1500"),
        Reply.error(503, "busy", "UNAVAILABLE", Retry_After="3600"),
        Reply.json(INTERACTION),
    )
    assert await client.create({}) == INTERACTION
    assert sleeps.delays == [1.5, MAX_RETRY_AFTER]


async def test_each_retry_is_reported_with_its_wait_and_error_before_the_wait(
    server, make_client, sleeps
) -> None:
    reported: list[tuple[float, int, int]] = []
    client = make_client(
        on_retry=lambda delay, error: reported.append(
            (delay, error.status_code, len(sleeps.delays))
        )
    )
    server.script(
        Reply.error(503, "busy", "UNAVAILABLE", Retry_After="3"),
        Reply.error(429, "slow down", "RESOURCE_EXHAUSTED", Retry_After="2"),
        Reply.json(INTERACTION),
    )
    assert await client.create({}) == INTERACTION
    assert reported == [(3.0, 503, 0), (2.0, 429, 1)]  # told before each wait, not after


async def test_rate_limit_error_carries_retry_after(server, make_client) -> None:
    server.script(Reply.error(429, "Quota exceeded", "RESOURCE_EXHAUSTED", Retry_After="7"))
    with pytest.raises(RateLimitError) as caught:
        await make_client(max_retries=0).create({})
    assert caught.value.retry_after == 7.0
    assert str(caught.value) == "429 RESOURCE_EXHAUSTED: Quota exceeded"


async def test_503_twice_then_success_with_jittered_backoff(server, client, sleeps) -> None:
    server.script(
        Reply.error(503, "busy", "UNAVAILABLE"),
        Reply.error(503, "busy", "UNAVAILABLE"),
        Reply.json(INTERACTION),
    )
    assert await client.create({}) == INTERACTION
    assert len(server.requests) == 3
    first, second = sleeps.delays
    assert 0.375 <= first <= 0.5  # 0.5 * 2**0, minus up to 25 %
    assert 0.75 <= second <= 1.0  # 0.5 * 2**1


async def test_backoff_is_capped(server, make_client, sleeps) -> None:
    server.script(*[Reply.error(500, "x", "INTERNAL")] * 3, Reply.json(INTERACTION))
    await make_client(max_retries=3, backoff_base=4.0, backoff_max=5.0).create({})
    assert 3.0 <= sleeps.delays[0] <= 4.0
    assert all(3.75 <= delay <= 5.0 for delay in sleeps.delays[1:])


async def test_500_beyond_max_retries_raises(server, client, sleeps) -> None:
    server.script(*[Reply.error(500, "boom", "INTERNAL")] * 3)
    with pytest.raises(InternalServerError, match="500 INTERNAL: boom"):
        await client.create({})
    assert len(server.requests) == 3  # the first try and max_retries=2 retries
    assert len(sleeps.delays) == 2


async def test_stream_is_retried_before_it_opens(server, client, sleeps) -> None:
    server.script(Reply.error(503, "busy", "UNAVAILABLE"), Reply.sse([sse_frame(E1)]))
    async with client.stream_create({}) as events:
        assert await collect(events) == [E1]
    assert len(server.requests) == 2
    assert len(sleeps.delays) == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused_after_retries(make_client, sleeps) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{_closed_port()}/v1beta")
    with pytest.raises(APIConnectionError) as caught:
        await client.create({})
    assert not isinstance(caught.value, APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(sleeps.delays) == 2
    assert API_KEY not in str(caught.value)


async def test_read_timeout_is_retried_then_raised(server, make_client, sleeps) -> None:
    slow = dataclasses.replace(Reply.json(INTERACTION), delay=3.0)
    server.script(slow, slow)
    client = make_client(timeout=0.2, max_retries=1)
    with pytest.raises(APITimeoutError, match="timed out"):
        await client.get("v1_x")
    assert len(server.requests) == 2
    assert len(sleeps.delays) == 1


# -- streams after they opened ----------------------------------------------------------------


async def test_broken_stream_raises_and_is_not_retried(server, client, sleeps) -> None:
    server.script(Reply.sse([sse_frame(E1), sse_frame(E2), b'data: {"event_ty'], abort=True))
    seen = []
    async with client.stream_create({}) as events:
        with pytest.raises(APIConnectionError, match="after event e2") as caught:
            async for event in events:
                seen.append(event)
        assert events.last_event_id == "e2"
    assert not isinstance(caught.value, APITimeoutError)
    assert seen == [E1, E2]
    assert len(server.requests) == 1
    assert sleeps.delays == []


async def test_stalled_stream_times_out(server, make_client) -> None:
    server.script(Reply.sse([sse_frame(E1), 5.0, sse_frame(E2)]))
    seen = []
    async with make_client(timeout=0.3).stream_create({}) as events:
        with pytest.raises(APITimeoutError):
            async for event in events:
                seen.append(event)
        assert events.last_event_id == "e1"
    assert seen == [E1]
    assert len(server.requests) == 1


async def test_a_stream_stalled_before_its_first_event_times_out(server, make_client) -> None:
    # The headers came at once; then nothing. The read timeout covers the body, not just headers.
    server.script(Reply.sse([b": opened\n\n", 30.0, sse_frame(E1)]))
    started = time.monotonic()
    async with make_client(timeout=0.3).stream_create({}) as events:
        with pytest.raises(APITimeoutError, match="stalled before any event"):
            await collect(events)
    assert time.monotonic() - started < 10.0  # the stall is 30 s
    assert await asyncio.to_thread(server.requests[0].wait_disconnected)


async def test_a_slow_reader_is_not_a_stalled_stream(server, make_client) -> None:
    # The read timeout counts only while the reader waits for bytes, as httpx's did: a consumer
    # busy for longer than it between two events does not time the stream out.
    server.script(Reply.sse([sse_frame(E1), sse_frame(E2), 0.1, sse_frame(E3)]))
    seen = []
    async with make_client(timeout=0.3).stream_create({}) as events:
        async for event in events:
            seen.append(event)
            await asyncio.sleep(0.5)
    assert seen == [E1, E2, E3]


async def test_a_stall_timeout_does_not_leak_into_the_reading_task(server, make_client) -> None:
    # The stall is reported by cancelling the waiting task once; after the error the same task
    # goes on awaiting other things without being cancelled again.
    server.script(Reply.sse([sse_frame(E1), 5.0, sse_frame(E2)]))
    async with make_client(timeout=0.2).stream_create({}) as events:
        with pytest.raises(APITimeoutError):
            await collect(events)
    await asyncio.sleep(0.3)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_keep_alive_comments_hold_a_stream_open(server, make_client) -> None:
    chunks: list[bytes | float] = [sse_frame(E1)]
    for _ in range(4):
        chunks += [0.15, b": keep-alive\n\n"]
    chunks.append(sse_frame(E2))
    server.script(Reply.sse(chunks))
    async with make_client(timeout=0.4).stream_create({}) as events:
        assert await collect(events) == [E1, E2]


async def test_leaving_the_block_closes_the_connection_at_once(server, client) -> None:
    server.script(Reply.sse([sse_frame(E1), 30.0, sse_frame(E2)]))
    started = time.monotonic()
    async with client.stream_create({}) as events:
        async for _event in events:
            break
    assert time.monotonic() - started < 10.0  # the next event is 30 s away
    assert events.closed
    assert await asyncio.to_thread(server.requests[0].wait_disconnected)


async def test_aclose_from_another_task_ends_the_iteration(server, client) -> None:
    server.script(Reply.sse([sse_frame(E1), 30.0, sse_frame(E2)]))
    async with client.stream_create({}) as events:
        first = await anext(events)
        reader = asyncio.create_task(collect(events))
        await asyncio.sleep(0.1)  # the reader is now waiting for bytes
        await events.aclose()
        assert await asyncio.wait_for(reader, 2.0) == []
    assert first == E1
    assert await asyncio.to_thread(server.requests[0].wait_disconnected)


async def test_cancelling_the_reader_closes_the_connection(server, client) -> None:
    server.script(Reply.sse([sse_frame(E1), 30.0, sse_frame(E2)]))

    async def consume() -> None:
        async with client.stream_create({}) as events:
            await collect(events)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.requests[0].wait_disconnected)


async def test_error_events_are_yielded(server, client) -> None:
    error = {"event_type": "error", "error": {"code": "resource_exhausted", "message": "Quota"}}
    server.script(Reply.sse([sse_frame(E1), sse_frame(error)]))
    async with client.stream_create({}) as events:
        assert await collect(events) == [E1, error]
    exc = StreamError.from_event(error)
    assert (exc.code, exc.message, exc.event) == ("resource_exhausted", "Quota", error)
    assert str(exc) == "stream error resource_exhausted: Quota"


async def test_json_reply_to_a_stream_becomes_one_completed_event(server, client) -> None:
    server.script(Reply.json(INTERACTION))
    async with client.stream_create({}) as events:
        assert await collect(events) == [
            {"event_type": "interaction.completed", "interaction": INTERACTION}
        ]


async def test_other_content_types_for_a_stream_are_errors(server, client) -> None:
    server.script(Reply(200, {"content-type": "text/html"}, b"<html></html>"))
    with pytest.raises(APIStatusError, match="expected text/event-stream, got text/html"):
        async with client.stream_create({}):
            pytest.fail("the stream must not open")
    assert len(server.requests) == 1


async def test_supplied_http_client_is_left_open(server, make_client) -> None:
    async with httpx.AsyncClient() as http:
        client = make_client(http_client=http)
        server.script(Reply.json(INTERACTION))
        assert await client.get("v1_x") == INTERACTION
        await client.aclose()
        assert not http.is_closed
