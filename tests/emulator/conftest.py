"""Fixtures for the emulator's tests: real servers on loopback, plain httpx clients."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

# Under `-p no:django` nothing else may put the repository root on sys.path.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from chatsite.emulator.server import EmulatorServer  # noqa: E402

API_KEY_HEADERS = {"x-goog-api-key": "test-key"}
MODEL = "gemini-3.5-flash"


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0, pace_ms=0) as running:
        yield running


@pytest.fixture(scope="session")
def quick_keepalive_server() -> Iterator[EmulatorServer]:
    """Sends keep-alive comments after 0.1 s of silence instead of 10 s."""
    with EmulatorServer(port=0, pace_ms=0, keepalive_s=0.1) as running:
        yield running


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=API_KEY_HEADERS, timeout=30) as http:
        yield http


@pytest.fixture
async def aclient(server: EmulatorServer) -> Any:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=API_KEY_HEADERS, timeout=30
    ) as http:
        yield http


# --- SSE helpers ---------------------------------------------------------------------------


@dataclass
class Frame:
    event: str | None
    data: str | None
    comment: str | None = None

    @property
    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


def parse_frames(body: str) -> list[Frame]:
    """Strict parse of an SSE body as the emulator writes it (``\\n`` line endings)."""
    frames = []
    for block in body.split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        if all(line.startswith(":") for line in lines):
            frames.append(Frame(None, None, comment=lines[0][1:].strip()))
            continue
        event = data = None
        for line in lines:
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                assert data is None, f"one data line per event: {block!r}"
                data = line[len("data: ") :]
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        frames.append(Frame(event, data))
    return frames


def events_of(body: str) -> list[dict[str, Any]]:
    """JSON events of an SSE body (comments skipped; malformed frames raise)."""
    return [frame.json for frame in parse_frames(body) if frame.comment is None]


def text_of(steps: list[dict[str, Any]]) -> str:
    return "".join(
        block.get("text", "")
        for step in steps
        if step.get("type") == "model_output"
        for block in step.get("content") or []
        if block.get("type") == "text"
    )


def assemble(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """A minimal §6.3 assembler: index -> rebuilt step."""
    steps: dict[int, dict[str, Any]] = {}
    for event in events:
        kind = event["event_type"]
        if kind == "step.start":
            steps[event["index"]] = json.loads(json.dumps(event["step"]))
        elif kind == "step.delta":
            step = steps.setdefault(event["index"], {"type": "model_output"})
            delta = event["delta"]
            if delta["type"] == "text":
                content = step.setdefault("content", [])
                if content and content[-1]["type"] == "text":
                    content[-1]["text"] += delta["text"]
                else:
                    content.append({"type": "text", "text": delta["text"]})
            elif delta["type"] == "thought_signature":
                step["signature"] = delta["signature"]
            elif delta["type"] == "thought_summary":
                step.setdefault("summary", []).append(delta["content"])
            else:
                step.setdefault("_unknown_deltas", []).append(delta)
    return steps


def create(client: httpx.Client, text: str | Any = "Hello", **fields: Any) -> httpx.Response:
    body = {"model": MODEL, "input": text, **fields}
    return client.post("/interactions", json=body)


def create_stream(client: httpx.Client, text: str | Any = "Hello", **fields: Any) -> str:
    response = create(client, text, stream=True, **fields)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response.text


@pytest.fixture(autouse=True)
def _upstream_is_emulator() -> None:
    """Overrides the project-wide autouse fixture of the same name in tests/conftest.py.

    The emulator's tests need neither Django settings nor pytest-django (they run with
    ``-p no:django``), and use their own servers.
    """
