"""Versions of a conversation: edit, regenerate, switch versions; the branch on screen is what
the page, pagination, catch-up, the next message and the history fallback all follow."""

import base64
import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from chatsite.chat import attachments, branches, services, views
from chatsite.chat.models import Conversation, TranscriptRead, Turn

from .helpers import make_conversation, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = "[emulator:pace=0]"


@pytest.fixture
async def signed_in(async_client, user):
    await async_client.aforce_login(user)
    return async_client


async def said(user, convo, text) -> Turn:
    """A message sent and answered (on the branch on screen)."""
    turn = await services.send_message(user, convo, f"{text} {QUICK}")
    return await wait_for_turn(turn.pk)


async def newest(convo) -> Turn:
    turn = await convo.turns.order_by("-created_at", "-pk").afirst()
    return await wait_for_turn(turn.pk)


async def page(client, convo) -> str:
    response = await client.get(f"/c/{convo.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def shown_turns(html: str) -> list[int]:
    # Turn 0 is the page's new-turn template (chat.js draws turns sent live from it).
    found = re.findall(r'<article class="turn"[^>]*data-turn-id="([1-9]\d*)"', html)
    return [int(pk) for pk in found]


async def joined(tab):
    """The tab once its socket has finished connecting (and answered what it was sent
    before): a socket handles one message at a time."""
    await tab.send({"action": "no such action"})
    await tab.receive_until(lambda f: "Unknown action" in f)
    return tab


def create_body(emulator, text: str) -> dict:
    for body in reversed(emulator.store.create_bodies()):
        if isinstance(body, dict) and text in json.dumps(body.get("input")):
            return body
    raise AssertionError(f"no request with {text!r} reached the emulator")


# --- the path ---------------------------------------------------------------------------------


def test_the_branch_on_screen_takes_the_chosen_version_else_the_latest():
    # 1 → 2 → 4, and 3 is another version of 2 with 5 after it.
    tree = branches.Tree([(1, None), (2, 1), (3, 1), (4, 2), (5, 3)], {})
    assert tree.path() == [1, 3, 5]
    assert tree.version(2) == branches.Version(1, 2, None, 3)
    assert tree.version(4) is None
    chosen = branches.Tree([(1, None), (2, 1), (3, 1), (4, 2), (5, 3)], tree.choosing(4))
    assert chosen.path() == [1, 2, 4]
    assert chosen.ancestors(4) == [1, 2]


# --- edit -------------------------------------------------------------------------------------


async def test_an_edited_message_is_a_new_version_chained_to_its_parent(signed_in, user, emulator):
    convo = await make_conversation(user)
    first = await said(user, convo, "my cat is Tom")
    second = await said(user, convo, "what is my cat's name?")
    response = await signed_in.post(
        f"/c/{convo.pk}/turns/{second.pk}/edit/", {"message": "what colour is Tom?"}
    )
    assert response.status_code == 302
    edited = await newest(convo)
    assert edited.pk != second.pk and edited.parent_id == first.pk
    assert edited.user_text == "what colour is Tom?"
    # The request goes to the parent's interaction: a new branch upstream too.
    assert create_body(emulator, "what colour is Tom?")["previous_interaction_id"] == (
        first.interaction_id
    )
    html = await page(signed_in, convo)
    assert shown_turns(html) == [first.pk, edited.pk]
    assert re.search(r"data-branch[^>]*>.*?2 / 2", html, re.S)


async def test_editing_the_first_message_starts_a_chain_of_its_own(signed_in, user, emulator):
    convo = await make_conversation(user)
    first = await said(user, convo, "hello there")
    await signed_in.post(f"/c/{convo.pk}/turns/{first.pk}/edit/", {"message": "hi again"})
    edited = await newest(convo)
    assert edited.parent_id is None and edited.status == "completed"
    assert "previous_interaction_id" not in create_body(emulator, "hi again")
    assert shown_turns(await page(signed_in, convo)) == [edited.pk]


async def test_an_edit_keeps_the_messages_files(signed_in, user):
    convo = await make_conversation(user)
    turn = await said(user, convo, "look")
    # A file block as the composer stores it (a reference, not the bytes).
    ref = {"type": "image", "mime_type": "image/png", "attachment": "ab" * 32, "name": "a.png"}
    await Turn.objects.filter(pk=turn.pk).aupdate(user_input=[*turn.user_input, ref])
    await services.stop(convo)
    edited = await services.edit_turn(user, convo, turn.pk, "look closer")
    assert edited.user_input[0] == {"type": "text", "text": "look closer"}
    assert edited.user_input[1:] == [ref]


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n%tiny\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
async def with_files(user, settings, tmp_path):
    """A conversation whose message came with a picture and a PDF."""
    settings.MEDIA_ROOT = tmp_path / "media"
    uploads = [SimpleUploadedFile("dot.png", PNG), SimpleUploadedFile("plan.pdf", PDF)]
    files = await sync_to_async(attachments.save_uploads)(user, uploads)
    convo = await make_conversation(user)
    turn = await services.send_message(user, convo, f"what are these? {QUICK}", files=files)
    return convo, await wait_for_turn(turn.pk)


async def test_the_edit_form_lists_the_messages_files_each_removable(signed_in, with_files):
    convo, turn = with_files
    response = await signed_in.get(f"/c/{convo.pk}/turns/{turn.pk}/edit/form/")
    html = response.content.decode()
    assert response.status_code == 200 and 'class="edit-form"' in html
    assert f">what are these? {QUICK}</textarea>" in html
    assert 'aria-label="Remove dot.png"' in html and 'aria-label="Remove plan.pdf"' in html
    assert re.search(r'<input type="file" name="attachments"', html)


async def test_another_persons_message_has_no_edit_form(async_client, other_user, with_files):
    convo, turn = with_files
    await async_client.aforce_login(other_user)
    response = await async_client.get(f"/c/{convo.pk}/turns/{turn.pk}/edit/form/")
    assert response.status_code == 404


async def test_an_edit_sends_the_files_kept_and_the_files_added(signed_in, with_files, emulator):
    convo, turn = with_files
    dot = next(i for i, b in enumerate(turn.user_input) if b.get("name") == "dot.png")
    response = await signed_in.post(
        f"/c/{convo.pk}/turns/{turn.pk}/edit/",
        {
            "message": f"and now? {QUICK}",
            "keep": ["", str(dot)],  # plan.pdf removed
            "attachments": [SimpleUploadedFile("notes.md", b"# Notes\n")],
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    edited = await newest(convo)
    assert edited.parent_id is None and edited.pk != turn.pk
    assert [b.get("name") for b in edited.user_input] == [None, "dot.png", "notes.md"]
    sent = create_body(emulator, "and now?")["input"]
    assert [b["type"] for b in sent] == ["text", "image", "text"]
    assert base64.b64decode(sent[1]["data"]) == PNG
    assert sent[2]["text"] == "[File: notes.md]\n# Notes\n"


async def test_an_edit_without_a_file_list_keeps_them_all_and_may_drop_them_all(
    signed_in, with_files
):
    convo, turn = with_files
    await signed_in.post(f"/c/{convo.pk}/turns/{turn.pk}/edit/", {"message": "same files"})
    kept = await newest(convo)
    assert [b.get("name") for b in kept.user_input] == [None, "dot.png", "plan.pdf"]
    await signed_in.post(
        f"/c/{convo.pk}/turns/{turn.pk}/edit/", {"message": "no files", "keep": [""]}
    )
    assert (await newest(convo)).user_input == [{"type": "text", "text": "no files"}]


# --- regenerate and retry ---------------------------------------------------------------------


async def test_regenerate_is_a_new_version_with_the_same_question(signed_in, user, emulator):
    convo = await make_conversation(user)
    first = await said(user, convo, "one")
    second = await said(user, convo, "two")
    response = await signed_in.post(f"/c/{convo.pk}/turns/{second.pk}/regenerate/")
    assert response.status_code == 302
    again = await newest(convo)
    assert again.parent_id == first.pk and again.user_input == second.user_input
    assert create_body(emulator, "two")["previous_interaction_id"] == first.interaction_id
    html = await page(signed_in, convo)
    assert shown_turns(html) == [first.pk, again.pk]
    assert html.count('class="user-text" dir="auto">two') == 1  # the question, once


async def test_regenerate_with_another_model_uses_that_model(signed_in, user, emulator, settings):
    convo = await make_conversation(user)
    turn = await said(user, convo, "which model?")
    other = next(m for m in settings.GEMINI_MODELS if m != convo.model)
    await signed_in.post(f"/c/{convo.pk}/turns/{turn.pk}/regenerate/", {"model": other})
    again = await newest(convo)
    assert again.model == other and again.parent_id is None
    assert create_body(emulator, "which model?")["model"] == other
    bad = await signed_in.post(f"/c/{convo.pk}/turns/{turn.pk}/regenerate/", {"model": "nope"})
    assert bad.status_code == 422


async def test_retry_of_a_failed_turn_asks_once(signed_in, user):
    convo = await make_conversation(user)
    first = await said(user, convo, "fine")
    failed = await said(user, convo, "breaks [emulator:fail=400]")
    assert failed.status == "failed"
    response = await signed_in.post(f"/c/{convo.pk}/turns/{failed.pk}/retry/")
    assert response.status_code == 302
    again = await newest(convo)
    assert again.parent_id == first.pk and again.user_input == failed.user_input
    assert shown_turns(await page(signed_in, convo)) == [first.pk, again.pk]


async def test_a_running_reply_refuses_a_new_version(signed_in, user):
    convo = await make_conversation(user)
    first = await said(user, convo, "fine")
    await services.send_message(user, convo, "slow [emulator:pace=200] [emulator:words=200]")
    response = await signed_in.post(
        f"/c/{convo.pk}/turns/{first.pk}/edit/", {"message": "x"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    await services.stop(convo)


# --- navigation -------------------------------------------------------------------------------


async def test_switching_versions_shows_that_version_and_what_followed_it(signed_in, user):
    convo = await make_conversation(user)
    first = await said(user, convo, "a")
    old = await said(user, convo, "b")
    old_next = await said(user, convo, "c")
    await services.edit_turn(user, convo, old.pk, "b2")
    edited = await newest(convo)
    edited_next = await said(user, convo, "d")
    assert edited_next.parent_id == edited.pk  # the next message continues the branch on screen

    response = await signed_in.post(
        f"/c/{convo.pk}/turns/{old.pk}/version/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    swapped = response.content.decode()
    assert shown_turns(swapped) == [first.pk, old.pk, old_next.pk]
    assert "1 / 2" in swapped and 'aria-label="Next version"' in swapped
    # The choice is kept: a reload (or another tab) shows the same branch...
    assert shown_turns(await page(signed_in, convo)) == [first.pk, old.pk, old_next.pk]
    # ...and the next message follows it.
    after = await said(user, convo, "e")
    assert after.parent_id == old_next.pk
    await signed_in.post(f"/c/{convo.pk}/turns/{edited.pk}/version/")
    assert shown_turns(await page(signed_in, convo)) == [first.pk, edited.pk, edited_next.pk]


async def test_the_next_message_follows_a_turn_saved_by_another_process(user):
    """A message's parent is remembered for the next one (reading the whole tree for each
    message costs a long conversation its length); a turn saved elsewhere is still seen."""
    convo = await make_conversation(user)
    first = await said(user, convo, "a")
    second = await said(user, convo, "b")
    assert second.parent_id == first.pk
    elsewhere = await Turn.objects.acreate(
        conversation=convo, parent=second, model=convo.model, status=Turn.Status.FAILED,
        user_input=[{"type": "text", "text": "sent through another process"}],
    )  # fmt: skip
    third = await said(user, convo, "c")
    assert third.parent_id == elsewhere.pk
    assert third.request["previous_interaction_id"] == second.interaction_id  # the nearest sent


async def test_another_persons_turn_cannot_be_switched_to(async_client, other_user, user):
    convo = await make_conversation(user)
    turn = await said(user, convo, "mine")
    await async_client.aforce_login(other_user)
    response = await async_client.post(f"/c/{convo.pk}/turns/{turn.pk}/version/")
    assert response.status_code == 404
    response = await async_client.post(f"/c/{convo.pk}/turns/{turn.pk}/edit/", {"message": "x"})
    assert response.status_code == 404


async def test_earlier_pages_follow_the_branch_on_screen(signed_in, user, monkeypatch):
    monkeypatch.setattr(views, "PAGE_TURNS", 2)
    convo = await make_conversation(user)
    one = await said(user, convo, "one")
    two = await said(user, convo, "two")
    await said(user, convo, "three")
    await services.edit_turn(user, convo, two.pk, "two again")
    two_again = await newest(convo)
    four = await said(user, convo, "four")
    five = await said(user, convo, "five")
    html = await page(signed_in, convo)
    assert shown_turns(html) == [four.pk, five.pk]
    earlier = await signed_in.get(f"/c/{convo.pk}/earlier/?before={four.pk}")
    assert shown_turns(earlier.content.decode()) == [one.pk, two_again.pk]


# --- live: other tabs and catch-up ------------------------------------------------------------


async def test_a_second_tab_sees_a_new_version_arrive(signed_in, user, open_tab):
    convo = await make_conversation(user)
    first = await said(user, convo, "first")
    second = await said(user, convo, "second")
    tab = await joined(await open_tab(user, convo.pk))
    await signed_in.post(f"/c/{convo.pk}/turns/{second.pk}/regenerate/")
    added = await tab.receive_until(lambda f: "beforeend:#transcript" in f)
    # It names its parent, so the tab puts it in place of the version it replaces.
    assert f'data-parent="{first.pk}"' in added and "2 / 2" in added
    await wait_for_turn(int(re.search(r'data-turn-id="(\d+)"', added).group(1)))
    await tab.close()


async def test_catch_up_brings_only_the_branch_on_screen(user, open_tab):
    convo = await make_conversation(user)
    first = await said(user, convo, "first")
    shown = await said(user, convo, "second")
    await services.regenerate_turn(user, convo, shown.pk)
    await newest(convo)  # the other version, finished
    assert await branches.choose(convo, shown.pk)  # another tab switched back
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "resume", "turns": [], "after": first.pk})
    await joined(tab)  # and the catch-up sent
    added = [f for f in tab.frames if "data-turn-id" in f]
    assert len(added) == 1 and f'data-turn-id="{shown.pk}"' in added[0] and "1 / 2" in added[0]
    await tab.close()


# --- the history fallback ---------------------------------------------------------------------


async def test_a_forgotten_chain_is_re_sent_as_this_branch_only(user, emulator):
    convo = await make_conversation(user)
    await said(user, convo, "root words")
    old = await said(user, convo, "abandoned words")
    await services.edit_turn(user, convo, old.pk, "kept words")
    kept = await newest(convo)
    emulator.store.delete(kept.interaction_id)  # stored interactions expire
    turn = await said(user, convo, "and now")
    assert turn.status == "completed", turn.error
    body = create_body(emulator, "and now")
    assert "previous_interaction_id" not in body
    history = json.dumps(body["input"])
    assert "root words" in history and "kept words" in history
    assert "abandoned words" not in history


# --- each answer's model and details ----------------------------------------------------------


async def test_each_answer_names_its_model_and_shows_its_settings_and_tokens(signed_in, user):
    convo = await make_conversation(user)
    convo.settings = {"system_instruction": "Answer in French.", "thinking_level": "low"}
    await convo.asave()
    turn = await said(user, convo, "bonjour")
    html = await page(signed_in, convo)
    assert re.search(rf"data-model[^>]*>{re.escape(turn.model)}<", html)
    # The details load when opened: the page says where from.
    url = f"/c/{convo.pk}/turns/{turn.pk}/details/"
    assert f'hx-get="{url}"' in html
    details = (await signed_in.get(url)).content.decode()
    assert "Answer in French." in details and "Thinking" in details
    assert re.search(r"<dt>Output</dt><dd>\d+</dd>", details)
    # Copy carries the answer's Markdown source.
    source = re.search(r'class="button small copy-answer" data-source="([^"]*)"', html)
    assert source and source.group(1).strip()


async def test_regenerate_with_lists_the_other_models_when_opened(signed_in, user, settings):
    convo = await make_conversation(user)
    turn = await said(user, convo, "hello")
    url = f"/c/{convo.pk}/turns/{turn.pk}/models/"
    assert f'hx-get="{url}"' in await page(signed_in, convo)
    menu = (await signed_in.get(url)).content.decode()
    offered = re.findall(r'hx-vals=\'\{"model": "([^"]+)"\}\'', menu)
    assert offered and turn.model not in offered
    assert set(offered) <= set(settings.GEMINI_MODELS + settings.GEMINI_AGENTS)
    assert f'hx-post="/c/{convo.pk}/turns/{turn.pk}/regenerate/"' in menu


async def test_an_answers_menu_and_details_are_only_for_its_owner(async_client, user, other_user):
    convo = await make_conversation(user)
    turn = await said(user, convo, "mine")
    await async_client.aforce_login(other_user)
    for part in ("models", "details"):
        response = await async_client.get(f"/c/{convo.pk}/turns/{turn.pk}/{part}/")
        assert response.status_code == 404


async def test_branch_choice_is_per_conversation(user):
    one = await make_conversation(user)
    two = await make_conversation(user)
    turn = await said(user, one, "x")
    await services.regenerate_turn(user, one, turn.pk)
    await newest(one)
    assert await branches.choose(one, turn.pk)
    assert not await branches.choose(two, turn.pk)
    assert (await Conversation.objects.aget(pk=two.pk)).branch == {}


def test_turns_saved_without_a_parent_follow_the_turn_before_them():
    # Imported, or older than versions: one line of turns, not versions of the first.
    tree = branches.Tree([(1, None), (2, None), (3, None)], {})
    assert tree.path() == [1, 2, 3] and tree.version(2) is None
    # A new version of the first message is marked as such.
    tree = branches.Tree([(1, None), (2, None), (3, None)], {branches.FIRSTS: [3]})
    assert tree.path() == [3] and tree.version(3) == branches.Version(2, 2, 1, None)


async def test_a_chain_refused_as_expired_is_re_sent_as_this_branch_only(
    user, emulator, monkeypatch
):
    convo = await make_conversation(user)
    await said(user, convo, "old root words")
    old = await said(user, convo, "old abandoned words")
    await services.regenerate_turn(user, convo, old.pk)
    await newest(convo)
    await services.edit_turn(user, convo, old.pk, "old kept words")
    await newest(convo)
    # The API answers a chain to an expired interaction with a 400, not only a 404.
    monkeypatch.setattr(emulator.store, "expire_after", 0.0)
    turn = await said(user, convo, "still there?")
    assert turn.status == "completed", turn.error
    body = create_body(emulator, "still there?")
    assert "previous_interaction_id" not in body
    history = json.dumps(body["input"])
    assert "old root words" in history and "old kept words" in history
    assert "old abandoned words" not in history


async def test_a_chain_older_than_the_stored_days_is_not_sent_but_re_sent_as_history(
    user, emulator, settings
):
    convo = await make_conversation(user)
    await said(user, convo, "aged root words")
    settings.GEMINI_STORED_DAYS = 0  # every stored interaction counts as expired
    turn = await said(user, convo, "are you still there")
    assert turn.status == "completed", turn.error
    sent = [
        b
        for b in emulator.store.create_bodies()
        if "are you still there" in json.dumps(b.get("input"))
    ]
    # Straight to history: no request chained to the expired interaction went out first.
    assert len(sent) == 1 and "previous_interaction_id" not in sent[0]
    assert "aged root words" in json.dumps(sent[0]["input"])


# --- the branch on screen, elsewhere: share links and the admin -------------------------------


@pytest.fixture
async def two_versions(user):
    """A conversation whose second message has two versions, the first of them on screen."""
    convo = await make_conversation(user)
    first = await said(user, convo, "Plan a trip")
    old = await said(user, convo, "By train?")
    await services.edit_turn(user, convo, old.pk, f"By bike? {QUICK}")
    edited = await newest(convo)
    await branches.choose(convo, old.pk)
    return convo, first, old, edited


async def test_a_share_link_shows_the_version_on_screen_when_it_was_shared(
    signed_in, two_versions, async_client
):
    convo, first, old, edited = two_versions
    response = await signed_in.post(f"/c/{convo.pk}/share/")
    assert response.status_code == 302
    await convo.arefresh_from_db()
    # Switching afterwards changes the owner's screen, not the snapshot.
    await signed_in.post(f"/c/{convo.pk}/turns/{edited.pk}/version/")
    await async_client.alogout()
    html = (await async_client.get(f"/s/{convo.share_token}/")).content.decode()
    assert shown_turns(html) == [first.pk, old.pk]
    assert "By bike?" not in html
    assert re.search(r"data-branch>\s*Version 1 of 2\s*<", html)
    assert 'aria-label="Next version"' not in html  # read-only: nothing to switch


async def test_the_admin_transcript_shows_the_version_on_screen_and_all_on_demand(
    client, user, make_user, two_versions
):
    convo, first, old, edited = two_versions
    await branches.choose(convo, edited.pk)
    boss = await sync_to_async(make_user)("boss", is_staff=True, is_superuser=True)
    await sync_to_async(client.force_login)(boss)
    url = f"/admin/chat/conversation/{convo.pk}/change/"
    html = (await sync_to_async(client.get)(url)).content.decode()
    assert shown_turns(html) == [first.pk, edited.pk]
    assert re.search(r"data-branch>\s*Version 2 of 2\s*<", html)
    assert "1 turn of other versions not shown" in html and 'href="?branch=all"' in html
    every = (await sync_to_async(client.get)(f"{url}?branch=all")).content.decode()
    assert shown_turns(every) == [first.pk, old.pk, edited.pk]
    assert re.search(r"data-branch>\s*Version 1 of 2\s*<", every)
    reads = [r.what async for r in TranscriptRead.objects.filter(conversation=convo)]
    assert reads == ["transcript", "transcript"]  # each read is logged, as any other
