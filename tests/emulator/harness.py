"""Conformance harness: run one scenario against the emulator and check everything it emits.

For a create body it:
- streams the create (retrying an injected HTTP failure, riding out an injected drop),
  waits for the end, and replays the whole log with ``GET ?stream=true``;
- validates every event *strictly* with the SDK's typed models (no lenient fallback) and finds
  every ``Unknown*`` variant in it;
- folds every event into the app's own client assembler (``chatsite.gemini.StepAssembler``)
  and compares the rebuilt steps with the stored interaction's (GET) generated steps — once
  from the deltas alone (before ``interaction.completed``), once after the snapshot;
- validates the GET interaction (and the unary create of the same body, when asked) strictly;
- checks that each delta type fits its step (§6.2) and that every ``*_result`` answers a call.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pydantic
from google.genai._gaos.types.interactions import Interaction, InteractionSSEEvent

from chatsite.emulator.server import EmulatorServer
from chatsite.gemini import StepAssembler
from chatsite.gemini.assembler import UNKNOWN_DELTAS_KEY

from .conftest import parse_frames

EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(InteractionSSEEvent)

# §6.2: which delta types apply to which step.
DELTAS_FOR_STEP = {
    "model_output": {"text", "image", "audio", "video", "document", "text_annotation_delta"},
    "thought": {"thought_summary", "thought_signature"},
    "function_call": {"arguments_delta"},
    "function_result": {"function_result"},
}


def unknowns(value: Any, path: str = "$") -> list[str]:
    """Paths of every Unknown* variant inside a parsed SDK object."""
    found: list[str] = []
    if getattr(value, "is_unknown", False) is True:
        found.append(path)
        return found
    if isinstance(value, pydantic.BaseModel):
        fields = dict(value)
        fields.update(value.__pydantic_extra__ or {})
        for name, item in fields.items():
            found += unknowns(item, f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found += unknowns(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += unknowns(item, f"{path}.{key}")
    return found


@dataclass
class Outcome:
    interaction_id: str
    events: list[dict[str, Any]]  # the whole log, parsed (malformed frames left out)
    interaction: dict[str, Any]  # GET (or the completed snapshot when not stored)
    assembler: StepAssembler
    unary: dict[str, Any] | None = None
    malformed: list[str] = field(default_factory=list)

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.interaction["steps"]

    @property
    def generated(self) -> list[dict[str, Any]]:
        return self.steps[self.first_index :]

    @property
    def first_index(self) -> int:
        starts = [e["index"] for e in self.events if e["event_type"] == "step.start"]
        return min(starts) if starts else len(self.steps)

    def types(self) -> list[str]:
        return [s["type"] for s in self.steps]

    def deltas(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            e["delta"]
            for e in self.events
            if e["event_type"] == "step.delta" and (kind is None or e["delta"]["type"] == kind)
        ]

    def step(self, kind: str) -> dict[str, Any]:
        return next(s for s in self.steps if s["type"] == kind)


def stream_body(http: httpx.Client, body: dict[str, Any], attempts: int = 3) -> str:
    """The raw SSE text of a streaming create (retrying injected failures; a drop is fine)."""
    for _ in range(attempts):
        received = ""
        try:
            with http.stream("POST", "/interactions", json={**body, "stream": True}) as response:
                if response.status_code != 200:
                    response.read()
                    continue
                for chunk in response.iter_text():
                    received += chunk
        except httpx.RemoteProtocolError:  # `drop`: the connection was cut on purpose
            pass
        return received
    raise AssertionError(f"create kept failing: {body!r}")


def json_events(raw: str) -> tuple[list[dict[str, Any]], list[str]]:
    events, malformed = [], []
    for frame in parse_frames(raw):
        if frame.comment is not None:
            continue
        try:
            events.append(frame.json)
        except ValueError:
            malformed.append(frame.data or "")
    return events, malformed


def strip_unknown(step: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items() if k != UNKNOWN_DELTAS_KEY}


def check_events(events: list[dict[str, Any]], allowed_unknown: tuple[str, ...] = ()) -> None:
    found = []
    for event in events:
        parsed = EVENT_ADAPTER.validate_python(copy.deepcopy(event))  # strict: raises if bad
        found += [f"{event['event_type']}:{path}" for path in unknowns(parsed)]
    assert sorted(found) == sorted(allowed_unknown), found


def check_interaction(payload: dict[str, Any], allowed_unknown: tuple[str, ...] = ()) -> None:
    parsed = Interaction.model_validate(copy.deepcopy(payload))
    assert unknowns(parsed) == list(allowed_unknown)


def check_delta_types(events: list[dict[str, Any]]) -> None:
    kinds: dict[int, str] = {}
    for event in events:
        if event["event_type"] == "step.start":
            kinds[event["index"]] = event["step"]["type"]
        elif event["event_type"] == "step.delta":
            step_type = kinds[event["index"]]
            delta_type = event["delta"]["type"]
            allowed = DELTAS_FOR_STEP.get(step_type, {step_type})
            if step_type == "hologram_projection":  # the deliberate unknown step
                continue
            assert delta_type in allowed, (step_type, delta_type)


def check_pairs(steps: list[dict[str, Any]]) -> None:
    calls = {s["id"]: s["type"] for s in steps if s["type"].endswith("_call") and "id" in s}
    for step in steps:
        if step["type"].endswith("_result") and step["type"] != "function_result":
            assert step["call_id"] in calls, step
            assert calls[step["call_id"]] == step["type"].removesuffix("_result") + "_call"


def run_scenario(
    http: httpx.Client,
    server: EmulatorServer,
    body: dict[str, Any],
    *,
    allowed_unknown: tuple[str, ...] = (),
    skip_rebuild: tuple[int, ...] = (),
    unary: bool = True,
    timeout: float = 30,
) -> Outcome:
    raw = stream_body(http, body)
    head, _ = json_events(raw)
    interaction_id = head[0]["interaction"]["id"]
    outcome = check_logged(
        http,
        server,
        interaction_id,
        stored=body.get("store", True) is not False,
        allowed_unknown=allowed_unknown,
        skip_rebuild=skip_rebuild,
        timeout=timeout,
    )
    assert outcome.events[: len(head)] == head  # what the create stream sent is a prefix
    if unary:
        response = http.post("/interactions", json=body)
        if response.status_code != 200:  # an injected failure: the retry succeeds
            response = http.post("/interactions", json=body)
        assert response.status_code == 200, response.text
        outcome.unary = response.json()
        check_interaction(outcome.unary, _interaction_unknowns(allowed_unknown))
    return outcome


def check_logged(
    http: httpx.Client,
    server: EmulatorServer,
    interaction_id: str,
    *,
    stored: bool = True,
    allowed_unknown: tuple[str, ...] = (),
    skip_rebuild: tuple[int, ...] = (),
    timeout: float = 30,
) -> Outcome:
    """Every check on an interaction's whole event log, once it has ended."""
    assert server.store.wait_done(interaction_id, timeout)
    if stored:
        replay = http.get(f"/interactions/{interaction_id}", params={"stream": "true"}).text
        events, malformed = json_events(replay)
        fetched = http.get(
            f"/interactions/{interaction_id}", params={"include_input": "true"}
        ).json()
        check_interaction(fetched, _interaction_unknowns(allowed_unknown))
        fetched.pop("input", None)
    else:
        logged = server.store.events(interaction_id)
        events = [e for e in logged if isinstance(e, dict)]
        malformed = [e for e in logged if not isinstance(e, dict)]
        fetched = None
    check_events(events, allowed_unknown)
    check_delta_types(events)

    assembler = StepAssembler()
    terminal = events[-1]["event_type"] == "interaction.completed"
    for event in events[:-1] if terminal else events:
        assembler.feed(event)
    assert assembler.problems == []
    interaction = fetched if fetched is not None else events[-1]["interaction"]
    outcome = Outcome(interaction_id, events, interaction, assembler, malformed=malformed)
    rebuilt = [strip_unknown(step) for step in assembler.steps]
    generated = outcome.generated
    assert len(rebuilt) == len(generated)
    for offset, (mine, theirs) in enumerate(zip(rebuilt, generated, strict=True)):
        if outcome.first_index + offset in skip_rebuild:
            continue
        assert mine == theirs, f"step {outcome.first_index + offset} rebuilt differently"
    if terminal:
        assembler.feed(events[-1])
        snapshot = events[-1]["interaction"]
        assert snapshot["steps"] == interaction["steps"]
        assert assembler.steps == interaction["steps"]
        assert assembler.status == interaction["status"]
    check_pairs(interaction["steps"])
    return outcome


def _interaction_unknowns(allowed: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(
        path.split(":", 1)[1].replace("$.interaction.", "$.", 1)
        for path in allowed
        if path.startswith("interaction.completed:")
    )


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
