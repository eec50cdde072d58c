"""The bench's clients: a browser-tab-like websocket client of the app, a direct SSE client of the
emulator, and readers that turn what they received into (time, characters so far) marks.

Hot paths only store (receive time, raw payload); parsing happens after a run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import itertools
import json
import os
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.typing import Origin

from chatsite.chat.hub import parse_text_frame

API_KEY_HEADER = {"x-goog-api-key": "bench-key"}
MODEL = "gemini-3.5-flash"
STREAM_TEXT = re.compile(r'<div class="md stream-text" id="(st-[\d-]+)"[^>]*>(.*?)</div>', re.S)
TURN_ID = re.compile(r'data-turn-id="(\d+)"')


# -- websocket: one tab of the app ----------------------------------------------------------------


class Tab:
    """One socket on one conversation. A reader task keeps every frame with its receive time."""

    def __init__(self, ws, conversation_id: int):
        self.ws = ws
        self.conversation_id = conversation_id
        self.frames: list[tuple[float, str]] = []
        self._new = asyncio.Event()
        self.closed_code: int | None = None
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, base_url: str, conversation_id: int, cookie: str) -> Tab:
        ws_url = base_url.replace("http://", "ws://") + f"/ws/c/{conversation_id}/"
        ws = await connect(
            ws_url,
            origin=Origin(base_url),
            additional_headers={"Cookie": cookie},
            compression=None,  # count payload bytes as sent; daphne does not deflate anyway
            proxy=None,
            ping_interval=None,
            max_size=None,
            max_queue=None,
            open_timeout=30,
        )
        return cls(ws, conversation_id)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                self.frames.append((time.monotonic(), message))
                self._new.set()
        except Exception:
            pass
        finally:
            self.closed_code = self.ws.close_code
            self._new.set()

    async def send(self, payload: dict) -> float:
        """Send a JSON action; returns the monotonic time just before the send."""
        t = time.monotonic()
        await self.ws.send(json.dumps(payload))
        return t

    async def wait_for(self, predicate, start: int = 0, timeout: float = 30.0) -> int:
        """Index of the first frame at or after `start` matching `predicate(frame_text)`."""
        deadline = time.monotonic() + timeout
        index = start
        while True:
            while index < len(self.frames):
                if predicate(self.frames[index][1]):
                    return index
                index += 1
            if self.closed_code is not None:
                raise ConnectionError(f"socket closed ({self.closed_code}) while waiting")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching frame in time")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


class StalledSocket:
    """A websocket client that opens, then never reads: a tiny receive buffer and no recv()
    until `drain()`, as a frozen tab on a stalled network would be."""

    def __init__(self, base_url: str, conversation_id: int, cookie: str):
        host, port = base_url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(30)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws/c/{conversation_id}/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Key: {key}\r\nOrigin: {base_url}\r\nCookie: {cookie}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"websocket refused: {head[:80]!r}")

    def send_text(self, text: str) -> None:
        """One masked text frame, as a browser sends it."""
        payload, mask = text.encode(), os.urandom(4)
        size = len(payload)
        head = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE]) + size.to_bytes(2)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def drain(self, timeout: float = 15.0) -> tuple[int, bool]:
        """Read what the kernel kept; (bytes, whether the server had closed the socket)."""
        self.sock.settimeout(timeout)
        received = 0
        try:
            while chunk := self.sock.recv(1 << 16):
                received += len(chunk)
        except ConnectionResetError:
            return received, True
        except TimeoutError:
            return received, False
        finally:
            self.sock.close()
        return received, True


def is_delta(frame: str) -> bool:
    """A live-text frame (chatsite/chat/hub.py): `+target\ntext`, or `~text` for the last one."""
    return frame[:1] in ("+", "~")


def status_of(frame: str) -> tuple[int, str] | None:
    if frame.startswith('{"status"'):
        turn_id, status = json.loads(frame)["status"]
        return turn_id, status
    return None


FINAL = {"completed", "incomplete", "failed", "cancelled", "budget_exceeded"}


def is_final_status(frame: str, turn_id: int | None = None) -> bool:
    found = status_of(frame)
    return bool(found and found[1] in FINAL and (turn_id is None or found[0] == turn_id))


def added_turn_id(frame: str) -> int | None:
    """The id of the turn a frame adds: `{"turn": [id, …]}` (words only) or its HTML."""
    if frame.startswith('{"turn"'):
        return json.loads(frame)["turn"][0]
    if "data-turn-id" not in frame or frame.startswith("{"):
        return None
    found = TURN_ID.search(frame)
    return int(found.group(1)) if found else None


@dataclass
class TabTurn:
    """What one tab received for one turn, replayed as a browser would apply it."""

    turn_id: int
    sent_at: float
    frames: list[tuple[float, str]]
    text: dict[str, str] = field(default_factory=dict)  # stream element id -> text shown
    marks: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # id -> (t, chars)

    def replay(self) -> TabTurn:
        last = ""
        for t, frame in self.frames:
            if (parsed := parse_text_frame(frame, last)) is not None:
                last, text = parsed
                self.text[last] = self.text.get(last, "") + text
                self.marks.setdefault(last, []).append((t, len(self.text[last])))
            elif frame[:1] in ("<", "\n"):  # HTML (chat.js hands anything else to htmx)
                for target, text in STREAM_TEXT.findall(frame):
                    self.text[target] = html.unescape(text)
                    self.marks.setdefault(target, []).append((t, len(self.text[target])))
        return self

    def first_delta_at(self) -> float | None:
        return next((t for t, frame in self.frames if is_delta(frame)), None)

    def payload_bytes(self) -> int:
        return sum(len(frame.encode()) for _, frame in self.frames)

    def wire_bytes(self) -> int:
        """Payload plus the server→client websocket frame header (unmasked)."""
        total = 0
        for _, frame in self.frames:
            n = len(frame.encode())
            total += n + (2 if n < 126 else 4 if n < 65536 else 10)
        return total

    def main_target(self) -> str | None:
        """The stream element holding the most text (the model_output step)."""
        return max(self.text, key=lambda k: len(self.text[k]), default=None)


_sent_ids = itertools.count(1)


async def run_turn(tab: Tab, message: str, timeout: float = 120.0) -> TabTurn:
    """Send a message as the page sends words (composer.js: the socket action with an id the
    server answers) and collect every frame up to the turn's final status."""
    start = len(tab.frames)
    sent = await tab.send({"action": "send", "message": message, "id": f"m{next(_sent_ids)}"})
    return await _collect_turn(tab, start, sent, timeout)


async def _collect_turn(tab: Tab, start: int, sent: float, timeout: float) -> TabTurn:
    """The frames on `tab` from frame `start` (just before the send) to the final status of
    the turn the send added."""
    added = await tab.wait_for(lambda f: added_turn_id(f) is not None, start, timeout)
    turn_id = added_turn_id(tab.frames[added][1])
    assert turn_id is not None  # wait_for returned the frame where it is not None
    end = await tab.wait_for(lambda f: is_final_status(f, turn_id), added, timeout)
    return TabTurn(turn_id, sent, tab.frames[start : end + 1])


class Page:
    """What the conversation page does to send a message with files, "In background" or a
    settings change not saved yet: POST the composer's form (htmx, multipart) with the session
    and the CSRF token; the reply then arrives on the page's socket."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, cookie: str, conversation_id: int):
        # A CSRF secret of our own, as the csrftoken cookie and the header (Django accepts the
        # unmasked secret in the header).
        secret = base64.b32encode(os.urandom(20)).decode().lower()[:32]
        self.http, self.url = http, f"{base_url}/c/{conversation_id}/send/"
        self.headers = {
            "Cookie": f"{cookie}; {settings.CSRF_COOKIE_NAME}={secret}",
            "X-CSRFToken": secret,
            "HX-Request": "true",
            "Referer": f"{base_url}/c/{conversation_id}/",
        }

    async def send(self, message: str) -> float:
        t = time.monotonic()
        form = {"message": (None, message), "model": (None, MODEL)}  # multipart, as htmx
        response = await self.http.post(self.url, headers=self.headers, files=form)
        if response.status_code >= 300:
            raise RuntimeError(f"POST {self.url}: {response.status_code} {response.text[:200]}")
        return t


async def run_posted_turn(tab: Tab, page: Page, message: str, timeout: float = 120.0) -> TabTurn:
    """run_turn, sent as the page sends it: the form's POST; the frames on the tab's socket."""
    start = len(tab.frames)
    return await _collect_turn(tab, start, await page.send(message), timeout)


# -- SSE: the emulator read directly (the baseline) -----------------------------------------------


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(120, connect=10),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
        trust_env=False,
    )


@dataclass
class DirectStream:
    """One streamed create read straight from the emulator."""

    sent_at: float
    chunks: list[tuple[float, bytes]]
    interaction_id: str = ""
    text: str = ""
    marks: list[tuple[float, int]] = field(default_factory=list)  # (t, chars so far)
    nbytes: int = 0

    def parse(self) -> DirectStream:
        """Split into SSE events; an event counts as received with the chunk that ends it."""
        buffer = b""
        parts: list[str] = []
        chars = 0
        for t, chunk in self.chunks:
            self.nbytes += len(chunk)
            buffer += chunk
            while b"\n\n" in buffer:
                raw, buffer = buffer.split(b"\n\n", 1)
                event, data = "", ""
                for line in raw.decode().split("\n"):
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data += line[6:]
                if event == "interaction.created":
                    self.interaction_id = json.loads(data)["interaction"]["id"]
                elif event == "step.delta":
                    delta = json.loads(data).get("delta", {})
                    if delta.get("type") == "text":
                        parts.append(delta["text"])
                        chars += len(delta["text"])
                        self.marks.append((t, chars))
        self.text = "".join(parts)
        return self

    def first_delta_at(self) -> float | None:
        return self.marks[0][0] if self.marks else None


async def stream_direct(
    http: httpx.AsyncClient, base_url: str, message: str, previous: str | None = None
) -> DirectStream:
    """POST a streaming create to the emulator, as the app would, and keep every chunk's time."""
    body: dict = {"model": MODEL, "input": [{"type": "text", "text": message}], "stream": True}
    if previous:
        body["previous_interaction_id"] = previous
    sent = time.monotonic()
    chunks: list[tuple[float, bytes]] = []
    async with http.stream(
        "POST", base_url + "/interactions", json=body, headers=API_KEY_HEADER
    ) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            chunks.append((time.monotonic(), chunk))
    return DirectStream(sent, chunks).parse()


# -- the emulator's side: truth and emit times ----------------------------------------------------


def emulator_root(base_url: str) -> str:
    return base_url.rsplit("/", 1)[0]


async def emit_marks(http: httpx.AsyncClient, base_url: str, ids: Sequence[str | None]) -> dict:
    """{interaction id: [(t_emit, chars so far), ...]} as the emulator appended the deltas."""
    response = await http.post(emulator_root(base_url) + "/bench/emits", json=ids)
    response.raise_for_status()
    return {k: [tuple(m) for m in v] for k, v in response.json().items()}


async def reset_emits(http: httpx.AsyncClient, base_url: str) -> None:
    await http.post(emulator_root(base_url) + "/bench/reset", json=[])


async def upstream_text(http: httpx.AsyncClient, base_url: str, interaction_id: str) -> str:
    """The model_output text of an interaction as the emulator stored it (the truth)."""
    response = await http.get(f"{base_url}/interactions/{interaction_id}", headers=API_KEY_HEADER)
    response.raise_for_status()
    return "".join(
        block.get("text", "")
        for step in response.json().get("steps", [])
        if step.get("type") == "model_output"
        for block in step.get("content", [])
        if block.get("type") == "text"
    )


def latencies(
    emits: list[tuple[float, int]], marks: list[tuple[float, int]]
) -> list[tuple[float, float]]:
    """Per emitted delta, (emit time, latency): the receive time of the first mark that covers
    its last character minus its emit time (seconds). Deltas never covered are left out (the
    text comparison counts them as lost)."""
    out = []
    j = 0
    for t_emit, chars in emits:
        while j < len(marks) and marks[j][1] < chars:
            j += 1
        if j == len(marks):
            break
        out.append((t_emit, marks[j][0] - t_emit))
    return out
