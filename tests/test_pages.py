"""Pages: sign-in, sign-up, the conversation list, new conversation, send and stop by POST."""

import re

import pytest
from django.urls import reverse

from chatsite.chat.models import Conversation, Turn

from .helpers import model_text, turns_in, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_page_has_the_standard_fields(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'name="username"' in page and 'name="password"' in page


def test_pages_need_sign_in(client):
    for url in ("/", "/c/", "/c/1/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_sign_in_then_home_shows_the_composer(client, user, password):
    response = client.post("/accounts/login/", {"username": "ada", "password": password})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert '<form id="composer"' in page and 'name="message"' in page
    assert ">Send</button>" in page


def test_sign_up_creates_an_account_and_signs_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "grace",
            "password1": "a-long-pass-phrase-1",
            "password2": "a-long-pass-phrase-1",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_sign_up_can_be_turned_off(client, settings):
    settings.ALLOW_SIGNUP = False
    assert client.get("/accounts/signup/").status_code == 404
    assert "Create an account" not in client.get("/accounts/login/").content.decode()


def test_sign_out_is_a_post(client, user):
    client.force_login(user)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_offline_banner_says_the_app_runs_on_the_emulator(client, user, settings):
    client.force_login(user)
    assert "built-in emulator" in client.get("/").content.decode()
    settings.GEMINI_EMULATED = False
    assert "built-in emulator" not in client.get("/").content.decode()


def test_api_key_never_reaches_a_page(client, user, settings):
    settings.GEMINI_API_KEY = "AIzaSy-very-secret-key"
    client.force_login(user)
    assert "very-secret" not in client.get("/").content.decode()


async def test_first_message_creates_the_conversation_and_its_address(async_client, user):
    await async_client.aforce_login(user)
    response = await async_client.post("/c/new/", {"message": "hello there"})
    convo = await Conversation.objects.aget(owner=user)
    assert response.status_code == 302 and response["Location"] == f"/c/{convo.pk}/"
    assert convo.title == "hello there"
    turn = await Turn.objects.aget(conversation=convo)
    turn = await wait_for_turn(turn.pk)
    assert turn.status == "completed" and "hello there" in model_text(turn.steps)


async def test_first_message_by_htmx_swaps_in_the_conversation_and_pushes_its_url(
    async_client, user
):
    await async_client.aforce_login(user)
    response = await async_client.post("/c/new/", {"message": "hi"}, headers={"HX-Request": "true"})
    convo = await Conversation.objects.aget(owner=user)
    assert response["HX-Push-Url"] == f"/c/{convo.pk}/"
    body = response.content.decode()
    assert f'ws-connect="/ws/c/{convo.pk}/"' in body and "data-turn-id" in body
    turn = await Turn.objects.aget(conversation=convo)
    await wait_for_turn(turn.pk)


async def test_empty_or_oversized_message_gets_a_clear_error(async_client, user):
    await async_client.aforce_login(user)
    response = await async_client.post("/c/new/", {"message": "  "}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and "Type a message first" in response.content.decode()
    assert response["HX-Reswap"] == "none"  # the typed text stays in the composer
    response = await async_client.post("/c/new/", {"message": "x" * 100_001})
    assert response.status_code == 422 and "limit is 100,000" in response.content.decode()
    assert not await Conversation.objects.aexists()


async def test_send_while_a_reply_runs_is_refused_until_it_ends(async_client, user):
    await async_client.aforce_login(user)
    await async_client.post("/c/new/", {"message": "slow [emulator:pace=20] [emulator:words=200]"})
    convo = await Conversation.objects.aget(owner=user)
    response = await async_client.post(reverse("send", args=[convo.pk]), {"message": "again"})
    assert response.status_code == 409 and "press Stop" in response.content.decode()
    assert (await async_client.post(reverse("stop", args=[convo.pk]))).status_code == 302
    turn = await Turn.objects.aget(conversation=convo)
    turn = await wait_for_turn(turn.pk)
    assert turn.status == "cancelled"


async def test_conversation_page_shows_the_saved_reply(async_client, user):
    await async_client.aforce_login(user)
    await async_client.post("/c/new/", {"message": "remember me"})
    convo = await Conversation.objects.aget(owner=user)
    turn = await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)
    page = (await async_client.get(f"/c/{convo.pk}/")).content.decode()
    assert f'data-turn-id="{turn.pk}"' in page
    assert 'data-role="user"' in page and 'data-status="completed"' in page
    assert 'data-step-type="model_output"' in page
    assert "<strong>Turn 1" in page  # the reply, rendered from markdown


async def test_other_users_conversation_is_not_found(async_client, user, other_user):
    convo = await Conversation.objects.acreate(owner=user, title="private", model="m")
    await async_client.aforce_login(other_user)
    assert (await async_client.get(f"/c/{convo.pk}/")).status_code == 404
    assert (await async_client.post(f"/c/{convo.pk}/send/", {"message": "x"})).status_code == 404
    assert (await async_client.post(f"/c/{convo.pk}/stop/")).status_code == 404


def test_conversation_list_shows_only_mine(client, user, other_user):
    Conversation.objects.create(owner=user, title="mine", model="m")
    Conversation.objects.create(owner=other_user, title="theirs", model="m")
    client.force_login(user)
    page = client.get("/c/").content.decode()
    assert "mine" in page and "theirs" not in page


def test_static_assets_are_served_by_the_app(client):
    assert client.get("/static/chatsite/chat.js").status_code == 200
    assert client.get("/static/django_htmx/ext/hx-ws-2.min.js").status_code == 200


def make_turns(convo, n):
    Turn.objects.bulk_create(
        Turn(conversation=convo, status="completed",
             user_input=[{"type": "text", "text": f"question {i}"}])
        for i in range(n)
    )  # fmt: skip


def test_a_long_conversation_shows_its_latest_turns_and_loads_earlier_ones(
    client, user, django_assert_max_num_queries
):
    convo = Conversation.objects.create(owner=user, title="long", model="m")
    make_turns(convo, 75)
    client.force_login(user)
    with django_assert_max_num_queries(10):
        page = client.get(f"/c/{convo.pk}/").content.decode()
    assert turns_in(page) == 30 and "question 74" in page and "question 44" not in page
    earlier = re.search(r'hx-get="(/c/\d+/earlier/\?before=\d+)"', page).group(1)
    more = client.get(earlier).content.decode()
    assert turns_in(more) == 30 and "question 15" in more and "question 45" not in more
    last = re.search(r'hx-get="(/c/\d+/earlier/\?before=\d+)"', more).group(1)
    rest = client.get(last).content.decode()
    assert turns_in(rest) == 15 and "question 0" in rest and "Show earlier" not in rest


def test_earlier_turns_of_someone_else_are_not_found(client, user, other_user):
    convo = Conversation.objects.create(owner=user, title="long", model="m")
    make_turns(convo, 3)
    client.force_login(other_user)
    assert client.get(f"/c/{convo.pk}/earlier/?before=999").status_code == 404


async def test_sending_by_htmx_answers_with_the_cleared_error_and_the_model_in_use(
    async_client, user
):
    convo = await Conversation.objects.acreate(owner=user, title="t", model="gemini-3.5-flash")
    await async_client.aforce_login(user)
    response = await async_client.post(
        f"/c/{convo.pk}/send/", {"message": "hi", "model": "gemini-3.1-pro-preview"},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="composer-error" role="alert" hx-swap-oob="true"></p>' in body
    assert re.search(
        r'id="conversation-model"[^>]*hx-swap-oob="true">gemini-3.1-pro-preview<', body
    )
    assert 'id="main-head"' not in body  # small: drawn while the reply's request is under way
    await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)
