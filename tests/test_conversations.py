"""Conversations people manage: the sidebar by date, rename, pin, archive and delete."""

import asyncio
import hashlib
import html
import json
import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from chatsite.chat import titles
from chatsite.chat.models import Attachment, Conversation, Turn

from .helpers import wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)
HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def convo_of(user, title, *, days_ago=0, **fields):
    convo = Conversation.objects.create(owner=user, title=title, model="gemini-3.5-flash", **fields)
    when = timezone.now() - timedelta(days=days_ago)
    Conversation.objects.filter(pk=convo.pk).update(updated_at=when)
    return convo


def sidebar(page: str) -> str:
    return page[page.index('id="sidebar"') : page.index("</nav>", page.index('id="sidebar"'))]


def sidebar_titles(page: str) -> list[str]:
    link = r"data-conversation-id=\"\d+\"[^>]*>(?:<span[^>]*>.*?</span>)?([^<]*)<"
    return [html.unescape(t) for t in re.findall(link, page)]


def headings(page: str) -> list[str]:
    return re.findall(r'<h2 class="group-label">([^<]*)</h2>', sidebar(page))


# -- the sidebar ---------------------------------------------------------------------------


def test_sidebar_lists_pinned_first_then_groups_by_date(client, user):
    convo_of(user, "old news", days_ago=70)
    convo_of(user, "this month", days_ago=12)
    convo_of(user, "this week", days_ago=4)
    convo_of(user, "yesterday's", days_ago=1)
    convo_of(user, "today's")
    convo_of(user, "kept close", days_ago=40, pinned=True)
    client.force_login(user)
    page = client.get("/").content.decode()
    month = (timezone.localdate() - timedelta(days=70)).strftime("%B %Y")
    assert headings(page) == [
        "Pinned", "Today", "Yesterday", "Previous 7 days", "Previous 30 days", month,
    ]  # fmt: skip
    assert sidebar_titles(page) == [
        "kept close", "today's", "yesterday's", "this week", "this month", "old news",
    ]  # fmt: skip


def test_every_signed_in_page_has_the_sidebar_and_the_drawer_button(client, user):
    convo = convo_of(user, "mine")
    client.force_login(user)
    for url in ("/", "/c/", "/c/?archived=1", f"/c/{convo.pk}/"):
        page = client.get(url).content.decode()
        assert 'id="sidebar"' in page and "data-drawer-open" in page, url
        assert f'data-conversation-id="{convo.pk}"' in page, url


def test_sidebar_shows_only_my_conversations(client, user, other_user):
    convo_of(user, "mine")
    theirs = convo_of(other_user, "theirs")
    client.force_login(user)
    page = client.get("/").content.decode()
    assert sidebar_titles(page) == ["mine"] and f'data-conversation-id="{theirs.pk}"' not in page


# -- rename ---------------------------------------------------------------------------------


def test_rename_shows_a_title_field_and_saves_it(client, user):
    convo = convo_of(user, "hello there")
    client.force_login(user)
    form = client.get(f"/c/{convo.pk}/rename/", headers=HX).content.decode()
    assert re.search(r'<input id="rename-title" name="title" value="hello there"', form)
    response = client.post(f"/c/{convo.pk}/rename/", {"title": "  Trip   plans "}, headers=HX)
    body = response.content.decode()
    assert response.status_code == 200 and ">Trip plans</h1>" in body
    assert 'id="sidebar" aria-label="Conversations" hx-swap-oob="true"' in body
    convo.refresh_from_db()
    assert convo.title == "Trip plans" and convo.title_by == "person"
    page = client.get(f"/c/{convo.pk}/").content.decode()
    assert "<title>Trip plans · chatsite</title>" in page


def test_rename_without_javascript_is_a_page_and_a_redirect(client, user):
    convo = convo_of(user, "hello")
    client.force_login(user)
    assert 'name="title"' in client.get(f"/c/{convo.pk}/rename/").content.decode()
    response = client.post(f"/c/{convo.pk}/rename/", {"title": "New name"})
    assert response.status_code == 302 and response["Location"] == f"/c/{convo.pk}/"


def test_an_empty_title_is_refused_with_a_message(client, user):
    convo = convo_of(user, "keep me")
    client.force_login(user)
    body = client.post(f"/c/{convo.pk}/rename/", {"title": "   "}, headers=HX).content.decode()
    assert "at least one character" in body
    convo.refresh_from_db()
    assert convo.title == "keep me"


def test_renaming_does_not_move_the_conversation(client, user):
    older = convo_of(user, "older", days_ago=3)
    convo_of(user, "newer")
    client.force_login(user)
    client.post(f"/c/{older.pk}/rename/", {"title": "older, renamed"})
    assert sidebar_titles(client.get("/").content.decode()) == ["newer", "older, renamed"]


# -- pin and archive ------------------------------------------------------------------------


def test_pin_moves_it_under_pinned_and_unpin_back(client, user):
    convo_of(user, "first")
    second = convo_of(user, "second", days_ago=2)
    client.force_login(user)
    body = client.post(f"/c/{second.pk}/pin/", {"on": "1"}, headers=HX).content.decode()
    assert ">Unpin</button>" in body
    page = client.get("/").content.decode()
    assert headings(page)[0] == "Pinned" and sidebar_titles(page) == ["second", "first"]
    body = client.post(f"/c/{second.pk}/pin/", {"on": "0"}, headers=HX).content.decode()
    assert ">Pin</button>" in body
    assert "Pinned" not in headings(client.get("/").content.decode())


def test_archive_hides_it_and_the_archived_list_unarchives_it(client, user):
    convo = convo_of(user, "done with this")
    client.force_login(user)
    body = client.post(f"/c/{convo.pk}/archive/", {"on": "1"}, headers=HX).content.decode()
    assert ">Unarchive</button>" in body
    assert "done with this" not in sidebar(client.get("/").content.decode())
    archived = client.get("/c/?archived=1").content.decode()
    listing = archived[archived.index('class="list-body"') :]
    assert "done with this" in listing and ">Unarchive</button>" in listing
    assert "done with this" not in client.get("/c/").content.decode().split('class="list-body"')[1]
    response = client.post(
        f"/c/{convo.pk}/archive/", {"on": "0", "next": "/c/?archived=1"}
    )  # without JavaScript: back to the list
    assert response.status_code == 302 and response["Location"] == "/c/?archived=1"
    assert "done with this" in sidebar(client.get("/").content.decode())


def test_actions_are_post_only_and_need_the_csrf_token(user):
    convo = convo_of(user, "guarded")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for action in ("pin", "archive", "delete"):
        assert client.post(f"/c/{convo.pk}/{action}/", {"on": "1"}).status_code == 403
    assert client.post(f"/c/{convo.pk}/rename/", {"title": "x"}).status_code == 403
    assert client.get(f"/c/{convo.pk}/pin/").status_code == 405
    assert Conversation.objects.filter(pk=convo.pk, pinned=False, title="guarded").exists()


def test_someone_elses_conversation_cannot_be_managed(client, user, other_user):
    convo = convo_of(user, "private")
    client.force_login(other_user)
    for action in ("pin", "archive", "delete", "rename"):
        assert client.post(f"/c/{convo.pk}/{action}/", {"on": "1", "title": "x"}).status_code == 404
    assert client.get(f"/c/{convo.pk}/delete/").status_code == 404
    convo.refresh_from_db()
    assert (convo.title, convo.pinned, convo.archived) == ("private", False, False)


# -- delete ---------------------------------------------------------------------------------


async def _chat(client, message, files=(), convo=None):
    data = {"message": message}
    if files:
        data["attachments"] = list(files)
    url = f"/c/{convo.pk}/send/" if convo else "/c/new/"
    await client.post(url, data)
    convo = convo or await Conversation.objects.order_by("-pk").afirst()
    turn = await Turn.objects.filter(conversation=convo).order_by("-pk").afirst()
    return convo, await wait_for_turn(turn.pk)


async def _until(predicate, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_delete_removes_turns_media_files_and_the_upstream_interactions(
    async_client, user, emulator
):
    await async_client.aforce_login(user)
    png = SimpleUploadedFile("dot.png", PNG, content_type="image/png")
    convo, first = await _chat(async_client, "look at this", [png])
    await Conversation.objects.filter(pk=convo.pk).aupdate(model="gemini-3.1-flash-image")
    convo = await Conversation.objects.aget(pk=convo.pk)
    _, second = await _chat(async_client, "draw a cat", convo=convo)
    media = re.search(r'src="(/media/t/\d+/[0-9a-f]+/)"', (
        await async_client.get(f"/c/{convo.pk}/")).content.decode()).group(1)  # fmt: skip
    sha = hashlib.sha256(PNG).hexdigest()
    row = await Attachment.objects.aget(owner=user, sha256=sha)
    urls = [f"/c/{convo.pk}/", media, f"/a/{sha}/", f"/c/{convo.pk}/earlier/?before=999999"]
    for url in urls:
        assert (await async_client.get(url)).status_code == 200, url
    ids = [first.interaction_id, second.interaction_id]
    assert all(emulator.store.get(i) is not None for i in ids)

    response = await async_client.post(f"/c/{convo.pk}/delete/", headers=HX)
    assert response["HX-Redirect"] == "/"
    for url in urls:
        assert (await async_client.get(url)).status_code == 404, url
    assert not await Turn.objects.filter(pk__in=[first.pk, second.pk]).aexists()
    assert not default_storage.exists(row.file.name)
    await _until(lambda: all(emulator.store.get(i) is None for i in ids))


async def test_delete_keeps_a_file_another_conversation_still_uses(async_client, user):
    await async_client.aforce_login(user)
    doomed, _ = await _chat(async_client, "one", [SimpleUploadedFile("a.png", PNG, "image/png")])
    await _chat(async_client, "two", [SimpleUploadedFile("b.png", PNG, "image/png")])
    sha = hashlib.sha256(PNG).hexdigest()
    response = await async_client.post(f"/c/{doomed.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert (await async_client.get(f"/a/{sha}/")).status_code == 200


def test_the_delete_confirmation_is_a_dialog_that_says_what_goes(client, user):
    convo = convo_of(user, "to go")
    client.force_login(user)
    page = client.get(f"/c/{convo.pk}/").content.decode()
    dialog = page[page.index('<dialog id="delete-dialog"') : page.index("</dialog>")]
    assert '<button type="submit" class="button danger">Delete</button>' in dialog
    assert "deleted from the Gemini API, in the background" in dialog
    assert "window.confirm" not in page


# -- titles -----------------------------------------------------------------------------------


def test_a_title_never_shows_markdown_marks():
    from chatsite.chat.conversations import clean_title

    assert clean_title("## Plan for **Turn 1.** with `code`") == "Plan for Turn 1. with code"
    assert clean_title("> # A quoted __heading__") == "A quoted heading"
    assert clean_title("C# and 3 * 4") == "C# and 3 * 4"  # not Markdown: kept


async def test_the_first_title_never_shows_emulator_directives(async_client, user):
    await async_client.aforce_login(user)
    message = "[emulator:pace=5] plan a trip [emulator:error]"
    await async_client.post("/c/new/", {"message": message})
    convo = await Conversation.objects.aget(owner=user)
    assert convo.title in ("plan a trip", "Plan a trip")
    await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)


TITLE_MODEL = "gemini-3.1-flash-lite-preview"


@pytest.fixture
def titles_on(settings):
    settings.GEMINI_TITLE_MODEL = TITLE_MODEL


async def _first_reply(client, message):
    await client.post("/c/new/", {"message": message})
    convo = await Conversation.objects.order_by("-pk").afirst()
    turn = await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)
    return convo, turn


async def test_the_model_titles_a_new_conversation_after_its_first_reply(
    async_client, user, emulator, titles_on
):
    await async_client.aforce_login(user)
    message = "[emulator:pace=1] tell me about the history of tea in china, please"
    convo, turn = await _first_reply(async_client, message)
    await titles.settled()
    convo = await Conversation.objects.aget(pk=convo.pk)
    assert (convo.title, convo.title_by) == ("Tell me about the history of", "model")
    request = next(b for b in reversed(emulator.store.create_bodies()) if b["model"] == TITLE_MODEL)
    assert request["system_instruction"] == titles.INSTRUCTION and request["store"] is False
    assert "[emulator" not in str(request["input"]) and "history of tea" in str(request["input"])
    counted = (await Turn.objects.aget(pk=turn.pk)).total_tokens
    assert counted > turn.usage["total_tokens"]  # the title's tokens count in usage


async def test_only_the_first_reply_brings_a_title(async_client, user, emulator, titles_on):
    await async_client.aforce_login(user)
    convo, _ = await _first_reply(async_client, "first words here")
    await titles.settled()
    await Conversation.objects.filter(pk=convo.pk).aupdate(title="kept")
    await async_client.post(f"/c/{convo.pk}/send/", {"message": "second words"})
    await wait_for_turn((await convo.turns.order_by("-pk").afirst()).pk)
    await titles.settled()
    assert (await Conversation.objects.aget(pk=convo.pk)).title == "kept"


async def test_a_renamed_conversation_is_never_retitled(async_client, user, titles_on):
    await async_client.aforce_login(user)
    await async_client.post("/c/new/", {"message": "slow one [emulator:pace=20]"})
    convo = await Conversation.objects.aget(owner=user)
    await async_client.post(f"/c/{convo.pk}/rename/", {"title": "Mine, not the model's"})
    await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)
    await titles.settled()
    convo = await Conversation.objects.aget(pk=convo.pk)
    assert (convo.title, convo.title_by) == ("Mine, not the model's", "person")


async def test_the_title_reaches_the_open_tab(async_client, user, open_tab, titles_on):
    await async_client.aforce_login(user)
    await async_client.post("/c/new/", {"message": "[emulator:pace=30] a question about rivers"})
    convo = await Conversation.objects.aget(owner=user)
    tab = await open_tab(user, convo.pk)
    frame = await tab.receive_until(lambda f: 'id="conversation-title"' in f)
    assert ">A question about rivers</h1>" in frame
    assert f'data-conversation-id="{convo.pk}"' in frame and 'hx-swap-oob="true"' in frame
    await titles.settled()


# -- share ------------------------------------------------------------------------------------


async def _shared_link(client, convo):
    response = await client.post(f"/c/{convo.pk}/share/", headers=HX)
    body = response.content.decode()
    match = re.search(r'name="share_url" value="(http://testserver/s/([\w-]{20,})/)"', body)
    assert match, body
    assert "Stop sharing</button>" in body
    return match.group(1).removeprefix("http://testserver"), match.group(2)


async def test_a_shared_link_shows_the_snapshot_to_anyone_and_nothing_else(
    async_client, user, other_user
):
    await async_client.aforce_login(user)
    png = SimpleUploadedFile("dot.png", PNG, content_type="image/png")
    convo, first = await _chat(async_client, "shared words", [png])
    await Conversation.objects.filter(pk=convo.pk).aupdate(model="gemini-3.1-flash-image")
    convo = await Conversation.objects.aget(pk=convo.pk)
    _, drawn = await _chat(async_client, "draw a shared cat", convo=convo)
    other, _ = await _chat(async_client, "a private other conversation")
    url, token = await _shared_link(async_client, convo)
    _, later = await _chat(async_client, "said after sharing", convo=convo)

    from django.test import AsyncClient

    anyone = AsyncClient()
    response = await anyone.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer" and "noindex" in response["X-Robots-Tag"]
    assert '<meta name="robots" content="noindex' in page
    assert "shared words" in page and 'data-step-type="model_output"' in page
    assert "said after sharing" not in page and f'data-turn-id="{later.pk}"' not in page
    assert "a private other conversation" not in page
    assert 'id="composer"' not in page and 'id="sidebar"' not in page
    assert ">Retry</button>" not in page  # (the word is among the scripts' translations)
    assert "/media/t/" not in page.replace(f"/s/{token}/media/t/", "")  # no owner URLs
    assert 'href="/a/' not in page and 'src="/a/' not in page
    media = re.findall(rf'src="(/s/{token}/media/t/{drawn.pk}/[0-9a-f]+/)"', page)
    files = re.findall(rf'(?:src|href)="(/s/{token}/a/[0-9a-f]{{64}}/)"', page)
    assert media and files
    for link in media + files:
        assert (await anyone.get(link)).status_code == 200, link
    # Media of a turn the snapshot does not show is not served through the token.
    digest = media[0].rstrip("/").rsplit("/", 1)[1]
    assert (await anyone.get(f"/s/{token}/media/t/{later.pk}/{digest}/")).status_code == 404
    assert (await anyone.get(f"/s/{token}/a/{'0' * 64}/")).status_code == 404
    signed_in = AsyncClient()
    await signed_in.aforce_login(other_user)
    assert (await signed_in.get(url)).status_code == 200

    stop = await async_client.post(f"/c/{convo.pk}/share/stop/", headers=HX)
    assert ">Share</button>" in stop.content.decode()
    for link in [url, *media, *files]:
        assert (await anyone.get(link)).status_code == 404, link
    again, new_token = await _shared_link(async_client, convo)
    assert new_token != token and (await anyone.get(again)).status_code == 200
    assert (await anyone.get(url)).status_code == 404


def test_only_the_owner_shares_or_stops_sharing(client, user, other_user):
    convo = convo_of(user, "mine")
    client.force_login(other_user)
    assert client.post(f"/c/{convo.pk}/share/").status_code == 404
    assert client.post(f"/c/{convo.pk}/share/stop/").status_code == 404
    assert client.get(f"/c/{convo.pk}/share/").status_code == 405
    convo.refresh_from_db()
    assert convo.share_token is None
    assert client.get("/s/not-a-real-token-at-all-000000/").status_code == 404


def test_share_without_javascript_shows_the_link_on_the_page(client, user):
    convo = convo_of(user, "plain")
    client.force_login(user)
    response = client.post(f"/c/{convo.pk}/share/")
    assert response["Location"] == f"/c/{convo.pk}/?share=1"
    page = client.get(response["Location"]).content.decode()
    assert re.search(r'name="share_url" value="http://testserver/s/[\w-]+/" readonly', page)


def _shared(owner, title):
    from chatsite.chat import conversations

    convo = convo_of(owner, title)
    conversations.share(convo)
    return convo


def test_admins_see_shared_conversations_and_stop_sharing_them_logged(
    client, user, other_user, make_user
):
    from chatsite.chat.models import TranscriptRead

    boss = make_user("boss", is_staff=True, is_superuser=True)
    mine, theirs = _shared(user, "my public notes"), _shared(other_user, "their public notes")
    convo_of(user, "never shared")
    links = [f"/s/{c.share_token}/" for c in (mine, theirs)]
    assert all(Client().get(link).status_code == 200 for link in links)

    client.force_login(boss)
    page = client.get("/admin/chat/sharedconversation/")
    assert page.status_code == 200
    rows = page.context["cl"].result_list
    assert {(c.title, c.owner.username) for c in rows} == {
        ("my public notes", user.username), ("their public notes", other_user.username),
    }  # fmt: skip
    body = page.content.decode()
    assert "Shared at" in body and "Stop sharing" in body
    assert f'href="/admin/chat/conversation/{mine.pk}/change/"' in body  # reading it is logged

    response = client.post(
        "/admin/chat/sharedconversation/",
        {"action": "stop_sharing", "_selected_action": [mine.pk, theirs.pk]},
    )
    assert response.status_code == 302
    assert all(Client().get(link).status_code == 404 for link in links)
    assert not Conversation.objects.filter(share_token__isnull=False).exists()
    assert client.get("/admin/chat/sharedconversation/").context["cl"].result_count == 0
    logged = TranscriptRead.objects.filter(reader=boss, what="stop sharing")
    assert {(r.owner_id, r.conversation_id) for r in logged} == {
        (user.pk, mine.pk), (other_user.pk, theirs.pk),
    }  # fmt: skip


def test_people_without_admin_rights_cannot_list_or_stop_shares(client, user, other_user):
    theirs = _shared(other_user, "their public notes")
    client.force_login(user)
    assert client.get("/admin/chat/sharedconversation/").status_code == 302  # to the sign-in
    client.post(
        "/admin/chat/sharedconversation/",
        {"action": "stop_sharing", "_selected_action": [theirs.pk]},
    )
    theirs.refresh_from_db()
    assert theirs.share_token is not None


# -- export -----------------------------------------------------------------------------------


async def test_export_downloads_markdown_and_json_of_my_conversation(
    async_client, user, other_user
):
    await async_client.aforce_login(user)
    convo, turn = await _chat(async_client, "export me please")
    page = (await async_client.get(f"/c/{convo.pk}/")).content.decode()
    assert f'href="/c/{convo.pk}/export/markdown/" download>Markdown</a>' in page
    assert f'href="/c/{convo.pk}/export/json/" download>JSON</a>' in page
    md = await async_client.get(f"/c/{convo.pk}/export/markdown/")
    assert md["Content-Disposition"].startswith("attachment;") and "export me please" in (
        md.content.decode()
    )
    data = json.loads((await async_client.get(f"/c/{convo.pk}/export/json/")).content)
    assert data["format"] == "chatsite.conversation.v1"
    assert data["turns"][0]["steps"] == turn.steps  # verbatim
    assert (await async_client.get(f"/c/{convo.pk}/export/pdf/")).status_code == 404
    await async_client.aforce_login(other_user)
    for kind in ("markdown", "json"):
        assert (await async_client.get(f"/c/{convo.pk}/export/{kind}/")).status_code == 404


# -- import -----------------------------------------------------------------------------------


def _turn(convo, said, answered):
    turn = Turn(
        conversation=convo, status="completed", user_input=[{"type": "text", "text": said}],
        steps=[{"type": "model_output", "content": [{"type": "text", "text": answered}]}],
    )  # fmt: skip
    turn.refresh_search_text()
    turn.save()
    return turn


async def _download_all(client):
    response = await client.get("/accounts/conversations.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response.streaming  # never built whole in memory
    chunks = [chunk async for chunk in response.streaming_content]
    return response, chunks


async def test_the_zip_of_all_my_conversations_holds_each_of_mine_and_none_of_theirs(
    async_client, user, other_user
):
    import io
    import zipfile

    def make():
        mine = [
            convo_of(user, "Rivers of Europe"),
            convo_of(user, "Old & archived", days_ago=90, archived=True),
            convo_of(user, ""),  # untitled
            convo_of(user, "Rivers of Europe"),  # the same title twice
        ]
        for n, convo in enumerate(mine):
            _turn(convo, f"question {n} of mine", f"answer {n} of mine")
        theirs = convo_of(other_user, "Their secret plans")
        _turn(theirs, "their private question", "their private answer")
        return mine

    mine = await sync_to_async(make)()
    await async_client.aforce_login(user)
    settings_page = (await async_client.get("/accounts/settings/")).content.decode()
    assert 'href="/accounts/conversations.zip"' in settings_page and 'id="sidebar"' in settings_page
    assert "Download all conversations" in settings_page

    response, chunks = await _download_all(async_client)
    assert re.fullmatch(r'attachment; filename="[\w-]+\.zip"', response["Content-Disposition"])
    assert len(chunks) > len(mine)  # a piece per conversation, then the directory
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(names) == 2 * len(mine) == len(set(names))
    exported = [json.loads(archive.read(n)) for n in names if n.endswith(".json")]
    assert sorted(e["id"] for e in exported) == sorted(c.pk for c in mine)
    for data in exported:
        n = [c.pk for c in mine].index(data["id"])
        assert data["owner"]["username"] == user.username
        assert [t["user_input"][0]["text"] for t in data["turns"]] == [f"question {n} of mine"]
        markdown = archive.read(entry_of(names, data["id"]) + ".md").decode()
        assert f"answer {n} of mine" in markdown
    everything = b"".join(archive.read(n) for n in names).decode()
    assert "Their secret plans" not in everything and "their private" not in everything

    # What someone else downloads has none of mine.
    from django.test import AsyncClient

    theirs_client = AsyncClient()
    await theirs_client.aforce_login(other_user)
    _, chunks = await _download_all(theirs_client)
    theirs = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert len(theirs.namelist()) == 2
    assert b"of mine" not in b"".join(theirs.read(n) for n in theirs.namelist())


def entry_of(names, pk):
    """The entry (without extension) of conversation `pk` in the ZIP."""
    return next(n[: -len(".json")] for n in names if n.split("/")[-1].startswith(f"{pk}-"))


async def test_a_json_from_the_zip_imports_back(async_client, user):
    import io
    import zipfile

    def make():
        convo = convo_of(user, "Worth keeping")
        _turn(convo, "what is a delta?", "Where a river meets the sea.")

    await sync_to_async(make)()
    await async_client.aforce_login(user)
    _, chunks = await _download_all(async_client)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    name = next(n for n in archive.namelist() if n.endswith(".json"))
    upload = SimpleUploadedFile("c.json", archive.read(name), content_type="application/json")
    response = await async_client.post("/c/import/", {"file": upload})
    assert response.status_code == 302
    assert await Conversation.objects.filter(owner=user, title="Worth keeping").acount() == 2


def test_the_zip_download_needs_a_sign_in(client):
    response = client.get("/accounts/conversations.zip")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def json_file(data, name="conversation.json"):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return SimpleUploadedFile(name, body, content_type="application/json")


async def test_an_imported_conversation_continues_with_its_history(
    async_client, user, other_user, emulator
):
    await async_client.aforce_login(user)
    convo, first = await _chat(async_client, "my cat is called Miso")
    exported = (await async_client.get(f"/c/{convo.pk}/export/json/")).content

    await async_client.aforce_login(other_user)
    page = (await async_client.get("/c/")).content.decode()
    assert 'type="file" name="file"' in page and ">Import</button>" in page
    response = await async_client.post("/c/import/", {"file": json_file(exported)})
    mine = await Conversation.objects.aget(owner=other_user)
    assert response.status_code == 302 and response["Location"] == f"/c/{mine.pk}/"
    imported = await mine.turns.aget()
    assert imported.interaction_id is None and imported.steps == first.steps
    page = (await async_client.get(f"/c/{mine.pk}/")).content.decode()
    assert "my cat is called Miso" in page and 'data-step-type="model_output"' in page

    _, reply = await _chat(async_client, "what is my cat called?", convo=mine)
    body = next(
        b for b in reversed(emulator.store.create_bodies()) if "what is my cat" in json.dumps(b)
    )
    assert "previous_interaction_id" not in body
    assert "my cat is called Miso" in json.dumps(body["input"])  # the history, as steps
    assert reply.status == "completed" and "Miso" in json.dumps(reply.steps)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"not json at all", "not JSON"),
        ({"format": "something.else", "turns": []}, "not a chatsite conversation"),
        ({"format": "chatsite.conversation.v1", "turns": []}, "no turns"),
        ({"format": "chatsite.conversation.v1", "turns": [{"steps": "x"}]}, "Turn 1"),
        (
            {"format": "chatsite.conversation.v1",
             "turns": [{"steps": [], "user_input": []}, {"steps": [], "user_input": "x"}]},
            "Turn 2",
        ),
        (
            {"format": "chatsite.conversation.v1", "turns": [{"steps": [{"type": ["x"]}]}]},
            "a step has no “type”",
        ),
    ],
)  # fmt: skip
def test_import_refuses_anything_else_with_a_clear_message(client, user, upload, message):
    client.force_login(user)
    response = client.post("/c/import/", {"file": json_file(upload)})
    assert response.status_code == 422 and message in response.content.decode()
    assert not Conversation.objects.exists() and not Turn.objects.exists()


def test_import_takes_odd_values_without_failing(client, user):
    client.force_login(user)
    odd = {
        "format": "chatsite.conversation.v1", "title": ["x"], "model": {"a": 1},
        "settings": {"tools": [["google_search"]], "thinking_level": ["high"]},
        "turns": [{"status": ["completed"], "steps": [{"type": "x", "n": []}], "user_input": [],
                   "usage": "lots", "error": 5, "model": 7}],
    }  # fmt: skip
    response = client.post("/c/import/", {"file": json_file(odd)})
    assert response.status_code == 302
    convo = Conversation.objects.get(owner=user)
    assert (convo.title, convo.settings) == ("Imported conversation", {})
    assert convo.turns.get().status == "incomplete"
    assert client.get(response["Location"]).status_code == 200
    deep = b"[" * 100_000 + b"]" * 100_000
    assert "not JSON" in client.post("/c/import/", {"file": json_file(deep)}).content.decode()


def test_import_is_bounded(client, user, monkeypatch):
    from chatsite.chat import imports

    client.force_login(user)
    turns = [{"steps": [], "user_input": [{"type": "text", "text": "hi"}]}] * 4
    data = {"format": "chatsite.conversation.v1", "title": "t", "turns": turns}
    monkeypatch.setattr(imports, "MAX_TURNS", 3)
    assert "the limit is 3" in client.post("/c/import/", {"file": json_file(data)}).content.decode()
    monkeypatch.setattr(imports, "MAX_BYTES", 50)
    refused = client.post("/c/import/", {"file": json_file(data)}).content.decode()
    assert "the limit is 50 bytes" in refused
    assert not Conversation.objects.exists()


def test_imported_files_of_another_account_become_a_mention(client, user):
    client.force_login(user)
    data = {
        "format": "chatsite.conversation.v1", "title": "With a file", "model": "nope",
        "settings": {"tools": ["google_search", "evil"], "system_instruction": "Be brief."},
        "turns": [{"status": "completed", "steps": [], "user_input": [
            {"type": "text", "text": "see this"},
            {"type": "image", "attachment": "a" * 64, "name": "cat.png"},
        ]}],
    }  # fmt: skip
    client.post("/c/import/", {"file": json_file(data)})
    convo = Conversation.objects.get(owner=user)
    assert convo.settings == {"tools": ["google_search"], "system_instruction": "Be brief."}
    assert convo.model == "gemini-3.5-flash" and convo.title_by == "person"
    assert convo.turns.get().user_text == "see this\n[attached file: cat.png]"


# -- live ---------------------------------------------------------------------------------------


def is_list(frame: str) -> bool:
    return frame.startswith('<div class="conversation-list" id="conversation-list" hx-swap-oob')


async def test_my_other_open_tabs_get_the_new_list_and_no_one_elses(
    async_client, user, other_user, open_tab
):
    reading = await sync_to_async(convo_of)(user, "being read", days_ago=2)
    busy = await sync_to_async(convo_of)(user, "getting a reply", days_ago=3)
    theirs = await sync_to_async(convo_of)(other_user, "someone else's")
    tab = await open_tab(user, reading.pk)
    stranger = await open_tab(other_user, theirs.pk)
    await async_client.aforce_login(user)

    await async_client.post(f"/c/{busy.pk}/send/", {"message": "bump me up"})
    frame = await tab.receive_until(is_list)
    assert frame.index("getting a reply") < frame.index("being read")  # moved to the top
    assert f'data-conversation-id="{reading.pk}" id="conversation-link-{reading.pk}" dir="auto"' \
        ' aria-current="page"' in frame  # fmt: skip
    await wait_for_turn((await busy.turns.aget()).pk)

    await async_client.post(f"/c/{busy.pk}/rename/", {"title": "renamed elsewhere"}, headers=HX)
    frame = await tab.receive_until(lambda f: is_list(f) and "renamed elsewhere" in f)
    assert "someone else" not in frame
    assert await stranger.ws.receive_nothing(timeout=0.3)  # nothing of mine reached them


def is_move(frame: str) -> bool:
    return frame.startswith('{"top"')


def is_final_status(frame: str) -> bool:
    return frame.startswith('{"status"') and '"completed"' in frame


async def test_a_reply_moves_its_conversation_up_today_in_a_small_frame_not_the_list(
    async_client, user, open_tab
):
    bumped = await sync_to_async(convo_of)(user, "from last week", days_ago=6)
    newest = await sync_to_async(convo_of)(user, "from this morning")
    tab = await open_tab(user, newest.pk)
    await async_client.aforce_login(user)
    await async_client.post(f"/c/{bumped.pk}/send/", {"message": "[emulator:words=3] up"})
    assert json.loads(await tab.receive_until(is_move)) == {"top": bumped.pk}
    assert not any(is_list(f) for f in tab.frames)
    await wait_for_turn((await bumped.turns.aget()).pk)


async def test_a_reply_in_the_conversation_already_on_top_sends_no_list_at_all(
    async_client, user, open_tab
):
    await sync_to_async(convo_of)(user, "from last week", days_ago=6)
    top = await sync_to_async(convo_of)(user, "on top")
    tab = await open_tab(user, top.pk)
    await async_client.aforce_login(user)
    await async_client.post(f"/c/{top.pk}/send/", {"message": "[emulator:words=3] again"})
    await tab.receive_until(is_final_status)
    assert not any(is_list(f) or is_move(f) for f in tab.frames), tab.frames


async def test_a_pinned_conversations_reply_sends_the_whole_list(async_client, user, open_tab):
    await sync_to_async(convo_of)(user, "from this morning")
    pinned = await sync_to_async(convo_of)(user, "pinned one", days_ago=2, pinned=True)
    tab = await open_tab(user, pinned.pk)
    await async_client.aforce_login(user)
    await async_client.post(f"/c/{pinned.pk}/send/", {"message": "[emulator:words=3] hi"})
    frame = await tab.receive_until(is_list)
    assert frame.index("pinned one") < frame.index("from this morning")
    assert not any(is_move(f) for f in tab.frames)
    await wait_for_turn((await pinned.turns.aget()).pk)


@pytest.fixture
def open_page_socket():
    """The socket of a page without a conversation (`/`, `/c/`): `/ws/u/`."""
    from .conftest import session_cookie_for, socket_tab

    async def open_(user, *, expect_ok=True):
        cookie = None if user is None else await sync_to_async(session_cookie_for)(user)
        tab = socket_tab("/ws/u/", cookie)
        connected, _ = await tab.connect()
        assert connected is expect_ok
        return tab

    return open_


def test_pages_without_a_conversation_open_the_person_socket(client, user):
    convo = convo_of(user, "mine")
    client.force_login(user)
    for url in ("/", "/c/", "/accounts/settings/"):
        assert 'ws-connect="/ws/u/"' in sidebar(client.get(url).content.decode()), url
    page = client.get(f"/c/{convo.pk}/").content.decode()
    assert 'ws-connect="/ws/u/"' not in page and f'ws-connect="/ws/c/{convo.pk}/"' in page


async def test_a_tab_without_a_conversation_gets_my_list_live_and_no_one_elses(
    async_client, user, other_user, open_page_socket
):
    await sync_to_async(convo_of)(user, "an older one", days_ago=3)
    await sync_to_async(convo_of)(other_user, "someone else's")
    home = await open_page_socket(user)
    stranger = await open_page_socket(other_user)
    first = await home.receive_until(is_list)  # the list when it opens: the page may be older
    assert "an older one" in first and "aria-current" not in first
    assert "someone else" in await stranger.receive_until(is_list)

    await async_client.aforce_login(user)
    await async_client.post("/c/new/", {"message": "[emulator:words=3] Harbour tides"})
    frame = await home.receive_until(lambda f: is_list(f) and "Harbour tides" in f)
    assert frame.index("Harbour tides") < frame.index("an older one")
    assert "someone else" not in frame
    await wait_for_turn((await Turn.objects.filter(conversation__owner=user).alatest("pk")).pk)
    assert await stranger.ws.receive_nothing(timeout=0.3)  # nothing of mine reached them


async def test_a_list_event_for_me_reaches_every_tab_of_mine_with_its_own_mark(
    user, open_tab, open_page_socket
):
    """What a title, a new conversation or another process sends to all of a person's tabs
    (tests/test_scale_out.py has the other process)."""
    from chatsite.chat import person_events

    a, b = [await sync_to_async(convo_of)(user, title) for title in ("alpha", "beta")]
    tab_a, tab_b = await open_tab(user, a.pk), await open_tab(user, b.pk)
    home = await open_page_socket(user)
    await home.receive_until(is_list)
    await person_events.send(user.pk, {"type": "sidebar.changed"})
    for tab, convo in ((tab_a, a), (tab_b, b)):
        frame = await tab.receive_until(is_list)
        assert re.findall(r'data-conversation-id="(\d+)"[^>]*aria-current', frame) == [
            str(convo.pk)
        ]
    assert "aria-current" not in await home.receive_until(is_list)


async def test_an_idle_socket_holds_no_channel_of_the_channel_layer(
    user, open_tab, open_page_socket, monkeypatch
):
    """Issue 16, item 4: each channel costs an idle socket a receive task and a queue (~4 KiB);
    events for all of a person's sockets go through the hub instead (person_events.py)."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    made = []
    new_channel = layer.new_channel

    async def counted(*args, **kwargs):
        made.append(await new_channel(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(layer, "new_channel", counted)
    convos = [await sync_to_async(convo_of)(user, f"idle {n}") for n in range(3)]
    tabs = [await open_tab(user, convo.pk) for convo in convos]
    await open_page_socket(user)
    await tabs[0].send({"action": "resume", "turns": [], "after": 0})  # past connect
    assert await tabs[0].ws.receive_nothing(timeout=0.2)
    assert made == []


async def test_the_page_socket_needs_a_sign_in_and_closes_on_sign_out(
    async_client, user, open_page_socket
):
    await open_page_socket(None, expect_ok=False)
    home = await open_page_socket(user)
    await home.receive_until(is_list)
    await async_client.aforce_login(user)
    await async_client.post("/accounts/sign-out-everywhere/")
    output = await home.ws.receive_output(timeout=5)
    while output["type"] != "websocket.close":
        output = await home.ws.receive_output(timeout=5)
    assert output["code"] == 4401


# -- bulk -------------------------------------------------------------------------------------


def test_several_are_archived_or_restored_at_once(client, user, other_user):
    a, b, keep = convo_of(user, "a"), convo_of(user, "b"), convo_of(user, "keep")
    theirs = convo_of(other_user, "theirs")
    client.force_login(user)
    page = client.get("/c/").content.decode()
    assert f'name="ids" value="{a.pk}"' in page and "Archive selected" in page
    ids = [a.pk, b.pk, theirs.pk]
    response = client.post("/c/bulk/", {"ids": ids, "action": "archive", "next": "/c/"})
    assert response["Location"] == "/c/"
    assert set(Conversation.objects.filter(archived=True).values_list("pk", flat=True)) == {
        a.pk, b.pk,
    }  # fmt: skip
    assert "Restore selected" in client.get("/c/?archived=1").content.decode()
    client.post("/c/bulk/", {"ids": [a.pk], "action": "unarchive"})
    assert list(Conversation.objects.filter(archived=True).values_list("pk", flat=True)) == [b.pk]
    assert not Conversation.objects.get(pk=keep.pk).archived


async def test_several_are_deleted_at_once_after_confirming(async_client, user, other_user):
    one, two, kept = [await sync_to_async(convo_of)(user, t) for t in ("one", "two", "kept")]
    theirs = await sync_to_async(convo_of)(other_user, "theirs")
    await async_client.aforce_login(user)
    ids = [one.pk, two.pk, theirs.pk]
    confirm = await async_client.post("/c/bulk/", {"ids": ids, "action": "confirm-delete"})
    page = confirm.content.decode()
    assert "Delete 2 conversations?" in page and "theirs" not in page
    response = await async_client.post("/c/bulk/", {"ids": ids, "action": "delete"})
    assert response.status_code == 302
    left = {c.title async for c in Conversation.objects.all()}
    assert left == {"kept", "theirs"}
