"""The conversation socket under attack and as the account changes: deep JSON, concurrent sends
against one budget, sign-ins that end while a socket is open (issue 10, items 2, 5, 6, 8, 10).

In-process sockets (Channels' communicator) for the rules; a real daphne process for what only
a real server shows: its event loop under a resume flood, its send buffer, its frame limit.
"""

import asyncio
import datetime
import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from chatsite.chat.consumers import MAX_SEND_BYTES
from chatsite.chat.models import Turn

from .conftest import session_cookie_of, socket_tab
from .helpers import added_turn_id, make_conversation, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)

WITHIN = 1.0  # the issue: sockets close within a second of the sign-in ending


# -- helpers ---------------------------------------------------------------------------------
def signed_in_client(user, *, expiry=None) -> Client:
    client = Client()
    client.force_login(user)
    if expiry is not None:
        session = client.session
        session.set_expiry(expiry)
        session.save()
    return client


@pytest.fixture
def open_signed_in_tab():
    """open(user, conversation_id, expiry=None) → (tab, session key): a socket on a sign-in of
    its own, so a test can end exactly that one."""

    async def open_(user, conversation_id, *, expiry=None):
        client = await sync_to_async(signed_in_client)(user, expiry=expiry)
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        tab = socket_tab(f"/ws/c/{conversation_id}/", session_cookie_of(client))
        connected, _ = await tab.connect()
        assert connected
        return tab, key

    return open_


async def closed_with(tab, timeout) -> int | None:
    """The close code the socket gets within `timeout` (frames before it are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            output = await tab.ws.receive_output(timeout=max(0.01, deadline - loop.time()))
        except TimeoutError:
            return None
        if output["type"] == "websocket.close":
            return output.get("code")


async def added_turn(tab) -> int:
    return added_turn_id(await tab.receive_until(lambda f: added_turn_id(f) is not None))


# -- item 10: deep nesting -------------------------------------------------------------------
async def test_deeply_nested_json_gets_an_error_frame_and_the_socket_stays(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    await tab.ws.send_to(text_data="[" * 150_000)
    assert "not valid JSON" in json.loads(await tab.receive())["error"]
    await tab.send({"action": "resume", "turns": [], "after": 0})
    await tab.send({"action": "bogus"})
    assert "Unknown action" in json.loads(await tab.receive())["error"]  # still open
    await tab.close()


# -- item 6: one reply at a time, a budget that counts running replies ------------------------
async def test_five_sends_at_once_on_one_socket_start_one_reply(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    for i in range(5):
        await tab.send(
            {"action": "send", "message": f"go {i} [emulator:pace=20] [emulator:words=60]"}
        )
    errors = []
    while len(errors) < 4:
        frame = await tab.receive()
        if frame.startswith('{"error"'):
            errors.append(json.loads(frame)["error"])
    assert all("Wait for the reply to finish" in e for e in errors)
    assert await Turn.objects.filter(conversation=convo).acount() == 1
    turn = await Turn.objects.aget(conversation=convo)
    assert (await wait_for_turn(turn.pk)).status == "completed"
    await tab.close()


async def test_the_page_hears_whether_the_message_it_sent_was_saved_by_its_id(user, open_tab):
    """The page keeps the words in its box until it hears back about them (composer.js)."""
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": "   ", "id": "m1"})
    refused = json.loads(await tab.receive_until(lambda f: f.startswith('{"error"')))
    assert refused["for"] == "m1" and "Type a message first" in refused["error"]

    await tab.send({"action": "send", "message": "hello [emulator:pace=0]", "id": "m2"})
    assert json.loads(await tab.receive_until(lambda f: f.startswith('{"sent"'))) == {"sent": "m2"}
    turn = await Turn.objects.aget(conversation=convo)  # saved before the answer
    assert turn.user_input[0]["text"] == "hello [emulator:pace=0]"
    await wait_for_turn(turn.pk)

    # An id that is not short text is not echoed: the message is handled as one without.
    await tab.send({"action": "send", "message": "  ", "id": {"x": 1}})
    assert json.loads(await tab.receive_until(lambda f: f.startswith('{"error"'))).keys() == {
        "error"
    }
    await tab.close()


async def test_concurrent_sends_in_two_conversations_overshoot_the_budget_by_one_reply_at_most(
    user, open_tab, settings
):
    settings.DAILY_TOKEN_BUDGET = 2500
    settings.RATE_LIMIT_MESSAGES = ""
    tabs = [await open_tab(user, (await make_conversation(user, f"c{i}")).pk) for i in range(2)]
    text = "spend [emulator:pace=5] [emulator:words=700]"
    refused = 0
    for _ in range(4):  # rounds of two sends at once, until the budget refuses both
        await asyncio.gather(*(t.send({"action": "send", "message": text}) for t in tabs))
        for tab in tabs:
            frame = await tab.receive_until(
                lambda f: f.startswith('{"error"') or added_turn_id(f) is not None
            )
            if frame.startswith('{"error"'):
                refused += 1
        running = Turn.objects.filter(conversation__owner=user).exclude(status__in=Turn.FINAL)
        async for turn in running:
            await wait_for_turn(turn.pk)
    totals = [t.total_tokens async for t in Turn.objects.filter(conversation__owner=user)]
    assert refused and totals and min(totals) > 0
    assert sum(totals) <= settings.DAILY_TOKEN_BUDGET + max(totals), totals
    for tab in tabs:
        await tab.close()


# -- item 5: sockets follow the sign-in ------------------------------------------------------
async def test_a_password_change_closes_the_socket(user, open_signed_in_tab):
    convo = await make_conversation(user)
    tab, _ = await open_signed_in_tab(user, convo.pk)
    user.set_password("a whole new pass phrase 9")
    await user.asave()
    assert await closed_with(tab, WITHIN) == 4401


async def test_a_sign_in_checked_once_is_not_decoded_again_until_it_or_the_password_changes(
    user, open_signed_in_tab, monkeypatch
):
    """Each message re-checks the sign-in; decoding the same stored data for the same person
    and password again gives the same answer, so it is done once (issue 16: the first token)."""
    from django.contrib.sessions.backends.db import SessionStore

    decoded = []
    decode = SessionStore.decode

    def counted(self, session_data):
        decoded.append(session_data)
        return decode(self, session_data)

    monkeypatch.setattr(SessionStore, "decode", counted)
    convo = await make_conversation(user)
    tab, _ = await open_signed_in_tab(user, convo.pk)
    await tab.send({"action": "bogus"})  # answered once the connect's own check is done
    assert "Unknown action" in json.loads(await tab.receive())["error"]
    assert decoded  # checked at connect (with Channels' own load of the session)
    decoded.clear()
    for _ in range(3):
        await tab.send({"action": "bogus"})
        assert "Unknown action" in json.loads(await tab.receive())["error"]
    assert decoded == []  # not per message
    user.set_password("a whole new pass phrase 9")
    await user.asave()
    assert await closed_with(tab, WITHIN) == 4401  # the new password is not the one verified
    assert len(decoded) == 1


async def test_a_password_reset_through_the_form_closes_the_socket(user, open_signed_in_tab):
    convo = await make_conversation(user)
    tab, _ = await open_signed_in_tab(user, convo.pk)

    def reset():
        new = "reset pass phrase 77 x"
        form = SetPasswordForm(user, {"new_password1": new, "new_password2": new})
        assert form.is_valid(), form.errors
        form.save()

    await sync_to_async(reset)()
    assert await closed_with(tab, WITHIN) == 4401


async def test_deleting_the_session_closes_its_socket_only(user, open_signed_in_tab):
    convo = await make_conversation(user)
    tab, key = await open_signed_in_tab(user, convo.pk)
    other, _ = await open_signed_in_tab(user, convo.pk)
    await Session.objects.filter(session_key=key).adelete()
    assert await closed_with(tab, WITHIN) == 4401
    await other.send({"action": "bogus"})  # another sign-in of the same person stays
    assert "Unknown action" in json.loads(await other.receive())["error"]
    await other.close()


async def test_signing_out_closes_that_sign_ins_sockets(user, open_signed_in_tab):
    convo = await make_conversation(user)
    tab, key = await open_signed_in_tab(user, convo.pk)

    def sign_out():
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = key
        assert client.post("/accounts/logout/").status_code == 302

    await sync_to_async(sign_out)()
    assert await closed_with(tab, WITHIN) == 4401


async def test_a_session_that_expires_closes_its_socket(user, open_signed_in_tab):
    convo = await make_conversation(user)
    tab, _ = await open_signed_in_tab(user, convo.pk, expiry=2)
    await tab.send({"action": "bogus"})
    assert "Unknown action" in json.loads(await tab.receive())["error"]
    assert await closed_with(tab, 2 + WITHIN) == 4401


async def test_sign_out_everywhere_closes_every_socket(user, open_signed_in_tab):
    convo = await make_conversation(user)
    first, _ = await open_signed_in_tab(user, convo.pk)
    second, _ = await open_signed_in_tab(user, convo.pk)

    def sign_out_everywhere():
        client = signed_in_client(user)
        page = client.get("/")
        assert b"Sign out everywhere" in page.content
        assert client.post("/accounts/sign-out-everywhere/").status_code == 302
        return client.get("/").status_code

    assert await sync_to_async(sign_out_everywhere)() == 302  # this browser is signed out too
    assert await closed_with(first, WITHIN) == 4401
    assert await closed_with(second, WITHIN) == 4401
    assert not await Session.objects.filter(expire_date__gt=timezone.now()).aexists()


async def test_every_message_checks_the_sign_in_again(user, open_signed_in_tab, django_user_model):
    """Changes made behind Django's back (no signal) are still seen at the next message."""
    from django.contrib.auth.hashers import make_password

    convo = await make_conversation(user)
    expired, key = await open_signed_in_tab(user, convo.pk)
    await Session.objects.filter(session_key=key).aupdate(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    await expired.send({"action": "resume", "turns": [], "after": 0})
    assert await closed_with(expired, 3) == 4401

    stale, _ = await open_signed_in_tab(user, convo.pk)
    await django_user_model.objects.filter(pk=user.pk).aupdate(password=make_password("x y z w"))
    await stale.send({"action": "send", "message": "still me?"})
    assert await closed_with(stale, 3) == 4401
    assert not await Turn.objects.filter(conversation=convo).aexists()


# -- a real daphne process: items 2 and 8 ----------------------------------------------------
SEED_TURNS = 200
SEED = f"""
from django.contrib.auth.models import User
from chatsite.chat.models import Conversation, Turn
from chatsite.emulator.prose import filler_words
ada = User.objects.get(username="ada")
convo = Conversation.objects.create(owner=ada, title="long", model="gemini-3.5-flash")
text = filler_words(1500)
Turn.objects.bulk_create(
    Turn(conversation=convo, model="gemini-3.5-flash", status="completed",
         user_input=[{{"type": "text", "text": f"question {{i}}"}}],
         steps=[{{"type": "model_output", "content": [{{"type": "text", "text": text}}]}}])
    for i in range({SEED_TURNS})
)
print(convo.pk)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One daphne process (as `make run` starts it) with a conversation of 200 long turns."""

    from chatsite.emulator.server import EmulatorServer

    from .servers import AppProcess, app_env, fresh_postgres_database, manage, set_up_site

    var = tmp_path_factory.mktemp("hardening")
    with EmulatorServer(host="127.0.0.1", port=0, pace_ms=0) as emulator:
        extra = {"RATE_LIMIT_MESSAGES": ""}
        database = fresh_postgres_database("chatsite_hardening")
        if database:
            extra["DATABASE_URL"] = database
        env = app_env(var, emulator.base_url, **extra)
        # One process on the in-memory layer: what is measured here is the process's own loop
        # and buffers (tests/test_scale_out.py covers Redis and the relay).
        env.pop("REDIS_URL", None)
        set_up_site(env)
        long_conversation = int(manage(env, "shell", "-c", SEED).strip().splitlines()[-1])
        app = AppProcess(env, var / "daphne.log")
        app.long_conversation = long_conversation
        yield app
        app.stop()


def sign_in(base_url):
    import re

    import httpx

    from .servers import PASSWORD

    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/accounts/login/",
        data={"username": "ada", "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/accounts/login/"},
    )
    assert response.status_code == 302
    return client


def cookie_of(client) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


async def open_socket(app, client, conversation_id):
    import websockets

    return await websockets.connect(
        f"ws://127.0.0.1:{app.port}/ws/c/{conversation_id}/",
        additional_headers={"Cookie": cookie_of(client), "Origin": app.url},
        max_size=None,
    )


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


RESUME_ALL = json.dumps({"action": "resume", "turns": [], "after": 0})


@pytest.mark.timeout(300)
async def test_a_resume_flood_from_several_sockets_does_not_stall_healthz(site):
    import httpx

    client = await sync_to_async(sign_in)(site.url)
    sockets = [await open_socket(site, client, site.long_conversation) for _ in range(4)]
    turns_shown, refused = [0], [0]

    async def flood(ws):
        for _ in range(10):
            await ws.send(RESUME_ALL)
        with pytest.raises(TimeoutError):  # reads until the server has nothing more to say
            async with asyncio.timeout(200):
                while True:
                    frame = await asyncio.wait_for(ws.recv(), 3)
                    turns_shown[0] += frame.count("data-turn-id=")
                    refused[0] += "Too many resume" in frame

    latencies = []

    async def ping(done):
        async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
            while not done.is_set():
                started = asyncio.get_running_loop().time()
                health = await http.get("/healthz")
                assert health.status_code == 200, health.text
                latencies.append(asyncio.get_running_loop().time() - started)
                await asyncio.sleep(0.05)

    done = asyncio.Event()
    pinger = asyncio.create_task(ping(done))
    await asyncio.gather(*(flood(ws) for ws in sockets))
    done.set()
    await pinger
    for ws in sockets:
        await ws.close()
    # /healthz kept answering at once throughout (it took 4-10 s before).
    assert len(latencies) >= 20
    assert max(latencies) < 1.0, sorted(latencies)[-5:]
    # Every resume was either answered in full or refused with a clear error (how many of each
    # depends on how fast the machine is: refusals are for resumes that come too fast).
    assert turns_shown[0] + refused[0] * SEED_TURNS == 4 * 10 * SEED_TURNS
    assert turns_shown[0] >= 4 * SEED_TURNS


def raw_socket_that_never_reads(app, client, conversation_id):
    """A websocket client that opens, then never reads: a tiny receive buffer, no recv."""
    import base64
    import os
    import socket

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", app.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/c/{conversation_id}/ HTTP/1.1\r\nHost: 127.0.0.1:{app.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}\r\nOrigin: {app.url}\r\nCookie: {cookie_of(client)}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def client_frame(text: str) -> bytes:
    import os

    payload, mask = text.encode(), os.urandom(4)
    size = len(payload)
    head = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE]) + size.to_bytes(2)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.timeout(240)
def test_a_socket_that_never_reads_is_closed_and_the_server_does_not_grow(site):
    import time

    client = sign_in(site.url)
    before = rss_bytes(site.proc.pid)
    sock = raw_socket_that_never_reads(site, client, site.long_conversation)
    # Each resume answers ~2 MB; sent for 20 s, far more than any buffer should hold.
    deadline = time.monotonic() + 20
    sent = 0
    try:
        while time.monotonic() < deadline:
            sock.sendall(client_frame(RESUME_ALL))
            sent += 1
            time.sleep(0.5)
    except OSError:
        pass  # the server closed it: what we wanted
    grown = rss_bytes(site.proc.pid) - before
    # The server closed the socket: reading what the kernel kept ends in EOF or a reset.
    sock.settimeout(10)
    received, ended = 0, False
    try:
        while chunk := sock.recv(1 << 16):
            received += len(chunk)
        ended = True
    except ConnectionResetError:
        ended = True
    except TimeoutError:
        pass
    sock.close()
    assert ended, f"still open after {received:,} bytes"
    assert grown < 40 * 1024 * 1024, f"the server grew by {grown:,} bytes for {sent} resumes"
    assert (client.get("/healthz")).status_code == 200


@pytest.mark.timeout(240)
async def test_a_turn_larger_than_a_socket_frame_reaches_the_tab_as_a_frame_it_can_use(site):
    client = await sync_to_async(sign_in)(site.url)
    ws = await open_socket(site, client, site.long_conversation)
    await ws.send(
        json.dumps(
            {
                "action": "send",
                "message": "all of it [emulator:words=200000] [emulator:delta_words=4000] "
                "[emulator:hop_words=200000]",
            }
        )
    )
    frames = []
    async with asyncio.timeout(120):
        while True:
            frame = await ws.recv()
            frames.append(frame)
            if frame.startswith('{"status"') and json.loads(frame)["status"][1] == "completed":
                break
    await ws.close()
    turn_id = json.loads(frames[-1])["status"][0]
    # The tab built the answer from text frames, each one it can take, and it ends there in
    # place (live Markdown): no frame carries the whole turn again.
    assert max(len(f.encode()) for f in frames) <= MAX_SEND_BYTES
    assert any(f.startswith(f".st-{turn_id}-") for f in frames)
    # What a tab fetches when it has not seen it is the whole finished turn.
    url = f"/c/{site.long_conversation}/turns/{turn_id}/"
    page = await sync_to_async(client.get)(url)
    assert page.status_code == 200
    assert len(page.content) > 1024 * 1024 and 'data-status="completed"' in page.text

    # A tab that opens later gets the same from its resume.
    later = await open_socket(site, client, site.long_conversation)
    await later.send(json.dumps({"action": "resume", "turns": [], "after": turn_id - 1}))
    async with asyncio.timeout(60):
        frame = await later.recv()
    assert json.loads(frame)["load"] == [[turn_id, url]]
    await later.close()


def _read_until_closed(sock, timeout: float = 15.0) -> tuple[int, bool]:
    """Everything the kernel kept for a raw socket, then whether the server had closed it."""
    sock.settimeout(timeout)
    received = 0
    try:
        while chunk := sock.recv(1 << 16):
            received += len(chunk)
    except ConnectionResetError:
        return received, True
    except TimeoutError:
        return received, False
    return received, True


@pytest.mark.timeout(240)
async def test_a_tab_that_stops_reading_during_a_long_reply_is_closed_and_others_get_it_all(site):
    client = await sync_to_async(sign_in)(site.url)
    conversation = site.long_conversation
    stalled = await asyncio.to_thread(raw_socket_that_never_reads, site, client, conversation)
    reading = await open_socket(site, client, conversation)
    # About 3 MB of frames for each tab, on top of what the stalled tab's resume asks for.
    stalled.sendall(client_frame(RESUME_ALL))
    await reading.send(
        json.dumps(
            {
                "action": "send",
                "message": "long [emulator:words=200000] [emulator:delta_words=20] "
                "[emulator:pace=1] [emulator:hop_words=200000]",
            }
        )
    )
    text_frames = 0
    async with asyncio.timeout(180):
        while True:
            frame = await reading.recv()
            text_frames += frame[:1] in ("+", "~")
            if frame.startswith('{"status"') and json.loads(frame)["status"][1] in (
                "completed",
                "failed",
            ):
                break
    await reading.close()
    # The tab that kept reading got the whole reply, in many frames.
    assert json.loads(frame)["status"][1] == "completed"
    assert text_frames > 100
    received, closed = await asyncio.to_thread(_read_until_closed, stalled)
    stalled.close()
    assert closed, f"the stalled socket is still open after {received:,} bytes"
    # It was closed for falling behind, holding at most WS_MAX_BUFFER_BYTES (2 MiB) unsent, not
    # the reply and the resume (several MB).
    log = site.log_path.read_text()
    # (Whichever bound saw it first: the hub's per frame queued, daphne_guard's per send.)
    said = r"(?:websocket that stopped reading|a socket fell behind) \((\d+) bytes unsent\)"
    held = [int(n) for n in re.findall(said, log)]
    assert held, "no socket was closed for falling behind"
    assert max(held) <= 2 * 1024 * 1024, held
    assert (await sync_to_async(client.get)("/healthz")).status_code == 200
