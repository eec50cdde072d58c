"""A scripted, real HTTP server on loopback for the gemini client tests.

Each test queues `Reply`s (status, headers, body or chunks with pauses, optional abrupt close);
the server answers requests with them in order and records every request it received, including
whether the client went away before the response was over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import uvicorn

# Under `-p no:django` nothing puts the repository root on sys.path (pytest-django does it via
# manage.py, and the editable install maps no packages), so the test modules could not import
# chatsite. This runs before they are collected.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

API_KEY = "AIzaTEST-secret-key-0123456789abcdefghij"

# The example stream of Google's "get started" guide (seeds/001_08aa047dbca9a32b.txt, lines
# 104-121), as (SSE event name, data line) pairs. The guide's copy lost the blank lines between
# events; on the wire each event ends with one.
SEED_STREAM: list[tuple[str, str]] = [
    (
        "interaction.created",
        '{"interaction":{"id":"v1_Chd...","status":"in_progress","model":"gemini-3.5-flash"},'
        '"event_type":"interaction.created"}',
    ),
    ("step.start", '{"index":0,"step":{"type":"thought"},"event_type":"step.start"}'),
    (
        "step.delta",
        '{"index":0,"delta":{"signature":"EvEFCu4F...","type":"thought_signature"},'
        '"event_type":"step.delta"}',
    ),
    ("step.stop", '{"index":0,"event_type":"step.stop"}'),
    ("step.start", '{"index":1,"step":{"type":"model_output"},"event_type":"step.start"}'),
    (
        "step.delta",
        '{"index":1,"delta":{"text":"AI ","type":"text"},"event_type":"step.delta"}',
    ),
    (
        "step.delta",
        '{"index":1,"delta":{"text":"works ","type":"text"},"event_type":"step.delta"}',
    ),
    ("step.stop", '{"index":1,"event_type":"step.stop"}'),
    (
        "interaction.completed",
        '{"interaction":{"id":"v1_Chd...","status":"completed","usage":{"total_tokens":197}},'
        '"event_type":"interaction.completed"}',
    ),
]


def seed_stream_bytes() -> bytes:
    return "".join(f"event: {name}\ndata: {data}\n\n" for name, data in SEED_STREAM).encode()


def seed_events() -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in SEED_STREAM]


def sse_frame(event: dict[str, Any]) -> bytes:
    return f"event: {event.get('event_type', '')}\ndata: {json.dumps(event)}\n\n".encode()


@dataclass
class Reply:
    """One scripted response.

    `chunks`: when set, the body is streamed: bytes are sent as one chunk each, a number is a
    pause in seconds (cut short if the client disconnects). `abort`: after the chunks, drop the
    connection without ending the body. `delay`: pause before the status line is sent.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: list[bytes | float] | None = None
    abort: bool = False
    delay: float = 0.0

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status,
            {"content-type": "application/json", **(headers or {})},
            json.dumps(value).encode(),
        )

    @classmethod
    def sse(cls, chunks: list[bytes | float], *, abort: bool = False, status: int = 200) -> Reply:
        return cls(status, {"content-type": "text/event-stream"}, chunks=chunks, abort=abort)

    @classmethod
    def error(cls, status: int, message: str, upstream: str, **headers: str) -> Reply:
        body = {"error": {"code": status, "message": message, "status": upstream}}
        return cls.json(body, status, {k.replace("_", "-"): v for k, v in headers.items()})


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    raw_path: str
    headers: dict[str, str]
    body: bytes
    disconnected: threading.Event = field(default_factory=threading.Event)

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)

    def wait_disconnected(self, timeout: float = 2.0) -> bool:
        return self.disconnected.wait(timeout)


class ScriptedServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[RecordedRequest] = []
        self.base_url = ""

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        record = RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode(),
            raw_path=(scope.get("raw_path") or b"").decode(),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
        )
        self.requests.append(record)
        reply = self.replies.popleft() if self.replies else Reply(500, body=b"no scripted reply")
        gone = asyncio.Event()
        finished = False

        async def watch() -> None:
            # After the request body, receive() only returns once the client goes away (or,
            # harmlessly, once the response is complete).
            message = await receive()
            if message["type"] == "http.disconnect" and not finished:
                record.disconnected.set()
                gone.set()

        async def pause(seconds: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gone.wait(), seconds)

        watcher = asyncio.create_task(watch())
        try:
            if reply.delay:
                await pause(reply.delay)
                if gone.is_set():
                    return
            headers = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            if reply.chunks is None:
                finished = True
                await send({"type": "http.response.body", "body": reply.body})
                return
            for chunk in reply.chunks:
                if gone.is_set():
                    return
                if isinstance(chunk, bytes):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                else:
                    await pause(chunk)
            if reply.abort:
                # Returning mid-body makes uvicorn close the transport: a truncated response.
                return
            finished = True
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()


@pytest.fixture(scope="session")
def scripted_server() -> Any:
    app = ScriptedServer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="critical",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the scripted test server did not start")
        time.sleep(0.01)
    app.base_url = f"http://127.0.0.1:{port}"
    yield app
    server.should_exit = True
    thread.join(5)
    sock.close()


@pytest.fixture
def server(scripted_server: ScriptedServer) -> ScriptedServer:
    scripted_server.reset()
    yield scripted_server
    scripted_server.reset()


class FakeSleep:
    """Records the retry delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def make_client(server: ScriptedServer, sleeps: FakeSleep) -> Any:
    """Factory of clients on the scripted server (fast fake sleep, 2 retries unless told)."""
    from chatsite.gemini import InteractionsClient

    clients: list[InteractionsClient] = []

    def make(**overrides: Any) -> InteractionsClient:
        options: dict[str, Any] = {
            "base_url": f"{server.base_url}/v1beta",
            "api_key": API_KEY,
            "timeout": 5.0,
            "max_retries": 2,
            "backoff_base": 0.5,
            "backoff_max": 8.0,
            "sleep": sleeps,
        }
        options.update(overrides)
        clients.append(InteractionsClient(**options))
        return clients[-1]

    yield make
    for made in clients:
        await made.aclose()


@pytest.fixture
def client(make_client: Any) -> Any:
    return make_client()
