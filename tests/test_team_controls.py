"""Team controls: invites, a message rate per person, a daily token budget, the model list."""

import datetime
import json
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chatsite.chat import limits
from chatsite.chat.models import Conversation, Invite, Turn

from .helpers import wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)


async def test_message_rate_limit_refuses_with_a_clear_message_and_saves_nothing(
    async_client, user, settings
):
    settings.RATE_LIMIT_MESSAGES = "2/m"
    await async_client.aforce_login(user)
    for text in ("one", "two"):
        response = await async_client.post("/c/new/", {"message": text})
        assert response.status_code == 302
    response = await async_client.post(
        "/c/new/", {"message": "three"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 429
    body = response.content.decode()
    assert "You have sent 2 messages this minute" in body and "Try again in" in body
    assert await Conversation.objects.acount() == 2
    for turn in [t async for t in Turn.objects.all()]:
        await wait_for_turn(turn.pk)


async def test_daily_token_budget_stops_sending_until_tomorrow(async_client, user, settings):
    settings.DAILY_TOKEN_BUDGET = 100
    convo = await Conversation.objects.acreate(owner=user, title="t", model="gemini-3.5-flash")
    await Turn.objects.acreate(conversation=convo, status="completed", total_tokens=150)
    await async_client.aforce_login(user)
    response = await async_client.post(f"/c/{convo.pk}/send/", {"message": "more"})
    assert response.status_code == 429
    assert "today&#x27;s budget of 100 tokens" in response.content.decode()
    # Yesterday's tokens do not count against today.
    await Turn.objects.all().aupdate(created_at=timezone.now() - datetime.timedelta(days=1))
    response = await async_client.post(f"/c/{convo.pk}/send/", {"message": "more"})
    assert response.status_code == 302
    await wait_for_turn((await Turn.objects.order_by("-pk").afirst()).pk)


async def test_a_model_no_longer_on_the_list_cannot_be_used(async_client, user):
    convo = await Conversation.objects.acreate(owner=user, title="t", model="gemini-1.0-pro")
    await async_client.aforce_login(user)
    response = await async_client.post(f"/c/{convo.pk}/send/", {"message": "hi"})
    assert response.status_code == 429
    assert "“gemini-1.0-pro” is not offered here any more" in response.content.decode()


@pytest.fixture
async def sent_the_one_allowed(user, open_tab, settings):
    """A tab whose person may send one message an hour, and has: (conversation, tab)."""
    settings.RATE_LIMIT_MESSAGES = "1/h"
    convo = await Conversation.objects.acreate(owner=user, title="t", model="gemini-3.5-flash")
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": "first"})
    await tab.receive_until(lambda f: '"completed"' in f)
    yield convo, tab
    await tab.close()


async def refusal(tab, message: str) -> str:
    await tab.send({"action": "send", "message": message})
    return await tab.receive_until(lambda f: f.startswith('{"error"'))


async def test_limits_apply_to_the_socket_too(sent_the_one_allowed):
    _, tab = sent_the_one_allowed
    assert "messages this hour" in await refusal(tab, "second")


async def test_a_message_over_the_rate_has_its_request_cancelled_and_is_not_saved(
    sent_the_one_allowed, emulator, monkeypatch
):
    """The rate is counted beside the request (a Redis round trip in production): a message
    over it had its request sent, which is cancelled at once."""
    convo, tab = sent_the_one_allowed
    first = emulator.store.last_interaction()
    count = limits.get_usage

    def slow_count(*args, **kwargs):  # a slow Redis: the request gets there first
        deadline = time.monotonic() + 10
        while emulator.store.last_interaction() is first and time.monotonic() < deadline:
            time.sleep(0.005)
        return count(*args, **kwargs)

    monkeypatch.setattr(limits, "get_usage", slow_count)
    error = await refusal(tab, "second [emulator:pace=20] [emulator:words=400]")
    assert "messages this hour" in error
    sent = emulator.store.last_interaction()
    assert sent is not first  # the request had left
    assert await sync_to_async(emulator.store.wait_disconnect)(sent.id, 5)  # and was cancelled
    assert await Turn.objects.filter(conversation=convo).acount() == 1


async def test_a_person_seen_over_the_rate_is_refused_without_a_request(
    sent_the_one_allowed, emulator, monkeypatch
):
    _, tab = sent_the_one_allowed
    await refusal(tab, "second")
    third = f"third {uuid.uuid4()}"
    count = limits.get_usage

    def slow_count(*args, **kwargs):  # were it counted beside a request, that would arrive
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not any(
            third in json.dumps(b) for b in emulator.store.create_bodies()
        ):
            time.sleep(0.005)
        return count(*args, **kwargs)

    monkeypatch.setattr(limits, "get_usage", slow_count)
    error = await refusal(tab, third)
    assert "messages this hour" in error and "Try again in" in error
    sent = [json.dumps(r.body) for r in emulator.store.create_requests()]
    assert not any(third in body for body in sent)  # it never went upstream


def make_invite(admin, **kw):
    return Invite.objects.create(
        created_by=admin, note="for grace",
        expires_at=kw.pop("expires_at", timezone.now() + datetime.timedelta(days=7)), **kw,
    )  # fmt: skip


def test_an_invite_signs_someone_up_even_with_open_sign_up_off(client, make_user, settings):
    settings.ALLOW_SIGNUP = False
    invite = make_invite(make_user("boss", is_staff=True))
    page = client.get(f"/accounts/invite/{invite.token}/")
    assert page.status_code == 200 and "You were invited by boss" in page.content.decode()
    response = client.post(
        f"/accounts/invite/{invite.token}/",
        {
            "username": "grace",
            "password1": "a-long-pass-phrase-1",
            "password2": "a-long-pass-phrase-1",
        },
    )
    assert response.status_code == 302
    invite.refresh_from_db()
    assert invite.used_by.username == "grace"
    client.logout()
    again = client.get(f"/accounts/invite/{invite.token}/")
    assert again.status_code == 410 and "cannot be used" in again.content.decode()


def test_an_expired_or_unknown_invite_cannot_be_used(client, make_user):
    invite = make_invite(make_user("boss"), expires_at=timezone.now() - datetime.timedelta(hours=1))
    assert client.get(f"/accounts/invite/{invite.token}/").status_code == 410
    assert client.get("/accounts/invite/not-a-token/").status_code == 410
