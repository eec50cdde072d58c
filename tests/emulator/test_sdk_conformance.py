"""Conformance: the official SDK (google-genai 3.3.0, test-only) talks to the emulator.

Everything the emulator emits must parse into the SDK's typed models with no ``Unknown*``
variant anywhere (except where the ``unknown_step`` directive asks for one), and must also pass
*strict* validation — without the lenient fallback the SDK applies to server responses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pydantic
import pytest
from google import genai
from google.genai._gaos.types.interactions import (
    Interaction,
    InteractionSSEEvent,
    ModelOutputStep,
    StepDelta,
    StepStart,
    ThoughtStep,
    UserInputStep,
)
from google.genai._gaos.types.interactions.step import UnknownStep
from google.genai._gaos.types.interactions.stepdeltadata import UnknownStepDeltaData
from google.genai._interactions.core.error import NotFoundError

from chatsite.emulator.server import EmulatorServer

from .conftest import API_KEY_HEADERS, MODEL, events_of

EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(InteractionSSEEvent)


@pytest.fixture(scope="module")
def sdk(server: EmulatorServer) -> Iterator[genai.Client]:
    client = genai.Client(
        api_key="test-key", http_options={"base_url": server.url, "api_version": "v1beta"}
    )
    yield client
    client.close()


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


def strictly_valid_event(payload: dict[str, Any]) -> Any:
    """Validate without ALLOW_UNKNOWN_UNION_VARIANTS: a bad known variant raises here."""
    return EVENT_ADAPTER.validate_python(payload)


def test_unary_create_get_and_chain(sdk: genai.Client) -> None:
    first = sdk.interactions.create(model=MODEL, input="I have 2 dogs in my house.")
    assert isinstance(first, Interaction)
    assert unknowns(first) == []
    assert first.status == "completed"
    assert isinstance(first.steps[0], UserInputStep)
    assert isinstance(first.steps[-1], ModelOutputStep)
    assert "You said: “I have 2 dogs in my house.”" in first.output_text
    assert first.usage.total_tokens > 0

    second = sdk.interactions.create(
        model=MODEL, input="How many paws are in my house?", previous_interaction_id=first.id
    )
    assert unknowns(second) == []
    assert second.previous_interaction_id == first.id
    assert "Earlier you said: “I have 2 dogs in my house.”" in second.output_text
    assert "**Turn 2.**" in second.output_text

    fetched = sdk.interactions.get(second.id)
    assert unknowns(fetched) == []
    assert fetched.output_text == second.output_text
    with_input = sdk.interactions.get(second.id, include_input=True)
    assert with_input.input == "How many paws are in my house?"


def test_stream_create_and_resume(sdk: genai.Client) -> None:
    stream = sdk.interactions.create(
        model=MODEL,
        input="Explain how AI works",
        stream=True,
        generation_config={"thinking_level": "low", "thinking_summaries": "auto"},
    )
    events = list(stream)
    assert [unknowns(event) for event in events] == [[] for _ in events]
    kinds = [event.event_type for event in events]
    assert kinds[0] == "interaction.created" and kinds[-1] == "interaction.completed"
    assert {"step.start", "step.delta", "step.stop", "interaction.status_update"} <= set(kinds)
    assert all(event.event_id for event in events)
    starts = [event for event in events if isinstance(event, StepStart)]
    assert [type(s.step) for s in starts] == [ThoughtStep, ModelOutputStep]
    final = events[-1].interaction
    assert final.status == "completed"
    text = "".join(
        e.delta.text for e in events if isinstance(e, StepDelta) and e.delta.type == "text"
    )
    assert text == final.steps[-1].content[0].text

    interaction_id = events[0].interaction.id
    replay = list(sdk.interactions.get(interaction_id, stream=True))
    assert [e.model_dump(mode="json") for e in replay] == [
        e.model_dump(mode="json") for e in events
    ]
    cut = 7
    resumed = list(
        sdk.interactions.get(interaction_id, stream=True, last_event_id=events[cut].event_id)
    )
    assert [e.event_id for e in resumed] == [e.event_id for e in events[cut + 1 :]]


def test_default_api_version_v1(server: EmulatorServer) -> None:
    client = genai.Client(api_key="k", http_options={"base_url": server.url})
    try:
        interaction = client.interactions.create(model=MODEL, input="hello v1")
        assert interaction.status == "completed"
        assert unknowns(interaction) == []
    finally:
        client.close()


def test_stateless_history_round_trip(sdk: genai.Client) -> None:
    first = sdk.interactions.create(
        model=MODEL,
        input="My name is Ada.",
        store=False,
        generation_config={"thinking_level": "low"},
    )
    second = sdk.interactions.create(
        model=MODEL,
        input=[*first.steps, {"type": "user_input", "content": [{"type": "text", "text": "Who?"}]}],
        store=False,
    )
    assert unknowns(second) == []
    assert "Earlier you said: “My name is Ada.”" in second.output_text
    with pytest.raises(NotFoundError):
        sdk.interactions.get(second.id)


def test_delete_and_not_found(sdk: genai.Client) -> None:
    created = sdk.interactions.create(model=MODEL, input="short-lived")
    assert sdk.interactions.delete(created.id) is None
    with pytest.raises(NotFoundError) as caught:
        sdk.interactions.get(created.id)
    assert caught.value.status_code == 404


def test_background_and_cancel(sdk: genai.Client) -> None:
    created = sdk.interactions.create(
        model=MODEL, input="[emulator:words=300] [emulator:pace=10] slow", background=True
    )
    assert created.status == "in_progress"
    cancelled = sdk.interactions.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert unknowns(cancelled) == []


def test_error_event_parses(sdk: genai.Client) -> None:
    events = list(sdk.interactions.create(model=MODEL, input="[emulator:error] fail", stream=True))
    assert events[-1].event_type == "error"
    assert events[-1].error.code == "resource_exhausted"
    assert [unknowns(event) for event in events] == [[] for _ in events]


def test_unknown_step_is_the_only_unknown(sdk: genai.Client) -> None:
    events = list(
        sdk.interactions.create(model=MODEL, input="[emulator:unknown_step] show", stream=True)
    )
    found = [path for event in events for path in unknowns(event)]
    assert found == ["$.step", "$.delta", "$.interaction.steps[1]"]
    start = next(e for e in events if isinstance(e, StepStart))
    assert isinstance(start.step, UnknownStep)
    assert start.step.raw["type"] == "hologram_projection"
    delta = next(e for e in events if isinstance(e, StepDelta))
    assert isinstance(delta.delta, UnknownStepDeltaData)
    final = events[-1].interaction
    assert isinstance(final.steps[1], UnknownStep)
    assert isinstance(final.steps[2], ModelOutputStep)


async def test_async_client(server: EmulatorServer) -> None:
    client = genai.Client(
        api_key="k", http_options={"base_url": server.url, "api_version": "v1beta"}
    )
    try:
        interaction = await client.aio.interactions.create(model=MODEL, input="async hello")
        assert unknowns(interaction) == []
        stream = await client.aio.interactions.create(
            model=MODEL, input="async stream", stream=True, previous_interaction_id=interaction.id
        )
        events = [event async for event in stream]
        assert events[-1].interaction.status == "completed"
        assert [unknowns(e) for e in events] == [[] for _ in events]
        assert "Earlier you said: “async hello”" in events[-1].interaction.steps[-1].content[0].text
    finally:
        await client.aio.aclose()
        client.close()


# --- strict validation of raw payloads -----------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"generation_config": {"thinking_level": "high", "thinking_summaries": "auto"}},
        {"system_instruction": "Be terse.", "tools": [{"type": "google_search"}]},
        {"input": [{"type": "text", "text": "a"}, {"type": "image", "uri": "gs://b/c.png"}]},
    ],
)
def test_raw_payloads_pass_strict_validation(server: EmulatorServer, fields: dict) -> None:
    body = {"model": MODEL, "input": "strict please", **fields}
    with httpx.Client(base_url=server.base_url, headers=API_KEY_HEADERS) as http:
        unary = http.post("/interactions", json=body).json()
        streamed = events_of(http.post("/interactions", json={**body, "stream": True}).text)
        interaction_id = streamed[0]["interaction"]["id"]
        fetched = http.get(f"/interactions/{interaction_id}", params={"include_input": "true"})
    for payload in (unary, fetched.json()):
        parsed = Interaction.model_validate(payload)
        assert unknowns(parsed) == []
    for event in streamed:
        parsed = strictly_valid_event(event)
        assert unknowns(parsed) == []


def test_sdk_retries_through_injected_failures(server: EmulatorServer, sdk: genai.Client) -> None:
    text = "flaky [emulator:fail=503]"
    interaction = sdk.interactions.create(model=MODEL, input=text)
    assert interaction.status == "completed"
    statuses = [
        r.status
        for r in server.store.create_requests()
        if isinstance(r.body, dict) and r.body.get("input") == text
    ]
    assert statuses == [503, 200]
