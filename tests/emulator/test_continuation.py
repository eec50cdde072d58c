"""Long decodes: requires_continuation, continuation tokens, hops, checkpoints (§8.2)."""

from __future__ import annotations

import httpx
import pytest

from chatsite.emulator import continuation
from chatsite.emulator.server import EmulatorServer

from .conftest import MODEL, create, events_of, text_of
from .harness import run_scenario

LONG = "tell me everything [emulator:words=230] [emulator:hop_words=100]"


def whole_text(client: httpx.Client) -> str:
    return text_of(create(client, "tell me everything [emulator:words=230]").json()["steps"])


def hop(client: httpx.Client, previous: dict, **fields: object) -> httpx.Response:
    body = {
        "model": MODEL,
        "continuation_token": previous["continuation_token"],
        "previous_interaction_id": previous["id"],
        **fields,
    }
    return client.post("/interactions", json=body)


def test_hops_join_to_exactly_the_whole_reply(client: httpx.Client) -> None:
    first = create(client, LONG).json()
    assert first["status"] == "requires_continuation"
    assert first["continuation_token"]
    hops = [first]
    while hops[-1]["status"] == "requires_continuation":
        response = hop(client, hops[-1])
        assert response.status_code == 200, response.text
        hops.append(response.json())
    assert [h["status"] for h in hops] == [
        "requires_continuation",
        "requires_continuation",
        "completed",
    ]
    assert len({h["id"] for h in hops}) == 3  # every hop is a new interaction
    assert "continuation_token" not in hops[-1]
    assert [len(text_of(h["steps"]).split()) for h in hops] == [100, 100, 30]
    assert "".join(text_of(h["steps"]) for h in hops) == whole_text(client)
    for previous, current in zip(hops, hops[1:], strict=False):
        assert current["previous_interaction_id"] == previous["id"]
        # a hop's steps start again with the echo of the turn it continues
        assert current["steps"][0] == first["steps"][0]
        assert [s["type"] for s in current["steps"]] == ["user_input", "model_output"]
        assert current["usage"]["total_input_tokens"] == first["usage"]["total_input_tokens"]
    # the continued conversation goes on from the last hop
    after = create(client, "and then?", previous_interaction_id=hops[-1]["id"]).json()
    assert "**Turn 2.**" in text_of(after["steps"])


def test_streamed_hop_has_checkpoints_and_the_token_in_the_completed_snapshot(
    server: EmulatorServer, client: httpx.Client
) -> None:
    outcome = run_scenario(client, server, {"model": MODEL, "input": LONG}, unary=False)
    events = outcome.events
    final = events[-1]["interaction"]
    assert final["status"] == "requires_continuation"
    assert final["continuation_token"] == outcome.interaction["continuation_token"]
    checkpoints = [
        e
        for e in events
        if e["event_type"] == "interaction.status_update" and "continuation_token" in e
    ]
    assert len(checkpoints) == 2
    assert all(e["status"] == "in_progress" for e in checkpoints)
    # continuing from a checkpoint resumes the decode right after the text sent before it
    checkpoint = checkpoints[0]
    position = events.index(checkpoint)
    sent = "".join(
        e["delta"]["text"]
        for e in events[:position]
        if e["event_type"] == "step.delta" and e["delta"]["type"] == "text"
    )
    resumed = hop(
        client,
        {"id": outcome.interaction_id, "continuation_token": checkpoint["continuation_token"]},
    ).json()
    assert (sent + text_of(resumed["steps"])) == whole_text(client)[
        : len(sent + text_of(resumed["steps"]))
    ]
    assert len(text_of(resumed["steps"]).split()) == 100


def test_hops_conform_through_the_harness(server: EmulatorServer, client: httpx.Client) -> None:
    first = run_scenario(client, server, {"model": MODEL, "input": LONG}, unary=False)
    body = {
        "model": MODEL,
        "continuation_token": first.interaction["continuation_token"],
        "previous_interaction_id": first.interaction_id,
    }
    second = run_scenario(client, server, body, unary=False)
    assert second.interaction["status"] == "requires_continuation"
    assert second.types() == ["user_input", "model_output"]


def test_citations_are_split_across_hops(client: httpx.Client) -> None:
    text = "Tea in Paris [emulator:hop_words=30]"
    first = create(client, text, tools=[{"type": "google_search"}]).json()
    hops = [first]
    while hops[-1]["status"] == "requires_continuation":
        hops.append(hop(client, hops[-1]).json())
    assert len(hops) >= 3
    whole = create(client, "Tea in Paris", tools=[{"type": "google_search"}]).json()
    block = whole["steps"][-1]["content"][0]
    expected = [
        block["text"].encode()[a["start_index"] : a["end_index"]].decode()
        for a in block["annotations"]
    ]
    pieces = []
    for h in hops:
        output = h["steps"][-1]["content"][0]
        data = output["text"].encode()
        for annotation in output.get("annotations", []):
            pieces.append(
                (annotation["url"], data[annotation["start_index"] : annotation["end_index"]])
            )
    joined: dict[str, bytes] = {}
    for url, piece in pieces:
        joined[url] = joined.get(url, b"") + piece
    assert sorted(p.decode() for p in joined.values()) == sorted(expected)
    assert "".join(text_of(h["steps"]) for h in hops) == text_of(whole["steps"])


def test_store_false_resends_the_input(client: httpx.Client) -> None:
    first = create(client, LONG, store=False).json()
    assert first["status"] == "requires_continuation"
    missing = client.post(
        "/interactions", json={"model": MODEL, "continuation_token": first["continuation_token"]}
    )
    assert missing.status_code == 400
    assert "resend the original 'input'" in missing.json()["error"]["message"]
    other = create(
        client, "something else", continuation_token=first["continuation_token"], store=False
    )
    assert other.status_code == 400
    second = create(client, LONG, continuation_token=first["continuation_token"], store=False)
    assert second.status_code == 200
    assert second.json()["steps"][0] == first["steps"][0]
    assert len(text_of(second.json()["steps"]).split()) == 100


@pytest.mark.parametrize("kind", ["garbage", "tampered", "foreign", "no-previous"])
def test_wrong_tokens_are_rejected(client: httpx.Client, kind: str) -> None:
    first = create(client, LONG).json()
    token = first["continuation_token"]
    previous = first["id"]
    if kind == "garbage":
        token = "not-a-token"
    elif kind == "tampered":
        owner, offset = continuation.read_token(token)
        forged = continuation.make_token(owner, offset)
        token = forged[:-2] + ("AA" if forged[-2:] != "AA" else "BB")
    elif kind == "foreign":
        previous = create(client, "another").json()["id"]
    body = {"model": MODEL, "continuation_token": token}
    if kind != "no-previous":
        body["previous_interaction_id"] = previous
    response = client.post("/interactions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_short_replies_never_need_continuation(client: httpx.Client) -> None:
    body = create(client, "short [emulator:words=100] [emulator:hop_words=100]").json()
    assert body["status"] == "completed" and "continuation_token" not in body
    events = events_of(create(client, "short", stream=True).text)
    assert not any("continuation_token" in e for e in events)


def test_the_server_sets_the_default_hop_limit() -> None:
    with (
        EmulatorServer(port=0, hop_words=50) as small,
        httpx.Client(base_url=small.base_url, headers={"x-goog-api-key": "k"}) as http,
    ):
        body = create(http, "[emulator:words=120] hi").json()
        assert body["status"] == "requires_continuation"
        assert len(text_of(body["steps"]).split()) == 50
        wider = create(http, "[emulator:words=120] [emulator:hop_words=500] hi").json()
        assert wider["status"] == "completed"
