"""Create (unary and streaming), input forms, chaining, thinking, store/background."""

from __future__ import annotations

import base64
import re
import time

import httpx
import pytest

from chatsite.emulator.server import EmulatorServer

from .conftest import MODEL, assemble, create, create_stream, events_of, parse_frames, text_of

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ID = re.compile(r"^v1_[A-Za-z0-9_-]{20,}$")


def test_unary_create_returns_the_full_interaction(client: httpx.Client) -> None:
    response = create(
        client,
        "Explain how AI works in a few words",
        system_instruction="Be brief.",
        generation_config={"temperature": 0.2, "max_output_tokens": 500},
        tools=[{"type": "google_search"}],
        labels={"team": "core"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert ID.match(body["id"])
    assert body["status"] == "completed"
    assert body["object"] == "interaction"
    assert body["model"] == MODEL
    assert ISO.match(body["created"]) and ISO.match(body["updated"])
    assert body["system_instruction"] == "Be brief."
    assert body["generation_config"] == {"temperature": 0.2, "max_output_tokens": 500}
    assert body["tools"] == [{"type": "google_search"}]
    assert body["labels"] == {"team": "core"}
    assert "input" not in body
    assert "previous_interaction_id" not in body
    steps = body["steps"]
    assert steps[0] == {
        "type": "user_input",
        "content": [{"type": "text", "text": "Explain how AI works in a few words"}],
    }
    # the google_search tool is used: a call/result pair before the answer
    assert [s["type"] for s in steps] == [
        "user_input",
        "google_search_call",
        "google_search_result",
        "model_output",
    ]
    text = text_of(steps)
    assert "**Turn 1.**" in text
    assert "You said: “Explain how AI works in a few words”." in text
    assert "“Be brief.”" in text  # the system instruction is acknowledged
    usage = body["usage"]
    words = len(text.split())
    assert usage["total_output_tokens"] == pytest.approx(words * 1.3, abs=1)
    assert usage["total_tokens"] == (
        usage["total_input_tokens"]
        + usage["total_output_tokens"]
        + usage["total_thought_tokens"]
        + usage["total_tool_use_tokens"]
    )
    assert usage["grounding_tool_count"] == [{"type": "google_search", "count": 2}]
    assert all(isinstance(v, int) for k, v in usage.items() if k.startswith("total_"))


def test_replies_are_deterministic(client: httpx.Client) -> None:
    first = text_of(create(client, "Tell me about gardens").json()["steps"])
    second = text_of(create(client, "Tell me about gardens").json()["steps"])
    other = text_of(create(client, "Tell me about rivers").json()["steps"])
    assert first == second
    assert first != other


def test_reply_is_readable_markdown(client: httpx.Client) -> None:
    text = text_of(create(client, "Any advice?").json()["steps"])
    paragraphs = text.split("\n\n")
    assert len(paragraphs) >= 4
    assert any(line.startswith("- ") for line in text.splitlines())


@pytest.mark.parametrize(
    ("input_value", "echo"),
    [
        ("plain string", [{"type": "text", "text": "plain string"}]),
        ({"type": "text", "text": "one content"}, [{"type": "text", "text": "one content"}]),
        (
            [
                {"type": "text", "text": "Describe this"},
                {"type": "image", "data": "aGVsbG8=", "mime_type": "image/png"},
            ],
            [
                {"type": "text", "text": "Describe this"},
                {"type": "image", "data": "aGVsbG8=", "mime_type": "image/png"},
            ],
        ),
        (
            [{"type": "user_input", "content": [{"type": "text", "text": "as a step"}]}],
            [{"type": "text", "text": "as a step"}],
        ),
        (
            [{"type": "user_input", "content": "bare string"}],
            [{"type": "text", "text": "bare string"}],
        ),
        ([{"text": "no type"}], [{"type": "text", "text": "no type"}]),
    ],
)
def test_input_forms(client: httpx.Client, input_value: object, echo: list) -> None:
    body = create(client, input_value).json()
    assert body["steps"][0] == {"type": "user_input", "content": echo}
    assert body["steps"][-1]["type"] == "model_output"
    first_text = next(block["text"] for block in echo if block["type"] == "text")
    assert f"You said: “{first_text}”" in text_of(body["steps"])


def test_attachments_are_acknowledged(client: httpx.Client) -> None:
    body = create(
        client,
        [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "data": "aGVsbG8=", "mime_type": "image/png"},
        ],
    ).json()
    assert "image (image/png)" in text_of(body["steps"])


def test_chaining_quotes_earlier_messages_and_counts_turns(client: httpx.Client) -> None:
    first = create(client, "I have 2 dogs in my house.").json()
    second = create(
        client, "How many paws are in my house?", previous_interaction_id=first["id"]
    ).json()
    assert second["previous_interaction_id"] == first["id"]
    text = text_of(second["steps"])
    assert "**Turn 2.**" in text
    assert "You said: “How many paws are in my house?”." in text
    assert "Earlier you said: “I have 2 dogs in my house.”." in text
    # only this turn's input is echoed
    assert [s["type"] for s in second["steps"]] == ["user_input", "model_output"]
    third = create(client, "What did I say first?", previous_interaction_id=second["id"]).json()
    text3 = text_of(third["steps"])
    assert "**Turn 3.**" in text3
    assert "Earlier you said: “I have 2 dogs in my house.”." in text3
    # the same message without the chain gets a different reply
    alone = text_of(create(client, "How many paws are in my house?").json()["steps"])
    assert alone != text
    assert "Earlier you said" not in alone
    # history grows the input token count
    assert third["usage"]["total_input_tokens"] > first["usage"]["total_input_tokens"]


def test_stateless_history_as_steps(client: httpx.Client) -> None:
    history = [{"type": "user_input", "content": [{"type": "text", "text": "My name is Ada."}]}]
    first = create(client, history, store=False).json()
    history.extend(first["steps"][1:])  # the generated steps, verbatim
    history.append({"type": "user_input", "content": "What is my name?"})
    second = create(client, history, store=False).json()
    text = text_of(second["steps"])
    assert "**Turn 2.**" in text
    assert "Earlier you said: “My name is Ada.”." in text
    # the echo is this turn's own input only, not the whole history
    assert second["steps"][0] == {
        "type": "user_input",
        "content": [{"type": "text", "text": "What is my name?"}],
    }
    assert [s["type"] for s in second["steps"]] == ["user_input", "model_output"]


def test_store_false_is_never_stored(server: EmulatorServer, client: httpx.Client) -> None:
    body = create(client, "forget me", store=False).json()
    assert body["status"] == "completed"
    response = client.get(f"/interactions/{body['id']}")
    assert response.status_code == 404
    chained = create(client, "and me?", previous_interaction_id=body["id"])
    assert chained.status_code == 404
    # still visible to in-process introspection
    assert server.store.find(body["id"]) is not None
    assert server.store.get(body["id"]) is None


def test_get_returns_the_stored_interaction(client: httpx.Client) -> None:
    created = create(client, "keep me", system_instruction="Be kind.").json()
    fetched = client.get(f"/interactions/{created['id']}", params={"stream": "false"}).json()
    assert fetched == created
    with_input = client.get(
        f"/interactions/{created['id']}", params={"include_input": "true", "stream": "false"}
    ).json()
    assert with_input["input"] == "keep me"
    assert {k: v for k, v in with_input.items() if k != "input"} == created


def test_thinking_emits_a_thought_step_with_a_signature(client: httpx.Client) -> None:
    body = create(client, "Think first", generation_config={"thinking_level": "low"}).json()
    types = [s["type"] for s in body["steps"]]
    assert types == ["user_input", "thought", "model_output"]
    thought = body["steps"][1]
    assert set(thought) == {"type", "signature"}
    assert len(base64.b64decode(thought["signature"], validate=True)) == 96
    assert body["usage"]["total_thought_tokens"] > 0
    again = create(client, "Think first", generation_config={"thinking_level": "low"}).json()
    assert again["steps"][1]["signature"] == thought["signature"]


def test_thinking_summaries(client: httpx.Client) -> None:
    body = create(
        client,
        "Think out loud",
        generation_config={"thinking_level": "high", "thinking_summaries": "auto"},
    ).json()
    thought = body["steps"][1]
    assert thought["type"] == "thought"
    assert thought["summary"][0]["type"] == "text"
    assert "Think out loud" in thought["summary"][0]["text"]
    assert thought["signature"]


def test_agent_interactions_echo_the_agent(server: EmulatorServer, client: httpx.Client) -> None:
    body = client.post(
        "/interactions",
        json={
            "agent": "deep-research-pro-preview-12-2025",
            "input": "Research tea [emulator:pace=0]",
        },
    ).json()
    assert body["agent"] == "deep-research-pro-preview-12-2025"
    assert "model" not in body
    assert body["status"] == "queued"  # agents always run in the background
    assert server.store.wait_done(body["id"], 5)
    assert client.get(f"/interactions/{body['id']}").json()["status"] == "completed"


# --- streaming -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["body", "alt", "accept"])
def test_streaming_is_selected_three_ways(client: httpx.Client, how: str) -> None:
    body = {"model": MODEL, "input": "stream please"}
    params, headers = {}, {}
    if how == "body":
        body["stream"] = True
    elif how == "alt":
        params["alt"] = "sse"
    else:
        headers["accept"] = "text/event-stream"
    response = client.post("/interactions", json=body, params=params, headers=headers)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    assert events[0]["event_type"] == "interaction.created"
    assert events[-1]["event_type"] == "interaction.completed"


def test_stream_event_sequence_and_framing(client: httpx.Client) -> None:
    raw = create_stream(client, "Explain how AI works", generation_config={"thinking_level": "low"})
    assert raw.endswith("\n\n")
    frames = parse_frames(raw)
    events = [frame.json for frame in frames]
    for frame, event in zip(frames, events, strict=True):
        assert frame.event == event["event_type"]
        assert "\n" not in frame.data
    ids = [int(event["event_id"]) for event in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(isinstance(event["event_id"], str) for event in events)

    kinds = [event["event_type"] for event in events]
    assert kinds[:2] == ["interaction.created", "interaction.status_update"]
    created = events[0]["interaction"]
    assert created["status"] == "in_progress" and created["object"] == "interaction"
    assert created["model"] == MODEL and ID.match(created["id"])
    assert events[1] == {
        "interaction_id": created["id"],
        "status": "in_progress",
        "event_type": "interaction.status_update",
        "event_id": events[1]["event_id"],
    }
    # thought (index 1), then model_output (index 2): indices are positions in final `steps`
    assert events[2] == {
        "index": 1,
        "step": {"type": "thought"},
        "event_type": "step.start",
        "event_id": events[2]["event_id"],
    }
    assert events[3]["delta"]["type"] == "thought_signature"
    assert kinds[4:6] == ["step.stop", "step.start"]
    assert events[5]["index"] == 2 and events[5]["step"] == {"type": "model_output"}
    text_deltas = [e for e in events if e["event_type"] == "step.delta" and e["index"] == 2]
    assert all(d["delta"]["type"] == "text" for d in text_deltas)
    # word by word
    assert all(len(d["delta"]["text"].split()) == 1 for d in text_deltas)
    assert kinds[-2:] == ["step.stop", "interaction.completed"]

    final = events[-1]["interaction"]
    assert final["status"] == "completed"
    assert final["id"] == created["id"]
    assert final["usage"]["total_tokens"] > 0
    steps = final["steps"]
    assert [s["type"] for s in steps] == ["user_input", "thought", "model_output"]
    rebuilt = assemble(events)
    assert sorted(rebuilt) == [1, 2]
    for index, step in rebuilt.items():
        assert step == steps[index]
    assert "".join(d["delta"]["text"] for d in text_deltas) == text_of(steps)


def test_stream_and_unary_agree(client: httpx.Client) -> None:
    unary = create(client, "same words either way").json()
    events = events_of(create_stream(client, "same words either way"))
    assert events[-1]["interaction"]["steps"] == unary["steps"]
    assert events[-1]["interaction"]["usage"] == unary["usage"]


def test_streamed_interaction_is_stored(client: httpx.Client) -> None:
    events = events_of(create_stream(client, "store my stream"))
    interaction_id = events[0]["interaction"]["id"]
    fetched = client.get(f"/interactions/{interaction_id}").json()
    assert fetched["status"] == "completed"
    assert fetched["steps"] == events[-1]["interaction"]["steps"]


def test_background_replies_at_once_and_finishes_later(
    server: EmulatorServer, client: httpx.Client
) -> None:
    started = time.monotonic()
    body = create(client, "slow work [emulator:words=40] [emulator:pace=50]", background=True)
    assert time.monotonic() - started < 1.0  # the work takes 2 s: half of it, on a busy machine
    first = body.json()
    assert first["status"] == "queued"
    assert first["steps"][0]["type"] == "user_input"
    time.sleep(0.15)
    middle = client.get(f"/interactions/{first['id']}").json()
    assert middle["status"] == "in_progress"
    partial = text_of(middle["steps"])
    assert 0 < len(partial.split()) < 40
    assert server.store.wait_done(first["id"], 5)
    done = client.get(f"/interactions/{first['id']}").json()
    assert done["status"] == "completed"
    assert len(text_of(done["steps"]).split()) == 40
    assert text_of(done["steps"]).startswith(partial)


def test_without_input_echo_indices_start_at_zero_like_the_guide() -> None:
    """``echo_input=False`` reproduces the guide's examples: no user_input, indices from 0."""
    with (
        EmulatorServer(port=0, echo_input=False) as bare,
        httpx.Client(base_url=bare.base_url, headers={"x-goog-api-key": "k"}) as http,
    ):
        unary = create(http, "hi", generation_config={"thinking_level": "low"}).json()
        assert [s["type"] for s in unary["steps"]] == ["thought", "model_output"]
        events = events_of(create_stream(http, "hi", generation_config={"thinking_level": "low"}))
        starts = [
            (e["index"], e["step"]["type"]) for e in events if e["event_type"] == "step.start"
        ]
        assert starts == [(0, "thought"), (1, "model_output")]
        assert events[-1]["interaction"]["steps"] == unary["steps"]
