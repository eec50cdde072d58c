"""Small helpers the tests share (fixtures live in conftest.py)."""

import asyncio
import html
import json
import re

from chatsite.chat.hub import parse_text_frame
from chatsite.chat.models import Conversation, Turn

STREAM_TEXT = re.compile(r'<div class="md stream-text" id="(st-[\d-]+)"[^>]*>(.*?)</div>', re.S)


async def make_conversation(user, title="Test") -> Conversation:
    return await Conversation.objects.acreate(owner=user, title=title, model="gemini-3.5-flash")


async def wait_for_turn(turn_id, *, final=True, timeout=15.0) -> Turn:
    """Poll the database until the turn is final (the runner writes it at the end)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        turn = await Turn.objects.aget(pk=turn_id)
        if turn.is_final or not final:
            return turn
        if loop.time() > deadline:
            raise AssertionError(f"turn {turn_id} still {turn.status} after {timeout}s")
        await asyncio.sleep(0.02)


def model_text(steps) -> str:
    return "".join(
        block.get("text", "")
        for step in steps
        if step.get("type") == "model_output"
        for block in step.get("content", [])
        if block.get("type") == "text"
    )


def is_delta(frame: str) -> bool:
    """A live-text frame (`+target\ntext`, or `~text` for the socket's last target)."""
    return frame[:1] in ("+", "~")


def delta_frames(frames):
    """Each text frame as [[target, text]], as a tab reads them in order."""
    out, last = [], ""
    for frame in frames:
        parsed = parse_text_frame(frame, last)
        if parsed is not None:
            last = parsed[0]
            out.append([list(parsed)])
    return out


def added_turn_id(frame: str) -> int | None:
    """The id of the turn a frame adds: `{"turn": [id, …]}` (words only) or its HTML."""
    if frame.startswith('{"turn"'):
        return json.loads(frame)["turn"][0]
    found = re.search(r'beforeend:#transcript">\s*<article [^>]*data-turn-id="(\d+)"', frame)
    return int(found.group(1)) if found else None


def turns_in(page: str) -> int:
    """Turns drawn in a page or fragment; turn 0 is the page's new-turn template."""
    return len(re.findall(r'<article class="turn"[^>]*data-turn-id="[1-9]', page))


def is_status(frame, status) -> bool:
    return frame.startswith('{"status"') and json.loads(frame)["status"][1] == status


class PageText:
    """What a browser tab shows in the live text elements, built from the frames it received:
    a snapshot sets an element's text, a delta appends to it."""

    def __init__(self):
        self.text: dict[str, str] = {}
        self.last = ""

    def apply(self, frame: str) -> None:
        if (parsed := parse_text_frame(frame, self.last)) is not None:
            self.last, text = parsed
            self.text[self.last] = self.text.get(self.last, "") + text
        elif frame[:1] in ("<", "\n"):
            for target, text in STREAM_TEXT.findall(frame):
                self.text[target] = html.unescape(text)
