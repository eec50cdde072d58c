"""Agents (Deep Research, Antigravity) and background interactions: queued, progress, cancel."""

from __future__ import annotations

import time

import httpx
import pytest

from chatsite.emulator import agents, directives, generator
from chatsite.emulator.app import AGENT_QUEUE_S
from chatsite.emulator.server import EmulatorServer

from .conftest import MODEL, create, events_of, text_of

DEEP = "deep-research-pro-preview-12-2025"
MAX = "deep-research-max-preview-04-2026"
ANTIGRAVITY = "antigravity-preview-05-2026"


def start_agent(client: httpx.Client, agent: str, text: str, **fields: object) -> dict:
    response = client.post("/interactions", json={"agent": agent, "input": text, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def finished(server: EmulatorServer, client: httpx.Client, interaction_id: str) -> dict:
    assert server.store.wait_done(interaction_id, 20)
    return client.get(f"/interactions/{interaction_id}").json()


def test_deep_research_run(server: EmulatorServer, client: httpx.Client) -> None:
    created = start_agent(client, DEEP, "The history of tea [emulator:pace=0]")
    assert created["status"] == "queued"
    assert created["agent"] == DEEP and "model" not in created
    assert [s["type"] for s in created["steps"]] == ["user_input"]
    done = finished(server, client, created["id"])
    assert done["status"] == "completed"
    types = [s["type"] for s in done["steps"]]
    assert types == [
        "user_input",
        "thought",
        *["thought", "google_search_call", "google_search_result"] * 3,
        "thought",
        "thought",
        "model_output",
    ]
    thoughts = [s for s in done["steps"] if s["type"] == "thought"]
    assert all(t["summary"][0]["text"].startswith("**") for t in thoughts)
    queries = [
        s["arguments"]["queries"][0] for s in done["steps"] if s["type"] == "google_search_call"
    ]
    assert queries == [
        "History Tea overview",
        "History Tea latest developments",
        "History Tea criticism and open questions",
    ]
    block = done["steps"][-1]["content"][0]
    report = block["text"]
    assert report.startswith("# History Tea: a research report\n\n## Summary")
    for heading in ("## Key findings", "## Analysis", "## Open questions", "## Sources"):
        assert heading in report
    assert len(report.split()) > 350
    data = report.encode()
    assert len(block["annotations"]) >= 8
    for annotation in block["annotations"]:
        assert annotation["type"] == "url_citation"
        cited = data[annotation["start_index"] : annotation["end_index"]].decode()
        assert cited and cited[-1] in ".)"
    events = server.store.events(created["id"])
    statuses = [
        (e["event_type"], e.get("status") or e.get("interaction", {}).get("status"))
        for e in events
        if e["event_type"].startswith("interaction.")
    ]
    assert statuses == [
        ("interaction.created", "queued"),
        ("interaction.status_update", "in_progress"),
        ("interaction.completed", "completed"),
    ]
    assert done["usage"]["grounding_tool_count"] == [{"type": "google_search", "count": 3}]


def test_deep_research_max_does_more(server: EmulatorServer, client: httpx.Client) -> None:
    created = start_agent(client, MAX, "The history of tea [emulator:pace=0]")
    done = finished(server, client, created["id"])
    searches = [s for s in done["steps"] if s["type"] == "google_search_call"]
    assert len(searches) == 4
    assert "4. **Iterate.**" in text_of(done["steps"])


def test_agent_thinking_summaries_none(server: EmulatorServer, client: httpx.Client) -> None:
    created = start_agent(
        client,
        DEEP,
        "Tea [emulator:pace=0]",
        agent_config={"type": "deep-research", "thinking_summaries": "none"},
    )
    done = finished(server, client, created["id"])
    thoughts = [s for s in done["steps"] if s["type"] == "thought"]
    assert thoughts and all(set(t) == {"type", "signature"} for t in thoughts)


def test_deep_research_default_pace_takes_five_to_ten_seconds() -> None:
    """Measured on the plan (running it would cost the suite 7 s): delays + deltas."""
    request = {"agent": DEEP, "input": "The history of tea"}
    steps = [{"type": "user_input", "content": [{"type": "text", "text": "The history of tea"}]}]
    for agent in (DEEP, MAX):
        ctx = generator.make_context(
            {**request, "agent": agent}, [], steps, directives.Directives()
        )
        plan = generator.plan_reply(ctx)
        delays = sum(step.delay for step in plan.steps)
        deltas = sum(step.delta_count() for step in plan.steps)
        seconds = AGENT_QUEUE_S + delays + deltas * agents.AGENT_PACE_MS / 1000
        assert 5 <= seconds <= 10, (agent, seconds)


def test_agent_progress_is_visible_and_cancel_stops_it(
    server: EmulatorServer, client: httpx.Client
) -> None:
    created = start_agent(client, DEEP, "Slow research on rivers")  # the default, slow pace
    interaction_id = created["id"]
    assert created["status"] == "queued"
    time.sleep(1.0)
    middle = client.get(f"/interactions/{interaction_id}").json()
    assert middle["status"] == "in_progress"
    assert 1 < len(middle["steps"]) < 14  # some steps so far, not all
    assert middle["steps"][1]["type"] == "thought"
    cancelled = client.post(f"/interactions/{interaction_id}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert 1 < len(cancelled["steps"]) < 14
    events = server.store.events(interaction_id)
    assert events[-1]["interaction"]["status"] == "cancelled"


async def test_live_stream_of_an_agent_shows_status_changes(
    server: EmulatorServer, aclient: httpx.AsyncClient
) -> None:
    created = (
        await aclient.post(
            "/interactions",
            json={"agent": DEEP, "input": "Tea [emulator:pace=0.3]", "background": True},
        )
    ).json()
    body = ""
    async with aclient.stream(
        "GET", f"/interactions/{created['id']}", params={"stream": "true"}
    ) as response:
        async for chunk in response.aiter_text():
            body += chunk
    events = events_of(body)
    assert events[0]["interaction"]["status"] == "queued"
    assert events[1] == {
        "interaction_id": created["id"],
        "status": "in_progress",
        "event_type": "interaction.status_update",
        "event_id": events[1]["event_id"],
    }
    assert events[-1]["interaction"]["status"] == "completed"


def test_antigravity_with_a_remote_environment(
    server: EmulatorServer, client: httpx.Client
) -> None:
    created = start_agent(
        client,
        ANTIGRAVITY,
        "Count the words in this sentence [emulator:pace=0]",
        environment={"type": "remote", "network": "disabled"},
    )
    assert created["status"] == "queued"
    assert created["environment_id"].startswith("env_")
    done = finished(server, client, created["id"])
    assert done["environment_id"] == created["environment_id"]
    assert done["environment"] == {"type": "remote", "network": "disabled"}
    types = [s["type"] for s in done["steps"]]
    assert types == [
        "user_input",
        "thought",
        "code_execution_call",
        "code_execution_result",
        "thought",
        "model_output",
    ]
    result = done["steps"][3]["result"]
    assert result.startswith("words: 6\n")
    assert result in text_of(done["steps"])
    reused = start_agent(client, ANTIGRAVITY, "again [emulator:pace=0]", environment="env_mine")
    assert reused["environment_id"] == "env_mine"


def test_other_agents_answer_too(server: EmulatorServer, client: httpx.Client) -> None:
    created = start_agent(client, "some-future-agent", "Hello agent [emulator:pace=0]")
    done = finished(server, client, created["id"])
    assert [s["type"] for s in done["steps"]] == ["user_input", "thought", "model_output"]
    assert "You said: “Hello agent”" in text_of(done["steps"])


# --- background models ---------------------------------------------------------------------


def test_background_model_is_queued_then_runs(server: EmulatorServer, client: httpx.Client) -> None:
    created = create(client, "later [emulator:words=20]", background=True).json()
    assert created["status"] == "queued"
    done = finished(server, client, created["id"])
    assert done["status"] == "completed"
    kinds = [e["event_type"] for e in server.store.events(created["id"])][:3]
    assert kinds == ["interaction.created", "interaction.status_update", "step.start"]


def test_cancel_while_queued(server: EmulatorServer, client: httpx.Client) -> None:
    created = start_agent(client, DEEP, "never mind")  # queued for AGENT_QUEUE_S at this pace
    cancelled = client.post(f"/interactions/{created['id']}:cancel").json()
    assert cancelled["status"] == "cancelled"
    assert [s["type"] for s in cancelled["steps"]] == ["user_input"]
    events = server.store.events(created["id"])
    assert [e["event_type"] for e in events] == ["interaction.created", "interaction.completed"]


@pytest.mark.parametrize("stream", [False, True])
def test_plain_models_still_start_in_progress(client: httpx.Client, stream: bool) -> None:
    if stream:
        events = events_of(create(client, "now", stream=True).text)
        assert events[0]["interaction"]["status"] == "in_progress"
    else:
        assert create(client, "now").json()["status"] == "completed"


def test_model_unary_create_waits_unless_background(client: httpx.Client) -> None:
    started = time.monotonic()
    body = client.post(
        "/interactions", json={"model": MODEL, "input": "[emulator:words=20] [emulator:pace=5]"}
    ).json()
    assert body["status"] == "completed" and time.monotonic() - started >= 0.1
