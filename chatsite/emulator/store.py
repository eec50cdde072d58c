"""Interactions and their per-interaction event logs.

Everything here lives on the server's event loop thread. Tests in other threads may *read* it
(``EmulatorServer.store``) and block on the ``threading.Event`` flags; they must not mutate it.

Each SSE event is serialised exactly once, into the log, as the bytes of its SSE frame. HTTP
responses (create stream, get stream) only tail the log, so any number of readers costs no
re-serialisation, and replay after completion is a slice of a list.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .directives import Directives

# Fields of the create body that the Interaction resource echoes back.
ECHOED_FIELDS = (
    "system_instruction",
    "generation_config",
    "tools",
    "agent_config",
    "response_format",
    "response_mime_type",
    "response_modalities",
    "safety_settings",
    "service_tier",
    "labels",
    "webhook_config",
    "cached_content",
    "environment",
)

TERMINAL_STATUSES = frozenset(
    {
        "completed",
        "failed",
        "cancelled",
        "incomplete",
        "requires_action",
        "requires_continuation",
        "budget_exceeded",
    }
)

KIND_OTHER = 0
KIND_TEXT_DELTA = 1
KIND_MALFORMED = 2


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_interaction_id() -> str:
    """``v1_`` + url-safe random, shaped like the real ids (``v1_ChdpQUFvYXI...``)."""
    raw = b"\n\x17" + secrets.token_bytes(40)
    return "v1_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


class EventLog:
    """Append-only list of SSE frames with a cheap "something changed" wait for tailers."""

    __slots__ = ("frames", "kinds", "positions", "next_id", "done", "_waiters", "finished")

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.kinds = bytearray()
        self.positions: dict[str, int] = {}  # event_id -> index in frames
        self.next_id = 1
        self.done = False
        self._waiters: list[asyncio.Future[bool]] = []
        self.finished = threading.Event()

    def __len__(self) -> int:
        return len(self.frames)

    def _next_event_id(self) -> str:
        event_id = f"{self.next_id:08d}"
        self.next_id += 1
        return event_id

    def _push(self, frame: bytes, kind: int, event_id: str | None) -> None:
        if event_id is not None:
            self.positions[event_id] = len(self.frames)
        self.frames.append(frame)
        self.kinds.append(kind)
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(True)

    def append(self, event_type: str, payload: dict[str, Any]) -> str:
        """Serialise one event (``event_type`` and ``event_id`` are added to ``payload``)."""
        event_id = self._next_event_id()
        payload["event_type"] = event_type
        payload["event_id"] = event_id
        frame = b"event: " + event_type.encode() + b"\ndata: " + _dumps(payload) + b"\n\n"
        self._push(frame, KIND_OTHER, event_id)
        return event_id

    def append_text_delta(self, index: int, text: str) -> str:
        """Fast path for the hot event: ``step.delta`` carrying a ``text`` delta."""
        event_id = self._next_event_id()
        frame = (
            b'event: step.delta\ndata: {"index":%d,"delta":{"type":"text","text":%s},'
            b'"event_type":"step.delta","event_id":"%s"}\n\n'
            % (index, json.dumps(text, ensure_ascii=False).encode(), event_id.encode())
        )
        self._push(frame, KIND_TEXT_DELTA, event_id)
        return event_id

    def append_malformed(self, event_type: str, data: str) -> None:
        """A frame whose data is not JSON (no event id: it cannot be parsed to carry one)."""
        self._push(
            b"event: " + event_type.encode() + b"\ndata: " + data.encode() + b"\n\n",
            KIND_MALFORMED,
            None,
        )

    def close(self) -> None:
        self.done = True
        self._push_nothing()
        self.finished.set()

    def _push_nothing(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(True)

    async def wait(self, idle_s: float) -> bool:
        """Wait for the next append/close; False when ``idle_s`` passed first."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        handle = loop.call_later(idle_s, _expire, waiter)
        try:
            return await waiter
        finally:
            handle.cancel()

    def position_after(self, event_id: str) -> int | None:
        position = self.positions.get(event_id)
        return None if position is None else position + 1

    def events(self) -> list[Any]:
        """The log parsed back (for tests): dicts, or the raw data string of a malformed frame."""
        parsed: list[Any] = []
        for frame in self.frames:
            data = frame.split(b"\ndata: ", 1)[1].rstrip(b"\n").decode()
            try:
                parsed.append(json.loads(data))
            except ValueError:
                parsed.append(data)
        return parsed


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


@dataclass(eq=False)
class InteractionRecord:
    """One interaction: the request, its input and generated steps, status and event log."""

    id: str
    request: dict[str, Any]
    input_steps: list[dict[str, Any]]  # the whole input, normalised to steps
    echo_steps: list[dict[str, Any]]  # this turn's own input, echoed at the head of `steps`
    directives: Directives
    stored: bool = True
    background: bool = False
    status: str = "in_progress"
    created: str = field(default_factory=now_iso)
    born: float = field(default_factory=time.monotonic)  # for `InteractionStore.expire_after`
    updated: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)  # generated steps, finished
    current: Any = None  # the in-progress step's accumulator (see runner.StepAccumulator)
    usage: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None
    # Long decodes: the whole output (continuation.Decode) and this hop's final token.
    decode: Any = None
    continuation_token: str | None = None
    log: EventLog = field(default_factory=EventLog)
    task: asyncio.Task[None] | None = None
    cancel_requested: bool = False
    # Introspection for tests: streaming clients that went away before the log ended.
    client_disconnects: int = 0
    client_disconnected: threading.Event = field(default_factory=threading.Event)
    stream_responses: int = 0

    def __post_init__(self) -> None:
        if not self.updated:
            self.updated = self.created

    @property
    def model(self) -> str | None:
        return self.request.get("model")

    @property
    def agent(self) -> str | None:
        return self.request.get("agent")

    @property
    def previous_interaction_id(self) -> str | None:
        return self.request.get("previous_interaction_id")

    @property
    def done(self) -> bool:
        return self.log.done

    def touch(self, status: str | None = None) -> None:
        if status is not None:
            self.status = status
        self.updated = now_iso()

    def all_steps(self) -> list[dict[str, Any]]:
        steps = [*self.echo_steps, *self.steps]
        if self.current is not None:
            steps.append(self.current.snapshot())
        return steps

    def head(self) -> dict[str, Any]:
        """The partial interaction of ``interaction.created``."""
        head: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.model is not None:
            head["model"] = self.model
        if self.agent is not None:
            head["agent"] = self.agent
        head["object"] = "interaction"
        head["created"] = self.created
        head["updated"] = self.updated
        return head

    def completed_snapshot(self) -> dict[str, Any]:
        """The partial interaction of ``interaction.completed``: status, usage, all steps."""
        snapshot = self.head()
        if self.usage is not None:
            snapshot["usage"] = self.usage
        if self.continuation_token is not None:
            snapshot["continuation_token"] = self.continuation_token
        snapshot["steps"] = self.all_steps()
        return snapshot

    def to_json(self, include_input: bool = False) -> dict[str, Any]:
        """The full Interaction resource."""
        body: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.model is not None:
            body["model"] = self.model
        if self.agent is not None:
            body["agent"] = self.agent
        if self.previous_interaction_id is not None:
            body["previous_interaction_id"] = self.previous_interaction_id
        for name in ECHOED_FIELDS:
            if name in self.request and self.request[name] is not None:
                body[name] = self.request[name]
        environment = self.request.get("environment")
        if isinstance(environment, str):
            body["environment_id"] = environment
        elif isinstance(environment, dict):
            body["environment_id"] = environment.get("environment_id") or ("env_" + self.id[3:15])
        steps = self.all_steps()
        if steps or self.done:
            body["steps"] = steps
        if self.usage is not None:
            body["usage"] = self.usage
        if self.continuation_token is not None:
            body["continuation_token"] = self.continuation_token
        if self.errors:
            body["errors"] = self.errors
        body["created"] = self.created
        body["updated"] = self.updated
        body["object"] = "interaction"
        if include_input and "input" in self.request:
            body["input"] = self.request["input"]
        return body


@dataclass
class RequestLog:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any  # parsed JSON when it parsed, else the raw bytes
    status: int = 200
    interaction_id: str | None = None
    time: float = field(default_factory=time.time)


class Store:
    """Stored interactions (plus recent unstored ones, for introspection) and request history."""

    def __init__(self, max_interactions: int = 10_000, max_requests: int = 10_000) -> None:
        self.max_interactions = max_interactions
        self.interactions: OrderedDict[str, InteractionRecord] = OrderedDict()
        # Every interaction, stored or not, most recent last (bounded): introspection only.
        self.recent: OrderedDict[str, InteractionRecord] = OrderedDict()
        self.requests: deque[RequestLog] = deque(maxlen=max_requests)
        self.fail_attempts: dict[str, int] = {}
        # Stored interactions expire upstream (1 day on the free tier): tests set seconds here,
        # after which chaining to one is refused with a 400.
        self.expire_after: float | None = None
        self._lock = threading.Lock()  # guards `requests` and `recent` against test readers

    # --- mutation (server loop only) --------------------------------------------------------

    def log_request(self, entry: RequestLog) -> None:
        with self._lock:
            self.requests.append(entry)

    def add(self, record: InteractionRecord) -> None:
        with self._lock:
            self.recent[record.id] = record
            while len(self.recent) > self.max_interactions:
                self.recent.popitem(last=False)
        if record.stored:
            self.interactions[record.id] = record
            self._evict()

    def _evict(self) -> None:
        excess = len(self.interactions) - self.max_interactions
        if excess <= 0:
            return
        victims = []
        for key, record in self.interactions.items():  # oldest first; running ones are kept
            if record.done:
                victims.append(key)
                if len(victims) == excess:
                    break
        for key in victims:
            del self.interactions[key]

    def delete(self, interaction_id: str) -> InteractionRecord | None:
        return self.interactions.pop(interaction_id, None)

    def count_attempt(self, key: str) -> int:
        """1 for the first create attempt with this body hash, 2 for the next, …"""
        attempt = self.fail_attempts.get(key, 0) + 1
        self.fail_attempts[key] = attempt
        return attempt

    # --- lookups ----------------------------------------------------------------------------

    def get(self, interaction_id: str) -> InteractionRecord | None:
        """A stored interaction, as the API sees it (None for unknown, deleted, store:false)."""
        return self.interactions.get(interaction_id)

    def expired(self, record: InteractionRecord) -> bool:
        return self.expire_after is not None and time.monotonic() - record.born >= self.expire_after

    def find(self, interaction_id: str) -> InteractionRecord | None:
        """Any recent interaction, stored or not (for tests)."""
        with self._lock:
            return self.interactions.get(interaction_id) or self.recent.get(interaction_id)

    def chain(self, interaction_id: str) -> Iterator[InteractionRecord]:
        """Walk ``previous_interaction_id`` back from ``interaction_id`` (newest first)."""
        seen: set[str] = set()
        current = self.get(interaction_id)
        while current is not None and current.id not in seen:
            seen.add(current.id)
            yield current
            previous = current.previous_interaction_id
            current = self.get(previous) if previous else None

    # --- introspection helpers for tests (safe from any thread) ----------------------------

    def _require(self, interaction_id: str) -> InteractionRecord:
        record = self.find(interaction_id)
        if record is None:
            raise KeyError(interaction_id)
        return record

    def status(self, interaction_id: str) -> str:
        return self._require(interaction_id).status

    def events(self, interaction_id: str) -> list[Any]:
        return self._require(interaction_id).log.events()

    def wait_done(self, interaction_id: str, timeout: float = 10.0) -> bool:
        return self._require(interaction_id).log.finished.wait(timeout)

    def wait_disconnect(self, interaction_id: str, timeout: float = 10.0) -> bool:
        """True once a streaming client of this interaction went away before the end."""
        return self._require(interaction_id).client_disconnected.wait(timeout)

    def disconnected_early(self, interaction_id: str) -> bool:
        return self._require(interaction_id).client_disconnected.is_set()

    def all_requests(self) -> list[RequestLog]:
        with self._lock:
            return list(self.requests)

    def create_requests(self) -> list[RequestLog]:
        return [
            r
            for r in self.all_requests()
            if r.method == "POST" and r.path.rstrip("/").endswith("/interactions")
        ]

    def create_bodies(self) -> list[Any]:
        return [r.body for r in self.create_requests()]

    def last_interaction(self) -> InteractionRecord | None:
        with self._lock:
            return next(reversed(self.recent.values()), None)
