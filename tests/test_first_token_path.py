"""What happens between a posted message and its request upstream (issue 16, item 1): only the
reads the request needs; the turn's INSERT runs while the request is on its way. Counted, not
timed: a count holds on any machine (`make bench` times it)."""

import time

import channels.consumer
import pytest
from asgiref.sync import sync_to_async
from django.db import DatabaseError

from chatsite.chat import consumers, upstream
from chatsite.chat.models import Turn

from .helpers import is_status, make_conversation, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def statements(monkeypatch):
    """Every SQL statement the process runs, in order (any thread)."""
    from django.db.backends import utils

    seen: list[str] = []
    execute = utils.CursorWrapper.execute

    def recording(self, sql, params=None):
        seen.append(sql)
        return execute(self, sql, params)

    monkeypatch.setattr(utils.CursorWrapper, "execute", recording)
    return seen


@pytest.fixture
async def before_upstream(monkeypatch, statements):
    """The statements run before the reply's request left for the API."""
    client = upstream.client()
    stream_create = client.stream_create
    cut: list[list[str]] = []

    def sending(body):
        cut.append(list(statements))
        return stream_create(body)

    monkeypatch.setattr(client, "stream_create", sending)
    return cut


def _path(sent: list[str], after: list[str]) -> list[str]:
    """The statements before the request left, having checked that the turn's INSERT came
    after it. The lease watcher renews running turns' leases on its own clock, whatever is
    being sent: those are left out."""
    assert any(s.startswith('INSERT INTO "chat_turn"') for s in after[len(sent) :]), after
    return [s for s in sent if '"lease_expires_at" = ' not in s]


def _writes(path: list[str]) -> list[str]:
    return [s for s in path if not s.lstrip().upper().startswith("SELECT")]


async def test_a_posted_message_goes_upstream_after_eight_reads_and_no_write(
    async_client, user, before_upstream, statements
):
    convo = await make_conversation(user)
    await async_client.aforce_login(user)
    for words in ("first", "second"):  # the second continues a branch: the usual case
        statements.clear()
        before_upstream.clear()
        await async_client.post(f"/c/{convo.pk}/send/", {"message": words, "model": convo.model})
        await wait_for_turn((await Turn.objects.alatest("pk")).pk)
    [sent] = before_upstream
    path = _path(sent, statements)
    assert _writes(path) == []
    # The session, the person, their account, the conversation, the tools on offer (two, for
    # the form), the busy check with the branch on screen, the branch's turns.
    assert len(path) <= 8, "\n".join(s[:100] for s in path)
    assert sum('FROM "chat_turn"' in s for s in path) == 2  # the busy check, the branch
    assert sum('FROM "auth_user"' in s for s in path) == 1  # the person, fetched once
    assert sum('FROM "chat_account"' in s for s in path) == 1  # their account, once


async def test_a_message_sent_on_the_socket_goes_upstream_after_one_read_and_no_write(
    user, open_tab, before_upstream, statements
):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    for words in ("first", "second"):
        statements.clear()
        before_upstream.clear()
        await tab.send({"action": "send", "message": words})
        await tab.receive_until(lambda frame: is_status(frame, "completed"))
    [sent] = before_upstream
    path = _path(sent, statements)
    assert _writes(path) == []
    # One: the conversation with its owner, their account, the sign-in, the busy check, the
    # mark of its turns (ownership and the sign-in are re-checked per message) and the parent's
    # interaction. Not the whole tree: the first message left the next one's parent known.
    assert len(path) == 1, "\n".join(s[:100] for s in path)
    assert not any("ORDER BY" in s for s in path), path


@pytest.fixture
def trips(monkeypatch):
    """The trips to the database thread, in order: ours by function, and the consumer's
    check of old connections (Channels' test tools make its function a no-op)."""
    from asgiref.sync import SyncToAsync

    seen: list[str] = []
    call = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        if getattr(self.func, "__module__", "").startswith("chatsite."):
            seen.append(self.func.__qualname__)
        return await call(self, *args, **kwargs)

    check = channels.consumer.aclose_old_connections

    async def counted_check():
        seen.append("close_old_connections")
        return await check()

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted_check)  # its own
    monkeypatch.setattr(consumers, "aclose_old_connections", counted_check)  # ours
    return seen


async def test_a_message_sent_on_the_socket_goes_upstream_after_one_trip_to_the_database(
    user, open_tab, before_upstream, trips, monkeypatch
):
    """Its access check (ownership, the sign-in) rides with its own checks, and the check of
    old connections Channels makes before every message is made now and then instead: each
    trip to the database thread and back costs about half a millisecond of the first token."""
    monkeypatch.setattr(consumers, "CONNECTIONS_CHECK_EVERY", 3600.0)
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    trips.clear()
    await tab.send({"action": "send", "message": "hello"})
    await tab.receive_until(lambda frame: is_status(frame, "completed"))
    [_] = before_upstream
    before = trips[: trips.index("_save")]  # the INSERT's trip follows the request
    assert before == ["_prepare"], trips


async def test_old_connections_are_still_checked_when_due(user, open_tab, trips, monkeypatch):
    monkeypatch.setattr(consumers, "CONNECTIONS_CHECK_EVERY", 0.0)
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    trips.clear()
    await tab.send({"action": "resume", "turns": [], "after": 0})
    await tab.send({"action": "bogus"})
    await tab.receive_until(lambda frame: "Unknown action" in frame)
    assert trips.count("close_old_connections") == 2  # one before each message


async def test_a_socket_that_lost_its_conversation_sends_nothing_upstream(
    user, open_tab, before_upstream
):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    await convo.adelete()
    await tab.send({"action": "send", "message": "hello"})
    output = await tab.ws.receive_output(timeout=5)
    while output["type"] != "websocket.close":  # frames sent before it (none expected)
        output = await tab.ws.receive_output(timeout=5)
    assert output["code"] == 4403
    assert before_upstream == []


async def test_a_failed_insert_cancels_the_request_sent_beside_it(
    async_client, user, emulator, monkeypatch
):
    convo = await make_conversation(user)
    await async_client.aforce_login(user)
    before = emulator.store.last_interaction()

    def slow_failing_save(turn, *args, **kwargs):
        # A slow INSERT that fails: the request it was racing has reached the API by then.
        deadline = time.monotonic() + 10
        while emulator.store.last_interaction() is before and time.monotonic() < deadline:
            time.sleep(0.005)
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(Turn, "save", slow_failing_save)
    with pytest.raises(DatabaseError):
        await async_client.post(
            f"/c/{convo.pk}/send/",
            {"message": "a long one [emulator:pace=20] [emulator:words=500]", "model": convo.model},
        )
    sent = emulator.store.last_interaction()
    assert sent is not before  # the request had left
    assert await sync_to_async(emulator.store.wait_disconnect)(sent.id, 5)  # and was cancelled
    assert not await Turn.objects.filter(conversation=convo).aexists()
