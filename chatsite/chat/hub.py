"""The per-process switchboard between turn runners and the sockets watching them.

Runners publish *frames* for a conversation; the hub hands each frame to every local subscriber's
outbound queue. Nothing here touches the database or the channel layer per delta:

- text deltas are coalesced by an `Outbox` (leading edge at once, then at most one frame per
  `STREAM_FLUSH_MS`), so a fast upstream costs a few frames, not one per token;
- a socket subscribes when it connects; a tab that catches up then gets a snapshot taken right
  after the runner's outbox is flushed, and the snapshot replaces the whole assistant part, so
  no text is lost or doubled (everything here runs on one event-loop thread).

Frames are strings: HTML fragments with `hx-swap-oob` (htmx swaps them), a JSON object for
status changes, or one of the short live-text frames below (static/chatsite/chat.js applies
those; text is added as text, never parsed as HTML):

- `+<target>\n<text>`: append text to the element with that id; `~<text>`: append to the same
  element as the text frame just before it on this socket (each Subscriber drops the id when
  it repeats);
- `=<target> <n>\n<html>`: block n of that live answer is this server-rendered, sanitised HTML;
- `.<target>`: the answer ended and what the tab shows is its final form (no second copy).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from .runner import TurnRunner

log = logging.getLogger(__name__)


class Subscriber:
    """One open socket: frames queue here and go out in order. A writer task and its queue
    exist only while there is something to send, so an idle socket costs neither (an empty
    deque holds a 64-slot block: ~760 bytes of every idle socket)."""

    # A tab that cannot keep up is closed and reconnects with a fresh snapshot, rather than
    # making the runner wait or letting memory grow without bound: past MAX_QUEUED frames, or
    # past WS_MAX_BUFFER_BYTES waiting here and in the connection's own send buffer (`backlog`;
    # chatsite/security/daphne_guard.py applies the same limit to every send, hub or not).
    MAX_QUEUED = 2000

    __slots__ = (
        "_send", "_on_overflow", "_queue", "_queued_chars", "_writer", "_backlog",
        "overflowed", "closed", "floors", "_target", "_max_bytes",
    )  # fmt: skip

    def __init__(
        self,
        send: Callable,
        on_overflow: Callable,
        backlog: Callable[[int | None], int] | None = None,
    ):
        self._send = send
        self._on_overflow = on_overflow
        # backlog(within): the connection's unsent bytes; exact only when more than `within`
        # (chat/backlog.py: below that it may be an upper bound kept without a system call).
        self._backlog = backlog or (lambda within: 0)
        self._max_bytes = settings.WS_MAX_BUFFER_BYTES
        self._queue: deque[str] | None = None
        self._queued_chars = 0
        self._writer: asyncio.Task | None = None
        self.overflowed = False
        self.closed = False
        # turn id → the sequence number of a snapshot this tab got from another process:
        # relayed frames up to it are already in the snapshot.
        self.floors: dict[int, int] = {}
        self._target = ""  # the element this socket's last text frame went to

    def pending(self, within: int | None = None) -> int:
        """Bytes (about: characters queued here) not yet taken by the peer; exact when more
        than `within`."""
        room = None if within is None else within - self._queued_chars
        return self._queued_chars + self._backlog(room)

    def put(self, frame: str) -> None:
        if self.overflowed or self.closed:
            return
        pending = self.pending(within=self._max_bytes - len(frame))
        # The frame is counted too, so what waits never passes the limit (one frame larger than
        # the limit still goes to a socket that has nothing waiting).
        if self._queue is None:
            self._queue = deque()
        if len(self._queue) >= self.MAX_QUEUED or (
            pending and pending + len(frame) > self._max_bytes
        ):
            self._overflow()
            return
        if frame.startswith("+"):
            frame = self._short(frame)
        else:
            self._target = ""  # after any other frame the next text frame names its element
        self._queue.append(frame)
        self._queued_chars += len(frame)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    def _short(self, frame: str) -> str:
        """A text frame right after one for the same element loses its id: frames reach the
        tab in this order, so it knows which element that is."""
        target, _, text = frame[1:].partition("\n")
        if target == self._target:
            return "~" + text
        self._target = target
        return frame

    def _overflow(self) -> None:
        log.info("a socket fell behind (%d bytes unsent)", self.pending())
        self.overflowed = True
        self._queue = None
        self._queued_chars = 0
        self._on_overflow()

    async def _drain(self) -> None:
        try:
            while self._queue and not self.closed:
                frame = self._queue.popleft()
                self._queued_chars -= len(frame)
                try:
                    await self._send(frame)
                except Exception:  # the socket went away; the consumer's disconnect cleans up
                    log.debug("dropping frames for a closed socket", exc_info=True)
                    self._queue = None
                    self._queued_chars = 0
                if self._backlog(self._max_bytes) > self._max_bytes and not self.overflowed:
                    self._overflow()  # the peer is not reading
        finally:
            self._writer = None
            if not self._queue:
                self._queue = None

    def close(self) -> None:
        self.closed = True
        self._queue = None
        self._queued_chars = 0


def text_frame(target: str, text: str) -> str:
    return f"+{target}\n{text}"


def parse_text_frame(frame: str, last_target: str = "") -> tuple[str, str] | None:
    """(target, text) of a text frame, or None; `last_target` is the one a `~` frame means."""
    if frame.startswith("+"):
        target, _, text = frame[1:].partition("\n")
        return target, text
    if frame.startswith("~"):
        return last_target, frame[1:]
    return None


def block_frame(target: str, index: int, html: str) -> str:
    return f"={target} {index}\n{html}"


def end_frame(target: str) -> str:
    return f".{target}"


@dataclass
class Outbox:
    """Coalesces one runner's output into few frames, preserving order."""

    deliver: Callable[[list[str]], None]
    interval: float
    _items: list = field(default_factory=list)  # ("html", str) | ("text", target, str)
    _last_flush: float = 0.0
    delivered: int = 0  # flushes so far: the runner yields after each, so tabs get it now
    _timer: asyncio.TimerHandle | None = None

    def html(self, fragment: str) -> None:
        self._items.append(("html", fragment))
        self.flush(text_window=False)  # shells, final forms and status go out at once

    def frame(self, *frames: str) -> None:
        """Frames sent as they are (block_frame, end_frame, HTML): in order, at once."""
        self._items.extend(("frame", frame) for frame in frames)
        self.flush(text_window=False)

    def json(self, payload: dict) -> None:
        self._items.append(("json", payload))
        self.flush(text_window=False)

    def text(self, target: str, text: str) -> None:
        if not text:
            return
        last = self._items[-1] if self._items else None
        if last and last[0] == "text" and last[1] == target:
            self._items[-1] = ("text", target, last[2] + text)
        else:
            self._items.append(("text", target, text))
        self._schedule()

    def _schedule(self) -> None:
        """Text goes out at once when none went out in the last interval, else with the next
        tick: a fast upstream costs a few frames, a slow one no waiting."""
        if self._timer is not None:
            return
        wait = self._last_flush + self.interval - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self, *, text_window: bool = True) -> None:
        """Send everything queued, in order. Only text opens the coalescing window."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._items:
            return
        items, self._items = self._items, []
        if text_window and any(item[0] == "text" for item in items):
            self._last_flush = time.monotonic()
        frames: list[str] = []
        html: list[str] = []
        for item in items:
            if item[0] == "html":
                html.append(item[1])
                continue
            if html:
                frames.append("".join(html))
                html = []
            if item[0] == "text":
                frames.append(text_frame(item[1], item[2]))
            elif item[0] == "frame":
                frames.append(item[1])
            else:
                frames.append(json.dumps(item[1], separators=(",", ":")))
        if html:
            frames.append("".join(html))
        self.delivered += 1
        self.deliver(frames)


class Hub:
    """Local runners by turn id and local subscribers by conversation id; the relay carries
    the same traffic to and from other processes when there are any."""

    def __init__(self):
        from .relay import Relay

        self.runners: dict[int, TurnRunner] = {}
        self.subscribers: dict[int, set[Subscriber]] = {}
        # person id → their sockets open in this process (person_events.py)
        self.people: dict[int, set] = {}
        self.relay = Relay(self)

    # -- runners ---------------------------------------------------------------------------
    def add_runner(self, turn_id: int, runner) -> None:
        self.runners[turn_id] = runner

    def remove_runner(self, turn_id: int) -> None:
        self.runners.pop(turn_id, None)

    def runner(self, turn_id: int):
        return self.runners.get(turn_id)

    def runners_for(self, conversation_id: int) -> list:
        return [r for r in self.runners.values() if r.conversation_id == conversation_id]

    # -- people ----------------------------------------------------------------------------
    def join_person(self, user_id: int, socket) -> None:
        self.people.setdefault(user_id, set()).add(socket)

    def leave_person(self, user_id: int, socket) -> None:
        sockets = self.people.get(user_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.people[user_id]

    def tell_person(self, user_id, event: dict) -> None:
        """An event for each of this person's sockets here (`socket.person_event`)."""
        for socket in list(self.people.get(user_id, ())):
            socket.person_event(event)

    # -- subscribers -----------------------------------------------------------------------
    def publish(self, conversation_id: int, frames: list[str], turn_id=None, seq=None) -> None:
        for sub in self.subscribers.get(conversation_id, ()):
            for frame in frames:
                sub.put(frame)
        self.relay.enqueue(conversation_id, frames, turn_id, seq)

    def deliver_relayed(self, conversation_id: int, frames: list[str], turn_id, seq) -> None:
        for sub in self.subscribers.get(conversation_id, ()):
            if turn_id is not None and seq is not None and seq <= sub.floors.get(turn_id, -1):
                continue
            for frame in frames:
                sub.put(frame)

    def join(self, conversation_id: int, sub: Subscriber) -> None:
        first = conversation_id not in self.subscribers
        self.subscribers.setdefault(conversation_id, set()).add(sub)
        if first:
            self.relay.local_watch(conversation_id, True)

    def leave(self, conversation_id: int, sub: Subscriber) -> None:
        subs = self.subscribers.get(conversation_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subscribers[conversation_id]
                self.relay.local_watch(conversation_id, False)
        sub.close()

    def watched(self) -> list[int]:
        """The conversations that tabs of this process show."""
        return list(self.subscribers)


hub = Hub()
