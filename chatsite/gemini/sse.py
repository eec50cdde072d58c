"""Server-sent events of the Interactions API → event dicts (interactions-api.md §6).

Line and field framing is httpx-sse's (its decoders already accept `\\r`, `\\n` and `\\r\\n` line
ends in any blank-line combination, skip `:` comments and join several `data:` lines with `\\n`).
They are fed straight from the response's byte chunks, in one generator: httpx-sse's own
`aiter_sse` stacks four async generators per chunk, which under hundreds of concurrent streams
was a real share of a process's CPU. On top of it, the rules the SDK applies:

- the body is decoded as UTF-8 whatever the Content-Type says, and a BOM at the very start is
  dropped (httpx-sse does not strip it; the `utf-8-sig` codec does, even when the BOM is split
  across network chunks);
- events without data are skipped (an empty `data:` line counts as none); `data: [DONE]` ends
  the stream;
- the data is parsed as JSON, and the `event_type` field inside it decides the type (the SSE
  `event:` and `id:` lines are ignored; resume ids travel in the JSON as `event_id`);
- data that is not a JSON object is passed through as `{"event_type": "_raw", "data": <text>}`.

Known difference from the SDK: an event still unterminated (no blank line) when the body ends is
dropped, as the WHATWG SSE spec says; the SDK would deliver it.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

__all__ = ["DONE_SENTINEL", "RAW_EVENT_TYPE", "decode_data", "iter_events"]

RAW_EVENT_TYPE = "_raw"
DONE_SENTINEL = "[DONE]"


def decode_data(data: str) -> dict[str, Any]:
    """One event's data → the event dict (a JSON object), or a `_raw` wrapper around the text."""
    try:
        value = json.loads(data)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    return {"event_type": RAW_EVENT_TYPE, "data": data}


async def iter_events(
    response: httpx.Response, on_bytes: Callable[[], None] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Yield the event dicts of an open `text/event-stream` response until `[DONE]` or EOF.

    `on_bytes` is called for every chunk received (keep-alive comments included), so a caller
    can tell a stalled stream from a quiet one. Transport errors (httpx exceptions) propagate
    unchanged; the caller maps them. The response is not closed here: its owner does that.
    """
    text = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    lines = SSELineDecoder()
    sse = SSEDecoder()
    async for chunk in response.aiter_bytes():
        if on_bytes is not None:
            on_bytes()
        for data in _data(sse, lines.decode(text.decode(chunk))):
            if data == DONE_SENTINEL:
                return
            yield decode_data(data)
    for data in _data(sse, lines.decode(text.decode(b"", final=True)) + lines.flush()):
        if data == DONE_SENTINEL:
            return
        yield decode_data(data)


def _data(sse: SSEDecoder, lines: list[str]) -> Iterator[str]:
    """The data of each event these lines complete, skipping events without any. A plain
    generator: it adds no async frame per chunk."""
    for line in lines:
        event = sse.decode(line)
        if event is not None and event.data:
            yield event.data
