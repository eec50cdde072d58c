"""SSE framing → event dicts (interactions-api.md §6)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable

import httpx
import pytest

from chatsite.gemini.sse import RAW_EVENT_TYPE, decode_data, iter_events

from .conftest import seed_events, seed_stream_bytes

A = {"event_type": "step.delta", "index": 1, "delta": {"type": "text", "text": "héllo 🌍"}}
B = {"event_type": "step.stop", "index": 1}
A_JSON = json.dumps(A, ensure_ascii=False)
B_JSON = json.dumps(B)


async def parse(chunks: Iterable[bytes], content_type: str = "text/event-stream") -> list[dict]:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    response = httpx.Response(200, headers={"content-type": content_type}, content=body())
    return [event async for event in iter_events(response)]


async def test_seed_example_stream() -> None:
    assert await parse([seed_stream_bytes()]) == seed_events()


@pytest.mark.parametrize(
    "boundary",
    ["\n\n", "\r\n\r\n", "\r\r", "\n\r\n", "\r\n\n", "\r\r\n", "\n\r", "\r\n\r"],
    ids=repr,
)
async def test_every_blank_line_form_ends_an_event(boundary: str) -> None:
    text = f"event: x\ndata: {A_JSON}{boundary}data: {B_JSON}{boundary}"
    assert await parse([text.encode()]) == [A, B]


async def test_mixed_line_endings_inside_one_stream() -> None:
    text = f"event: a\rdata: {A_JSON}\r\n\ndata: {B_JSON}\n\r\n: bye\r"
    assert await parse([text.encode()]) == [A, B]


async def test_any_chunk_split_gives_the_same_events() -> None:
    # A BOM, multi-byte characters and \r\n boundaries: every split point is tried, including
    # inside the BOM, inside "é" and "🌍", and between "\r" and "\n".
    raw = b"\xef\xbb\xbf" + f"data: {A_JSON}\r\n\r\n: ping\r\ndata: {B_JSON}\r\n\r\n".encode()
    for cut in range(len(raw) + 1):
        assert await parse([raw[:cut], raw[cut:]]) == [A, B], cut


async def test_one_byte_chunks() -> None:
    raw = seed_stream_bytes()
    assert await parse([raw[i : i + 1] for i in range(len(raw))]) == seed_events()


async def test_comments_and_keep_alives_are_ignored() -> None:
    text = f": keep-alive\n\n:\n\ndata: {A_JSON}\n: inside an event\n\n:ping\n\ndata: {B_JSON}\n\n"
    assert await parse([text.encode()]) == [A, B]


async def test_multiple_data_lines_are_joined_with_newlines() -> None:
    text = 'data: {"event_type": "x",\ndata: "n": 1}\n\ndata: line one\ndata: line two\n\n'
    assert await parse([text.encode()]) == [
        {"event_type": "x", "n": 1},
        {"event_type": RAW_EVENT_TYPE, "data": "line one\nline two"},
    ]


async def test_leading_bom_is_stripped_and_later_ones_kept() -> None:
    inner = {"event_type": "x", "text": "\ufeffkept"}
    raw = b"\xef\xbb\xbf" + f"data: {json.dumps(inner)}\n\n".encode()
    assert await parse([raw]) == [inner]


async def test_body_is_utf8_even_if_the_charset_says_otherwise() -> None:
    raw = f"data: {A_JSON}\n\n".encode()
    assert await parse([raw], "text/event-stream; charset=iso-8859-1") == [A]


async def test_done_ends_the_stream_without_reading_further() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield f"data: {A_JSON}\n\ndata: [DONE]\n\ndata: {B_JSON}\n\n".encode()
        raise AssertionError("read past [DONE]")

    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())
    assert [event async for event in iter_events(response)] == [A]


async def test_non_json_and_non_object_data_pass_through_raw() -> None:
    text = 'data: not json\n\ndata: 42\n\ndata: [1, 2]\n\ndata: "s"\n\n'
    assert await parse([text.encode()]) == [
        {"event_type": RAW_EVENT_TYPE, "data": "not json"},
        {"event_type": RAW_EVENT_TYPE, "data": "42"},
        {"event_type": RAW_EVENT_TYPE, "data": "[1, 2]"},
        {"event_type": RAW_EVENT_TYPE, "data": '"s"'},
    ]


async def test_events_without_data_are_skipped() -> None:
    text = f"event: ping\n\nid: 7\n\nretry: 100\n\ndata:\n\nevent: x\ndata: {A_JSON}\n\n"
    assert await parse([text.encode()]) == [A]


async def test_event_type_comes_from_the_json_not_the_event_line() -> None:
    text = f"event: step.stop\nid: sse-id\ndata: {A_JSON}\n\n"
    events = await parse([text.encode()])
    assert events == [A]
    assert "event_id" not in events[0]


async def test_field_value_spacing() -> None:
    text = 'data:{"event_type":"x","v":1}\n\ndata:  \n\n'
    assert await parse([text.encode()]) == [
        {"event_type": "x", "v": 1},
        {"event_type": RAW_EVENT_TYPE, "data": " "},
    ]


async def test_unterminated_final_event_is_dropped() -> None:
    # WHATWG: an event still open at EOF is discarded (the SDK would deliver it).
    text = f"data: {A_JSON}\n\ndata: {B_JSON}\n"
    assert await parse([text.encode()]) == [A]


def test_decode_data() -> None:
    assert decode_data('{"event_type": "x"}') == {"event_type": "x"}
    assert decode_data("{") == {"event_type": RAW_EVENT_TYPE, "data": "{"}
