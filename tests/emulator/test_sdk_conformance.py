"""Conformance: the official SDK (google-genai 3.3.0, test-only) talks to the emulator.

Everything the emulator emits must parse into the SDK's typed models with no ``Unknown*``
variant anywhere (except where the ``unknown_step`` directive asks for one), and must also pass
*strict* validation — without the lenient fallback the SDK applies to server responses.
"""

from __future__ import annotations

import base64
import time
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

from .conftest import API_KEY_HEADERS, MODEL, create, events_of, text_of
from .harness import check_interaction, check_logged, run_scenario, unknowns

EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(InteractionSSEEvent)


@pytest.fixture(scope="module")
def sdk(server: EmulatorServer) -> Iterator[genai.Client]:
    client = genai.Client(
        api_key="test-key", http_options={"base_url": server.url, "api_version": "v1beta"}
    )
    yield client
    client.close()


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
    assert created.status == "queued"
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


# --- every scenario: strict typed parsing, no Unknown, the app's assembler agrees ----------

WEATHER = {
    "type": "function",
    "name": "get_current_temperature",
    "description": "Gets the current temperature for a given location.",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
}
ALL_TOOLS = [
    {"type": "google_search"},
    {"type": "code_execution"},
    {"type": "url_context"},
    {"type": "google_maps", "enable_widget": True},
    {"type": "file_search", "file_search_store_names": ["fileSearchStores/team-docs"]},
    {"type": "mcp_server", "name": "weather_mcp", "url": "https://mcp.example.com/sse"},
    {"type": "retrieval", "retrieval_types": ["vertex_ai_search"]},
]
RECIPE_SCHEMA = {
    "type": "object",
    "properties": {
        "recipe_name": {"type": "string"},
        "ingredients": {"type": "array", "items": {"$ref": "#/$defs/ingredient"}, "minItems": 3},
        "difficulty": {"type": "string", "enum": ["easy", "medium", "hard"]},
    },
    "required": ["recipe_name", "ingredients"],
    "$defs": {
        "ingredient": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "grams": {"type": "number"}},
            "required": ["name", "grams"],
        }
    },
}
HOLOGRAM = (
    "step.start:$.step",
    "step.delta:$.delta",
    "interaction.completed:$.interaction.steps[1]",
)

SCENARIOS = [
    pytest.param({"input": "Hello there"}, ["model_output"], id="plain"),
    pytest.param(
        {"input": "Think", "generation_config": {"thinking_level": "low"}},
        ["thought", "model_output"],
        id="thinking-signature-only",
    ),
    pytest.param(
        {
            "input": "Think aloud",
            "generation_config": {"thinking_level": "low", "thinking_summaries": "auto"},
        },
        ["thought", "model_output"],
        id="thinking-summaries-auto",
    ),
    pytest.param(
        {"input": "Think hard", "generation_config": {"thinking_level": "high"}},
        ["thought", "model_output"],
        id="thinking-high-default-summaries",
    ),
    pytest.param(
        {
            "input": "Think quietly",
            "generation_config": {"thinking_level": "high", "thinking_summaries": "none"},
        },
        ["thought", "model_output"],
        id="thinking-summaries-none",
    ),
    pytest.param(
        {"input": "Who won the euro 2024?", "tools": [{"type": "google_search"}]},
        ["google_search_call", "google_search_result", "model_output"],
        id="google_search",
    ),
    pytest.param(
        {"input": "Count the letters in hello world 42", "tools": [{"type": "code_execution"}]},
        ["code_execution_call", "code_execution_result", "model_output"],
        id="code_execution",
    ),
    pytest.param(
        {"input": "Oops [emulator:code_error]", "tools": [{"type": "code_execution"}]},
        ["code_execution_call", "code_execution_result", "model_output"],
        id="code_execution-error",
    ),
    pytest.param(
        {
            "input": "Read https://ok.example.com/a https://x.invalid/b https://e.com/paywall",
            "tools": [{"type": "url_context"}],
        },
        ["url_context_call", "url_context_result", "model_output"],
        id="url_context",
    ),
    pytest.param(
        {"input": "Coffee in Lyon", "tools": [{"type": "google_maps", "enable_widget": True}]},
        ["google_maps_call", "google_maps_result", "model_output"],
        id="google_maps",
    ),
    pytest.param(
        {
            "input": "What does the handbook say about holidays?",
            "tools": [{"type": "file_search", "file_search_store_names": ["fileSearchStores/hr"]}],
        },
        ["file_search_call", "file_search_result", "model_output"],
        id="file_search",
    ),
    pytest.param(
        {
            "input": "Any weather alerts?",
            "tools": [
                {"type": "mcp_server", "name": "weather", "allowed_tools": [{"tools": ["alerts"]}]}
            ],
        },
        ["mcp_server_tool_call", "mcp_server_tool_result", "model_output"],
        id="mcp_server",
    ),
    pytest.param(
        {
            "input": "Search the knowledge base for onboarding",
            "tools": [{"type": "retrieval", "retrieval_types": ["rag_store"]}],
        },
        ["retrieval_call", "retrieval_result", "model_output"],
        id="retrieval",
    ),
    pytest.param(
        {"input": "What is the temperature in London?", "tools": [WEATHER]},
        ["function_call"],
        id="function_call",
    ),
    pytest.param(
        {
            "input": "Tea in Paris, see https://tea.example.com/",
            "tools": [*ALL_TOOLS, WEATHER],
            "generation_config": {"thinking_level": "high"},
        },
        [
            "thought",
            "url_context_call",
            "url_context_result",
            "google_search_call",
            "google_search_result",
            "google_maps_call",
            "google_maps_result",
            "file_search_call",
            "file_search_result",
            "retrieval_call",
            "retrieval_result",
            "mcp_server_tool_call",
            "mcp_server_tool_result",
            "code_execution_call",
            "code_execution_result",
            "function_call",
        ],
        id="all-tools",
    ),
    pytest.param(
        {"input": "A lighthouse at dusk", "model": "gemini-3.1-flash-image"},
        ["model_output"],
        id="image-model",
    ),
    pytest.param(
        {
            "input": "A lighthouse at dusk",
            "response_format": {"type": "image", "aspect_ratio": "16:9", "image_size": "512"},
        },
        ["model_output"],
        id="image-response-format",
    ),
    pytest.param(
        {"input": "Say hello", "model": "gemini-3.1-flash-tts-preview"},
        ["model_output"],
        id="audio-tts",
    ),
    pytest.param(
        {
            "input": "A cookie recipe",
            "response_format": {
                "type": "text",
                "mime_type": "application/json",
                "schema": RECIPE_SCHEMA,
            },
        },
        ["model_output"],
        id="structured-output",
    ),
    pytest.param(
        {"input": "History of tea [emulator:pace=0]", "agent": "deep-research-pro-preview-12-2025"},
        None,
        id="agent-deep-research",
    ),
    pytest.param(
        {"input": "Tea [emulator:pace=0]", "agent": "deep-research-max-preview-04-2026"},
        None,
        id="agent-deep-research-max",
    ),
    pytest.param(
        {
            "input": "Count my words [emulator:pace=0]",
            "agent": "antigravity-preview-05-2026",
            "environment": {"type": "remote"},
        },
        ["thought", "code_execution_call", "code_execution_result", "thought", "model_output"],
        id="agent-antigravity",
    ),
    pytest.param(
        {"input": "slowly [emulator:words=30]", "background": True},
        ["model_output"],
        id="background",
    ),
    pytest.param(
        {"input": "long [emulator:words=60] [emulator:hop_words=25]"},
        ["model_output"],
        id="continuation-first-hop",
    ),
    pytest.param({"input": "flaky [emulator:fail=503]"}, ["model_output"], id="fault-fail"),
    pytest.param(
        {"input": "cut [emulator:drop=5] [emulator:words=30]"}, ["model_output"], id="fault-drop"
    ),
    pytest.param(
        {"input": "wait [emulator:stall=50] [emulator:words=10]"},
        ["model_output"],
        id="fault-stall",
    ),
    pytest.param(
        {"input": "boom [emulator:error] [emulator:words=20]"}, ["model_output"], id="fault-error"
    ),
    pytest.param(
        {"input": "garble [emulator:malformed] [emulator:words=10]"},
        ["model_output"],
        id="fault-malformed",
    ),
    pytest.param(
        {"input": "big [emulator:huge=100000]", "tools": [{"type": "google_search"}]},
        ["google_search_call", "google_search_result", "model_output"],
        id="fault-huge",
    ),
    pytest.param(
        {"input": "show [emulator:unknown_step]"},
        ["hologram_projection", "model_output"],
        id="fault-unknown_step",
    ),
    pytest.param(
        {
            "input": "Tea in Paris [emulator:hostile] https://tea.example.com/",
            "tools": ALL_TOOLS,
            "generation_config": {"thinking_level": "high"},
        },
        [
            "thought",
            "url_context_call",
            "url_context_result",
            "google_search_call",
            "google_search_result",
            "google_maps_call",
            "google_maps_result",
            "file_search_call",
            "file_search_result",
            "retrieval_call",
            "retrieval_result",
            "mcp_server_tool_call",
            "mcp_server_tool_result",
            "code_execution_call",
            "code_execution_result",
            "model_output",
        ],
        id="hostile",
    ),
    pytest.param(
        {"input": "not kept", "store": False, "tools": [{"type": "google_search"}]},
        ["google_search_call", "google_search_result", "model_output"],
        id="store-false",
    ),
]


@pytest.mark.parametrize(("fields", "generated"), SCENARIOS)
def test_scenario_conformance(
    server: EmulatorServer, client: httpx.Client, fields: dict, generated: list[str] | None
) -> None:
    body = {"model": MODEL, **fields}
    if "agent" in body:
        del body["model"]
    unknown_step = "unknown_step" in body["input"]
    outcome = run_scenario(
        client,
        server,
        body,
        allowed_unknown=HOLOGRAM if unknown_step else (),
        skip_rebuild=(1,) if unknown_step else (),
    )
    if generated is not None:
        assert [s["type"] for s in outcome.generated] == generated
    assert outcome.types()[0] == "user_input"
    fault = any(f"[emulator:{k}" in body["input"] for k in ("error", "drop", "huge", "fail"))
    if "agent" not in body and not body.get("background") and not fault:
        # the same request gets the same steps (ids and signatures included), unary or streamed
        assert outcome.unary is not None
        assert outcome.unary["steps"] == outcome.steps
        assert outcome.unary["status"] == outcome.interaction["status"]


def test_function_call_then_function_result_conformance(
    server: EmulatorServer, client: httpx.Client
) -> None:
    first = run_scenario(
        client, server, {"model": MODEL, "input": "Temperature in Oslo?", "tools": [WEATHER]}
    )
    assert first.interaction["status"] == "requires_action"
    call = first.step("function_call")
    result = {
        "type": "function_result",
        "name": call["name"],
        "call_id": call["id"],
        "result": [{"type": "text", "text": '{"temperature": 21, "unit": "celsius"}'}],
    }
    second = run_scenario(
        client,
        server,
        {
            "model": MODEL,
            "previous_interaction_id": first.interaction_id,
            "input": [result],
            "tools": [WEATHER],
        },
        unary=False,
    )
    assert second.types() == ["function_result", "model_output"]
    assert second.interaction["status"] == "completed"
    assert 'The result is {"temperature": 21, "unit": "celsius"}.' in text_of(second.steps)


def test_sdk_function_calling_loop(sdk: genai.Client) -> None:
    """The guide's loop, run by the SDK: call → run the function → send the result back."""
    interaction = sdk.interactions.create(
        model=MODEL, input="What is the temperature in London?", tools=[WEATHER]
    )
    assert interaction.status == "requires_action"
    assert unknowns(interaction) == []
    calls = [s for s in interaction.steps if s.type == "function_call"]
    assert [c.name for c in calls] == ["get_current_temperature"]
    assert calls[0].arguments == {"location": "London"}
    answer = sdk.interactions.create(
        model=MODEL,
        previous_interaction_id=interaction.id,
        tools=[WEATHER],
        input=[
            {
                "type": "function_result",
                "name": calls[0].name,
                "call_id": calls[0].id,
                "result": [{"type": "text", "text": "22"}],
            }
        ],
    )
    assert answer.status == "completed"
    assert "The result is 22." in answer.output_text


def test_sdk_automatic_continuation_joins_the_hops(sdk: genai.Client, client: httpx.Client) -> None:
    text = "a long one [emulator:words=130] [emulator:hop_words=50]"
    whole = text_of(create(client, "a long one [emulator:words=130]").json()["steps"])
    unary = sdk.interactions.create(model=MODEL, input=text)
    assert unary.status == "completed"
    assert len(unary.continuation_ids) == 3
    assert unary.output_text == whole
    merged = "".join(
        block.text
        for step in unary.steps
        if isinstance(step, ModelOutputStep)
        for block in step.content
    )
    assert merged == whole
    stateless = sdk.interactions.create(model=MODEL, input=text, store=False)
    assert stateless.status == "completed" and stateless.output_text == whole
    assert len(stateless.continuation_ids) == 3
    events = list(sdk.interactions.create(model=MODEL, input=text, stream=True))
    assert [unknowns(e) for e in events] == [[] for _ in events]
    completed = [e for e in events if e.event_type == "interaction.completed"]
    assert [e.interaction.status for e in completed] == [
        "requires_continuation",
        "requires_continuation",
        "completed",
    ]
    streamed = "".join(
        e.delta.text for e in events if isinstance(e, StepDelta) and e.delta.type == "text"
    )
    assert streamed == whole


def test_sdk_sees_images_and_audio(sdk: genai.Client) -> None:
    image = sdk.interactions.create(model="gemini-3.1-flash-image", input="A red kite")
    assert unknowns(image) == []
    assert image.output_image is not None and image.output_image.mime_type == "image/png"
    assert base64.b64decode(image.output_image.data).startswith(b"\x89PNG\r\n\x1a\n")
    assert image.output_text.startswith("**Turn 1.** Here is an image")
    audio = sdk.interactions.create(model="gemini-3.1-flash-tts-preview", input="Hi")
    assert audio.output_audio is not None and audio.output_audio.mime_type == "audio/wav"


def test_sdk_polls_an_agent(sdk: genai.Client) -> None:
    created = sdk.interactions.create(
        agent="deep-research-pro-preview-12-2025",
        input="Tea ceremonies [emulator:pace=0]",
        background=True,
    )
    assert created.status == "queued"
    for _ in range(200):
        current = sdk.interactions.get(created.id)
        assert unknowns(current) == []
        if current.status == "completed":
            break
        time.sleep(0.02)
    assert current.status == "completed"
    report = current.output_text
    assert report.startswith("# Tea Ceremonies: a research report")
    assert "## Sources" in report


def test_cancelled_background_interaction_conformance(
    server: EmulatorServer, client: httpx.Client
) -> None:
    created = create(
        client,
        "[emulator:words=300] [emulator:pace=5] long",
        background=True,
        tools=[{"type": "google_search"}],
        generation_config={"thinking_level": "high"},
    ).json()
    assert created["status"] == "queued"
    time.sleep(0.15)
    cancelled = client.post(f"/interactions/{created['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    check_interaction(cancelled)
    outcome = check_logged(client, server, created["id"])
    assert outcome.interaction == cancelled
    assert [s["type"] for s in outcome.generated] == [
        "thought",
        "google_search_call",
        "google_search_result",
        "model_output",
    ]
    assert 0 < len(text_of(outcome.steps).split()) < 300
