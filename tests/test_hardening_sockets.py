"""The conversation socket under attack and as the account changes: deep JSON, concurrent sends
against one budget, sign-ins that end while a socket is open (issue 10, items 2, 5, 6, 8, 10).

In-process sockets (Channels' communicator) for the rules; a real daphne process for what only
a real server shows: its event loop under a resume flood, its send buffer, its frame limit.
"""

import asyncio
import datetime
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from chatsite.chat.models import Turn

from .conftest import Tab
from .helpers import make_conversation, wait_for_turn

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
    from chatsite.asgi import application

    async def open_(user, conversation_id, *, expiry=None):
        client = await sync_to_async(signed_in_client)(user, expiry=expiry)
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        headers = [
            (b"origin", b"http://localhost"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode()),
        ]
        tab = Tab(WebsocketCommunicator(application, f"/ws/c/{conversation_id}/", headers=headers))
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
    frame = await tab.receive_until(lambda f: "data-turn-id" in f)
    return int(frame.split('data-turn-id="')[1].split('"')[0])


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
                lambda f: f.startswith('{"error"') or "data-turn-id" in f
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
