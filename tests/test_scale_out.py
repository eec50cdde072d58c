"""Several daphne processes of one site, on PostgreSQL and Redis, act as one — tried the way a
team runs it, one person with tabs on different processes.

Most tests run two processes that each start their own emulator, as `make run` does with no
GEMINI_API_KEY: a reply exists only in the process that runs it, so what a tab on the other
process sees can only have come through the relay (no second runner can fake it). The
owner-kill test runs three processes on one shared emulator: there the reply lives upstream
and the point is which process picks it up.

Skipped, with the reason, without PostgreSQL and Redis (see tests/cluster.py).
"""

import asyncio
import json
import re
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from psycopg import sql

from chatsite.emulator.server import EmulatorServer

from .cluster import Person, services_or_skip, site
from .helpers import PageText, added_turn_id, delta_frames, is_delta, is_status, model_text

pytestmark = pytest.mark.services

services_or_skip()

SLOW = "[emulator:pace=25]"  # a reply of n words takes n × 25 ms
APART_REDIS = 11
GRACE = 0.5  # seconds of a reply relayed even when no other process watches it


@pytest.fixture(scope="module")
def apart(tmp_path_factory):
    """Two processes, A and B, each with its own embedded emulator."""
    var = tmp_path_factory.mktemp("apart")
    with site(var, "chatsite_scale_apart", APART_REDIS, processes=2, EMULATOR_PACE_MS="20",
              RATE_LIMIT_MESSAGES="4/m", RELAY_UNWATCHED_GRACE_S=str(GRACE)) as apps:  # fmt: skip
        yield apps


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Three processes on one emulator (the test's), with a short turn lease."""
    var = tmp_path_factory.mktemp("shared")
    emulator = EmulatorServer(host="127.0.0.1", port=0, pace_ms=20)
    emulator.start()
    try:
        with site(var, "chatsite_scale_shared", 12, processes=3, upstream=emulator.base_url,
                  TURN_LEASE_SECONDS="4") as apps:  # fmt: skip
            yield apps, emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two processes on one emulator (the test's), with a turn lease long enough to press Stop
    on a dead owner's reply before it runs out."""
    var = tmp_path_factory.mktemp("pair")
    emulator = EmulatorServer(host="127.0.0.1", port=0, pace_ms=20)
    emulator.start()
    try:
        with site(var, "chatsite_scale_pair", 13, processes=2, upstream=emulator.base_url,
                  TURN_LEASE_SECONDS="6") as apps:  # fmt: skip
            yield apps, emulator
    finally:
        emulator.stop()


@pytest.fixture
async def people():
    made = []

    async def person(app, name):
        made.append(await Person(app, name).sign_in())
        return made[-1]

    yield person
    for one in made:
        await one.close()


def status_of(frames, turn_id=None):
    for frame in reversed(frames):
        if frame.startswith('{"status"'):
            turn, status = json.loads(frame)["status"]
            if turn_id is None or turn == turn_id:
                return status
    return None


def shown_words(frames) -> list[str]:
    """The words the live reply shows (finished replies are drawn whole, not streamed)."""
    page = PageText()
    for frame in frames:
        page.apply(frame)
    return " ".join(page.text.values()).split()


async def page_status(person, conversation_id) -> str:
    """The status the conversation's page shows for its last reply (what a reload shows)."""
    page = await person.http.get(f"/c/{conversation_id}/")
    return re.findall(r'data-role="assistant"[^>]*data-status="([a-z_]+)"', page.text)[-1]


async def finished(person, conversation_id):
    for _ in range(200):
        if await page_status(person, conversation_id) not in ("pending", "in_progress"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the reply did not finish")


def turn_id_of(frames) -> int:
    return next(json.loads(f)["status"][0] for f in frames if f.startswith('{"status"'))


async def test_a_reply_sent_on_a_streams_to_tabs_on_b_while_it_runs(apart, people):
    a, b = apart
    on_a = await people(a, "person00")
    on_b = on_a.on(b)
    conversation = await on_a.new_conversation("hello [emulator:words=3]")
    await finished(on_a, conversation)
    tabs = [await on_b.tab(conversation), await on_b.tab(conversation)]  # a second tab too
    response = await on_a.send(conversation, f"tell me more [emulator:words=200]{SLOW}")
    assert response.status_code == 302
    first = tabs[0]
    await first.read_until(is_delta)
    # The reply grows on B while A still runs it, not only at its end.
    assert await page_status(on_a, conversation) == "in_progress"
    for tab in tabs:
        await tab.read_until(lambda f: is_status(f, "completed"))
    for tab in tabs:
        assert len(delta_frames(tab.frames)) >= 5, "B saw the reply grow"
        assert not [f for f in tab.frames if "NOT_FOUND" in f or "404" in f]
        assert len(shown_words(tab.frames)) == 200  # nothing lost or doubled
        await tab.close()


async def test_a_tab_opened_on_b_mid_reply_shows_the_text_so_far_then_the_rest(apart, people):
    """What a reload on B does: the page, then the socket's resume for the unfinished turn."""
    a, b = apart
    on_a = await people(a, "person01")
    watching = None
    conversation = await on_a.new_conversation(f"a long one [emulator:words=240]{SLOW}")
    watching = await on_a.tab(conversation)
    await watching.read_until(lambda f: len(delta_frames(watching.frames)) >= 10)
    turn = turn_id_of(watching.frames)
    reloaded = await on_a.on(b).tab(conversation, turns=[turn], after=turn)
    snapshot = await reloaded.read_until(lambda f: "stream-text" in f, timeout=10)
    so_far = shown_words([snapshot])
    assert 0 < len(so_far) < 240  # the text so far, at once
    await reloaded.read_until(lambda f: is_status(f, "completed"))
    await watching.read_until(lambda f: is_status(f, "completed"))
    assert shown_words(reloaded.frames) == shown_words(watching.frames)
    assert len(shown_words(reloaded.frames)) == 240
    await reloaded.close()
    await watching.close()


async def test_stop_pressed_on_b_cancels_the_reply_running_on_a(apart, people):
    a, b = apart
    on_a = await people(a, "person02")
    conversation = await on_a.new_conversation("short [emulator:words=2]")
    await finished(on_a, conversation)
    tab = await on_a.on(b).tab(conversation)
    await on_a.send(conversation, f"stop me [emulator:words=3000]{SLOW}")
    await tab.read_until(is_delta)
    await tab.send({"action": "stop"})
    await tab.read_until(lambda f: is_status(f, "cancelled"), timeout=10)
    assert await page_status(on_a, conversation) == "cancelled"  # A's runner ended it
    assert len(shown_words(tab.frames)) < 3000
    await tab.close()


async def test_healthz_answers_at_once_on_both_processes_while_sockets_are_open(apart, people):
    """A receive on the Redis channel layer waits behind the process's sockets: the health
    check must not use one (it said 503 `channel_layer: TimeoutError` with a socket open)."""
    on_a = await people(apart[0], "person03")
    conversation = await on_a.new_conversation(f"keep busy [emulator:words=400]{SLOW}")
    tabs = [await on_a.on(app).tab(conversation) for app in apart for _ in range(3)]
    worst = 0.0
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(10):
            for app in apart:
                started = time.monotonic()
                response = await http.get(f"{app.url}/healthz")
                worst = max(worst, time.monotonic() - started)
                assert response.status_code == 200, response.text
                assert response.json()["channel_layer"] == "ok"
            await asyncio.sleep(0.05)
    assert worst < 1.0  # generous: a loaded machine; a blocked check took its 2 s timeout
    for tab in tabs:
        await tab.close()


async def test_signing_out_on_a_closes_the_persons_sockets_on_every_process(apart, people):
    a, b = apart
    on_a = await people(a, "person04")
    conversation = await on_a.new_conversation("hi [emulator:words=2]")
    tabs = [await on_a.tab(conversation), await on_a.on(b).tab(conversation)]
    await asyncio.sleep(0.3)  # the sockets have joined the person's group
    response = await on_a.post("/accounts/logout/")
    assert response.status_code == 302
    for tab in tabs:
        with pytest.raises(Exception) as closed:  # noqa: B017 - websockets' ConnectionClosed
            await tab.read_until(lambda f: False, timeout=10)
        assert getattr(closed.value, "rcvd", None) is not None, closed.value
        assert closed.value.rcvd.code == 4401


async def test_a_conversation_started_on_a_is_listed_with_its_title_on_b(apart, people):
    a, b = apart
    on_a = await people(a, "person05")
    conversation = await on_a.new_conversation("Quarterly numbers for the north office")
    for path in ("/", "/c/"):
        page = await on_a.on(b).http.get(path)
        assert f"/c/{conversation}/" in page.text
        assert "Quarterly numbers for the north office" in page.text


async def test_the_message_rate_is_counted_once_across_processes(apart, people):
    """RATE_LIMIT_MESSAGES=4/m here: four messages, sent on either process, use it up."""
    a, b = apart
    on_a = await people(a, "person06")
    on_b = on_a.on(b)
    for person in (on_a, on_b, on_a, on_b):
        await person.new_conversation("count me [emulator:words=2]")
    for person in (on_a, on_b):
        page = await person.http.get("/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        refused = await person.http.post(
            "/c/new/", data={"message": "one more", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{person.app.url}/"},
        )  # fmt: skip
        assert refused.status_code == 429
        assert "4 messages this minute" in refused.text


async def test_an_idle_socket_stays_open_on_the_redis_channel_layer(apart, people):
    """redis-py's default 5 s read timeout once closed every idle socket with 1011."""
    on_a = await people(apart[0], "person07")
    conversation = await on_a.new_conversation("short [emulator:words=5]")
    tab = await on_a.tab(conversation)
    await tab.read_until(lambda f: added_turn_id(f) is not None)
    await asyncio.sleep(7)
    await tab.send({"action": "resume", "turns": [], "after": 0})
    await tab.read_until(
        lambda f: added_turn_id(f) is not None, timeout=5
    )  # still open, still answers
    await tab.close()


def turn_row(app, turn_id, *fields):
    query = sql.SQL("SELECT {} FROM chat_turn WHERE id = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, fields or ("status", "steps")))
    )
    with psycopg.connect(app.env["DATABASE_URL"]) as conn:
        return conn.execute(query, [turn_id]).fetchone()


async def test_killing_the_owner_mid_reply_hands_it_to_exactly_one_other_process(shared, people):
    (a, b, c), emulator = shared
    on_a = await people(a, "person10")
    conversation = await on_a.new_conversation("first [emulator:words=2]")
    await finished(on_a, conversation)
    tabs = [await on_a.on(b).tab(conversation), await on_a.on(c).tab(conversation)]
    await on_a.send(conversation, "a long answer [emulator:words=400]")
    watching = tabs[0]
    await watching.read_until(lambda f: len(delta_frames(watching.frames)) >= 20)
    turn = turn_id_of(watching.frames)
    interaction = emulator.store.last_interaction()
    cut = {}
    waiter = threading.Thread(
        target=lambda: (
            emulator.store.wait_disconnect(interaction.id, 30) and cut.setdefault("at", time.time())
        )
    )
    waiter.start()
    a.proc.send_signal(signal.SIGKILL)  # A dies mid-reply: no cleanup, no last word
    a.proc.wait(10)
    for tab in tabs:
        await tab.read_until(lambda f: is_status(f, "completed"), timeout=60)
    waiter.join(5)

    # The upstream saw one stream at a time: A's create, then exactly one replay, after it.
    streams = [
        r for r in emulator.store.all_requests()
        if r.method == "GET" and r.path.endswith(interaction.id) and "stream=true" in r.query
    ]  # fmt: skip
    assert len(streams) == 1, [r.query for r in streams]
    assert streams[0].time > cut["at"]
    logs = [app.log_path.read_text() for app in (b, c)]
    assert sum(log.count(f"turn {turn}: no process renews it") for log in logs) == 1
    # Neither lost nor doubled: in the database, and on both tabs.
    status, steps = turn_row(b, turn)
    upstream = model_text(interaction.all_steps())
    assert status == "completed"
    assert model_text(steps) == upstream
    for tab in tabs:
        assert shown_words(tab.frames) == upstream.split()
        await tab.close()


async def test_the_list_reaches_the_persons_tabs_on_the_other_process(apart, people):
    """A new conversation started on A: the person's tabs on B — one on another conversation,
    one on a page without any (`/ws/u/`) — get the new list through the channel layer."""
    import websockets

    from .cluster import Tab

    a, b = apart
    on_a = await people(a, "person07")
    on_b = on_a.on(b)
    earlier = await on_a.new_conversation("an earlier one [emulator:words=2]")
    await finished(on_a, earlier)
    on_earlier = await on_b.tab(earlier)
    cookie = "; ".join(f"{k}={v}" for k, v in on_b.http.cookies.items())
    home = Tab(
        await websockets.connect(
            f"ws://127.0.0.1:{b.port}/ws/u/",
            additional_headers={"Cookie": cookie, "Origin": b.url},
            max_queue=None,
        )
    )
    await home.read_until(lambda f: 'id="conversation-list"' in f)  # the list as it opens
    await asyncio.sleep(0.3)  # the sockets have joined the person's group

    started = await on_a.new_conversation("Lighthouse schedules [emulator:words=2]")
    for tab in (on_earlier, home):
        frame = await tab.read_until(
            lambda f: 'id="conversation-list"' in f and f"/c/{started}/" in f, timeout=15
        )
        assert frame.index(f"/c/{started}/") < frame.index(f"/c/{earlier}/")
        await tab.close()
    await finished(on_a, started)


async def test_stop_pressed_while_the_owner_is_dead_cancels_the_reply_when_its_lease_lapses(
    pair, people
):
    """A's process dies mid-reply; Stop on B's tab comes before A's lease runs out, so B may
    not take the reply yet. Kept with the turn, the Stop is what the taker acts on: it cancels
    the interaction upstream and ends the turn as cancelled, instead of streaming the rest."""
    (a, b), emulator = pair
    on_a = await people(a, "person12")
    conversation = await on_a.new_conversation("first [emulator:words=2]")
    await finished(on_a, conversation)
    tab = await on_a.on(b).tab(conversation)
    await on_a.send(conversation, "a long answer [emulator:words=1500]")  # 30 s upstream
    await tab.read_until(lambda f: len(delta_frames(tab.frames)) >= 20)
    turn = turn_id_of(tab.frames)
    interaction = emulator.store.last_interaction()
    a.proc.send_signal(signal.SIGKILL)  # A dies mid-reply: no cleanup, no last word
    a.proc.wait(10)
    # Stop is pressed while A's lease still holds (renewed every 2 s, 6 s long).
    (lease_until,) = turn_row(b, turn, "lease_expires_at")
    assert lease_until > datetime.now(UTC) + timedelta(seconds=1)
    await tab.send({"action": "stop"})
    ended = await tab.read_until(lambda f: is_status(f, "cancelled") or is_status(f, "completed"),
                                 timeout=60)  # fmt: skip
    assert is_status(ended, "cancelled")

    assert turn_row(b, turn, "status")[0] == "cancelled"
    assert emulator.store.status(interaction.id) == "cancelled"  # cancelled upstream too
    # Not continued: no process replayed the stream, and what the tab shows (and the turn
    # keeps) is the beginning of the reply, not all of it.
    replays = [
        r for r in emulator.store.all_requests()
        if r.method == "GET" and r.path.endswith(interaction.id) and "stream=true" in r.query
    ]  # fmt: skip
    assert replays == []
    upstream = model_text(interaction.all_steps()).split()
    shown = shown_words(tab.frames)
    assert len(shown) < 1500 and shown == upstream[: len(shown)]
    saved = model_text(turn_row(b, turn, "steps")[0]).split()
    assert len(saved) < 1500 and saved == upstream[: len(saved)]
    await tab.close()


async def test_twenty_replies_at_once_reach_tabs_on_both_processes_whole(apart, people):
    """The bench's two-process row (`python -m bench --scenarios scaleout`) at CI size: 20
    replies streaming at once, half run by A and half by B, each watched by a tab on the
    process that runs it and one on the other: no tab loses or doubles a character."""
    names = [f"person{n:02d}" for n in (8, 9, 11, *range(13, 30))]  # 2 messages each: 4/m
    streams = []
    for i, name in enumerate(names):
        owner, other = apart[i % 2], apart[1 - i % 2]
        person = await people(owner, name)
        streams.append((person, other, await person.new_conversation("hi [emulator:words=2]")))
    for person, _, conversation in streams:
        await finished(person, conversation)
    tabs = [
        (await person.tab(conversation), await person.on(other).tab(conversation))
        for person, other, conversation in streams
    ]
    sent = await asyncio.gather(
        *(
            person.send(conversation, "go on [emulator:words=150]")
            for person, _, conversation in streams
        )
    )
    assert [r.status_code for r in sent] == [302] * len(streams)
    for pair in tabs:
        for tab in pair:
            await tab.read_until(lambda f: is_status(f, "completed"), timeout=60)
    for local, remote in tabs:
        status, steps = turn_row(apart[0], turn_id_of(local.frames))
        saved = model_text(steps).split()
        assert status == "completed" and len(saved) == 150
        assert len(delta_frames(remote.frames)) >= 3  # it streamed there, not only at the end
        assert shown_words(local.frames) == saved
        assert shown_words(remote.frames) == saved
        await local.close()
        await remote.close()


class RelaySpy:
    """Listens on the relay's group in the site's Redis, as a third process would, and keeps
    the frames relayed for one conversation."""

    def __init__(self, conversation_id):
        from channels_redis.core import RedisChannelLayer

        _, redis = services_or_skip()
        url = f"{redis.rsplit('/', 1)[0]}/{APART_REDIS}"
        self.layer = RedisChannelLayer(hosts=[{"address": url, "socket_timeout": None}])
        self.conversation_id = conversation_id
        self.frames: list[str] = []

    async def __aenter__(self):
        self.channel = await self.layer.new_channel()
        await self.layer.group_add("chatsite.relay", self.channel)
        self.task = asyncio.create_task(self._listen())
        return self

    async def _listen(self):
        while True:
            message = await self.layer.receive(self.channel)
            for conversation_id, _, _, frames in message.get("items", ()):
                if conversation_id == self.conversation_id:
                    self.frames += frames

    async def __aexit__(self, *exc):
        await asyncio.sleep(0.5)  # the last batches (sent within a flush interval)
        self.task.cancel()
        await self.layer.group_discard("chatsite.relay", self.channel)
        await self.layer.close_pools()


async def test_a_reply_nobody_elsewhere_watches_stays_off_the_relay_after_its_first_moments(
    apart, people
):
    """Relaying a reply no other process shows costs Redis for nothing (issue 16): after its
    grace, it goes out only once a tab on another process watches the conversation."""
    a, b = apart
    on_a = await people(a, "person10")
    conversation = await on_a.new_conversation("hi [emulator:words=2]")
    await finished(on_a, conversation)
    here = await on_a.tab(conversation)  # a tab on the process that runs it: local, no relay
    async with RelaySpy(conversation) as spy:
        await on_a.send(conversation, f"go on [emulator:words=160]{SLOW}")  # ~4 s
        await here.read_until(lambda f: is_status(f, "completed"))
    unwatched = shown_words(spy.frames)
    assert len(unwatched) < 80, f"{len(unwatched)} of 160 words relayed with nobody watching"

    there = await on_a.on(b).tab(conversation)  # now B watches it
    await asyncio.sleep(1)  # B's "watch" reaches A (A would relay anyway during the grace)
    async with RelaySpy(conversation) as spy:
        await on_a.send(conversation, f"and more [emulator:words=160]{SLOW}")
        await there.read_until(lambda f: is_status(f, "completed"), timeout=60)
    assert len(shown_words(there.frames)) == 160  # B shows the whole reply
    assert len(shown_words(spy.frames)) == 160  # and it came through the relay
    await here.close()
    await there.close()
