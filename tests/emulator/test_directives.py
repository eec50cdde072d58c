"""``[emulator:...]`` directives: parsing, and each one's effect over real HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from chatsite.emulator import directives
from chatsite.emulator.server import EmulatorServer

from .conftest import MODEL, create, create_stream, events_of, parse_frames, text_of

# --- parsing -------------------------------------------------------------------------------


def test_parse_every_key() -> None:
    parsed = directives.parse(
        "hi [emulator:pace=12.5] [emulator:words=7] [emulator:delta_words=3] "
        "[emulator:fail=503x2] [emulator:retry_after=4] [emulator:drop=5] [emulator:stall=100] "
        "[emulator:error] [emulator:malformed] [emulator:huge=1000] [emulator:unknown_step] "
        "[emulator:frobnicate=9]"
    )
    assert parsed.pace_ms == 12.5
    assert parsed.words == 7
    assert parsed.delta_words == 3
    assert (parsed.fail_status, parsed.fail_count, parsed.retry_after) == (503, 2, 4)
    assert parsed.drop_after == 5
    assert parsed.stall_ms == 100
    assert parsed.error and parsed.malformed and parsed.unknown_step
    assert parsed.huge == 1000
    assert parsed.raw["frobnicate"] == "9"  # unknown keys are kept raw and otherwise ignored


def test_parse_defaults_bounds_and_junk() -> None:
    assert directives.parse("no directives here") == directives.Directives()
    assert directives.parse("[emulator:fail=429]").fail_count == 1
    assert directives.parse("[emulator:words=99999999]").words == 200_000
    assert directives.parse("[emulator:huge=99999999]").huge == 5_000_000
    assert directives.parse("[emulator:words=lots]").words is None
    assert directives.parse("[emulator:fail=banana]").fail_status is None
    assert directives.parse("[emulator:fail=200]").fail_status is None
    assert directives.parse("[emulator:delta_words=0]").delta_words == 1
    assert directives.parse("[EMULATOR:words=3]").words is None  # the prefix is lowercase
    assert directives.parse("[emulator:Words=3]").words == 3


def test_remove_tokens() -> None:
    assert directives.remove_tokens("a [emulator:words=3]  b [emulator:error]") == "a b"


def test_directives_come_from_the_last_user_input_only(client: httpx.Client) -> None:
    history = [
        {"type": "user_input", "content": "first [emulator:words=3]"},
        {"type": "model_output", "content": [{"type": "text", "text": "ok"}]},
        {"type": "user_input", "content": "second"},
    ]
    text = text_of(create(client, history, store=False).json()["steps"])
    assert len(text.split()) > 3
    assert "Earlier you said: “first”." in text  # directives are not quoted


def test_unknown_directives_are_ignored(client: httpx.Client) -> None:
    plain = text_of(create(client, "hello").json()["steps"])
    assert text_of(create(client, "hello [emulator:sparkle=on]").json()["steps"]) == plain


# --- effects -------------------------------------------------------------------------------


def test_pace(client: httpx.Client) -> None:
    started = time.monotonic()
    create(client, "[emulator:words=10] [emulator:pace=100]")
    paced = time.monotonic() - started
    assert paced >= 1.0
    started = time.monotonic()
    create(client, "[emulator:words=10] [emulator:pace=0]")
    # Against the paced reply, not a clock: a busy machine slows both (CI runs beside browsers).
    assert time.monotonic() - started < paced / 2


def test_server_pace() -> None:
    with EmulatorServer(port=0, pace_ms=20) as paced:
        started = time.monotonic()
        response = httpx.post(
            paced.base_url + "/interactions",
            json={"model": MODEL, "input": "[emulator:words=10] paced"},
            headers={"x-goog-api-key": "k"},
        )
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize("count", [0, 1, 17, 5000])
def test_words(client: httpx.Client, count: int) -> None:
    events = events_of(create_stream(client, f"[emulator:words={count}] hi"))
    text = text_of(events[-1]["interaction"]["steps"])
    assert len(text.split()) == count
    deltas = [e for e in events if e["event_type"] == "step.delta"]
    assert len(deltas) == count
    assert "".join(d["delta"]["text"] for d in deltas) == text


def test_delta_words(client: httpx.Client) -> None:
    events = events_of(create_stream(client, "[emulator:words=2000] [emulator:delta_words=100]"))
    deltas = [e["delta"]["text"] for e in events if e["event_type"] == "step.delta"]
    assert len(deltas) == 20
    assert all(len(d.split()) == 100 for d in deltas)


def test_delta_words_on_normal_replies(client: httpx.Client) -> None:
    one = events_of(create_stream(client, "chunky [emulator:delta_words=4]"))
    deltas = [e["delta"]["text"] for e in one if e["event_type"] == "step.delta"]
    assert all(len(d.split()) <= 4 for d in deltas)
    assert sum(len(d.split()) for d in deltas) == len(
        text_of(one[-1]["interaction"]["steps"]).split()
    )


def test_fail_then_succeed(server: EmulatorServer, client: httpx.Client) -> None:
    body = {"model": MODEL, "input": "flaky [emulator:fail=503x2]"}
    first = client.post("/interactions", json=body)
    second = client.post("/interactions", json=body)
    third = client.post("/interactions", json=body)
    for failed in (first, second):
        assert failed.status_code == 503
        assert failed.json()["error"]["status"] == "UNAVAILABLE"
        assert failed.json()["error"]["code"] == 503
        assert "retry-after" not in failed.headers
    assert third.status_code == 200
    assert third.json()["status"] == "completed"
    # a different body has its own count
    other = client.post("/interactions", json={**body, "system_instruction": "x"})
    assert other.status_code == 503
    statuses = [r.status for r in server.store.create_requests() if r.body == body]
    assert statuses == [503, 503, 200]


def test_fail_429_has_retry_after(client: httpx.Client) -> None:
    response = create(client, "quota [emulator:fail=429]")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert create(client, "quota [emulator:fail=429]").status_code == 200
    custom = create(client, "quota [emulator:fail=429] [emulator:retry_after=7]")
    assert custom.headers["retry-after"] == "7"


def test_fail_500_is_internal(client: httpx.Client) -> None:
    response = create(client, "boom [emulator:fail=500]", stream=True)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["status"] == "INTERNAL"


def test_drop_cuts_the_create_stream_and_get_resumes(
    server: EmulatorServer, client: httpx.Client
) -> None:
    body = {"model": MODEL, "input": "[emulator:drop=3] [emulator:words=30] cut me", "stream": True}
    received = ""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/interactions", json=body) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_text():
            received += chunk
    events = events_of(received)
    deltas = [e for e in events if e["event_type"] == "step.delta"]
    assert len(deltas) == 3
    assert events[-1] is deltas[-1]
    interaction_id = events[0]["interaction"]["id"]
    assert server.store.wait_done(interaction_id, 5)
    assert server.store.status(interaction_id) == "completed"
    resumed = client.get(
        f"/interactions/{interaction_id}",
        params={"stream": "true", "last_event_id": events[-1]["event_id"]},
    )
    rest = events_of(resumed.text)
    whole = events + rest
    assert whole == server.store.events(interaction_id)
    text = "".join(e["delta"]["text"] for e in whole if e["event_type"] == "step.delta")
    assert text == text_of(rest[-1]["interaction"]["steps"])
    assert len(text.split()) == 30
    # a plain get stream of the same interaction is not cut
    assert events_of(client.get(f"/interactions/{interaction_id}?stream=true").text) == whole


def test_drop_is_ignored_by_unary(client: httpx.Client) -> None:
    response = create(client, "[emulator:drop=1] [emulator:words=5] unary")
    assert response.status_code == 200
    assert len(text_of(response.json()["steps"]).split()) == 5


def test_stall(client: httpx.Client) -> None:
    started = time.monotonic()
    raw = create_stream(client, "[emulator:stall=300] [emulator:words=10] hold on")
    assert time.monotonic() - started >= 0.3
    assert events_of(raw)[-1]["interaction"]["status"] == "completed"


def test_error_event_ends_the_interaction_failed(
    server: EmulatorServer, client: httpx.Client
) -> None:
    events = events_of(create_stream(client, "[emulator:error] [emulator:words=20] oops"))
    assert events[-1]["event_type"] == "error"
    assert events[-1]["error"]["code"] == "resource_exhausted"
    assert events[-1]["error"]["message"]
    assert "interaction.completed" not in [e["event_type"] for e in events]
    deltas = [e for e in events if e["event_type"] == "step.delta"]
    assert len(deltas) == 10  # mid-stream
    interaction_id = events[0]["interaction"]["id"]
    fetched = client.get(f"/interactions/{interaction_id}").json()
    assert fetched["status"] == "failed"
    assert fetched["errors"][0]["code"] == "resource_exhausted"
    unary = create(client, "[emulator:error] [emulator:words=20] oops again").json()
    assert unary["status"] == "failed"


def test_malformed_frame(client: httpx.Client) -> None:
    raw = create_stream(client, "[emulator:malformed] [emulator:words=10] garble")
    frames = parse_frames(raw)
    bad = []
    for frame in frames:
        try:
            frame.json  # noqa: B018
        except ValueError:
            bad.append(frame)
    assert len(bad) == 1
    assert bad[0].event == "step.delta"
    good = [frame.json for frame in frames if frame is not bad[0]]
    assert good[-1]["interaction"]["status"] == "completed"
    assert len([e for e in good if e["event_type"] == "step.delta"]) == 10


def test_huge_delta(client: httpx.Client) -> None:
    events = events_of(create_stream(client, "[emulator:huge=1000000] big"))
    sizes = sorted(len(e["delta"]["text"]) for e in events if e["event_type"] == "step.delta")
    assert sizes[-1] == 1_000_000
    assert sizes[-2] < 100
    text = text_of(events[-1]["interaction"]["steps"])
    assert len(text) > 1_000_000


def test_unknown_step(client: httpx.Client) -> None:
    events = events_of(create_stream(client, "[emulator:unknown_step] show me"))
    starts = [e for e in events if e["event_type"] == "step.start"]
    assert [s["step"]["type"] for s in starts] == ["hologram_projection", "model_output"]
    delta = next(e for e in events if e["event_type"] == "step.delta")
    assert delta["delta"]["type"] == "hologram_frame"
    steps = events[-1]["interaction"]["steps"]
    assert [s["type"] for s in steps] == ["user_input", "hologram_projection", "model_output"]
    assert steps[1]["frames"] == [delta["delta"]["frame"]]


def test_echo_streams_the_message_itself_with_its_lines(client: httpx.Client) -> None:
    message = "# Plan\n\n- **one**\n- two\n\n```py\nx = 1\n```\n[emulator:echo] [emulator:pace=0]"
    stream = create_stream(client, message)
    deltas = "".join(
        e["delta"]["text"]
        for e in events_of(stream)
        if e.get("event_type") == "step.delta" and e["delta"].get("type") == "text"
    )
    assert deltas == "# Plan\n\n- **one**\n- two\n\n```py\nx = 1\n```"
    assert len(parse_frames(stream)) > 5  # streamed in pieces, not at once
