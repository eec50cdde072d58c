"""Server-sent events of the Interactions API → event dicts (interactions-api.md §6).

Line and field framing is httpx-sse's (its decoder already accepts `\\r`, `\\n` and `\\r\\n` line
ends in any blank-line combination, skips `:` comments and joins several `data:` lines with `\\n`).
On top of it, the rules the SDK applies:

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

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_sse import EventSource

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


async def iter_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Yield the event dicts of an open `text/event-stream` response until `[DONE]` or EOF.

    Transport errors (httpx exceptions) propagate unchanged; the caller maps them. The response
    is not closed here: its owner does that.
    """
    response.encoding = "utf-8-sig"
    events = EventSource(response).aiter_sse()
    try:
        async for sse in events:
            if not sse.data:
                continue
            if sse.data == DONE_SENTINEL:
                return
            yield decode_data(sse.data)
    finally:
        await events.aclose()
