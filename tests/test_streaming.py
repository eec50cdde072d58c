"""A turn end to end through real websockets (Channels) and the real emulator over loopback."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.db.models.signals import post_save

from chatsite.chat.hub import hub
from chatsite.chat.models import Turn

from .helpers import (
    PageText,
    added_turn_id,
    delta_frames,
    is_delta,
    is_status,
    make_conversation,
    model_text,
    wait_for_turn,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def send(tab, text):
    await tab.send({"action": "send", "message": text})
    return added_turn_id(await tab.receive_until(lambda f: added_turn_id(f) is not None))


async def test_reply_streams_into_the_assistant_bubble_and_is_saved(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "hello [emulator:pace=15] [emulator:words=40]")
    # The person's words and the model, drawn by the tab from its page's new-turn template.
    assert json.loads(tab.frames[-1]) == {
        "turn": [turn_id, "", "hello [emulator:pace=15] [emulator:words=40]", convo.model]
    }

    await tab.receive_until(lambda f: is_status(f, "completed"))
    turn = await wait_for_turn(turn_id)
    assert turn.status == "completed"
    assert turn.interaction_id.startswith("v1_")
    saved = model_text(turn.steps)
    assert len(saved.split()) == 40
    # The text arrived in several small frames, not all at once, and adds up to what was saved.
    deltas = delta_frames(tab.frames)
    assert len(deltas) >= 5
    assert "".join(text for frame in deltas for _, text in frame) == saved
    # The finished step was swapped in as rendered HTML with its API type.
    assert any('data-step-type="model_output"' in f and "hx-swap-oob" in f for f in tab.frames)
    await tab.close()


async def test_reload_mid_stream_shows_text_so_far_then_the_rest(user, open_tab):
    convo = await make_conversation(user)
    first = await open_tab(user, convo.pk)
    turn_id = await send(first, "tell me a story [emulator:pace=10] [emulator:words=120]")
    for _ in range(3):
        await first.receive_until(is_delta)
    await first.close()  # the tab is reloaded: its socket goes away mid-stream

    reloaded = await open_tab(user, convo.pk)
    await reloaded.send({"action": "resume", "turns": [turn_id], "after": turn_id})
    page = PageText()
    snapshot = await reloaded.receive_until(lambda f: f'id="a-{turn_id}"' in f)
    page.apply(snapshot)
    so_far = next(iter(page.text.values()))
    assert so_far, "the reloaded page shows the text written so far"
    while True:
        frame = await reloaded.receive()
        page.apply(frame)
        if is_status(frame, "completed"):
            break
    turn = await wait_for_turn(turn_id)
    # One live element, holding exactly the saved answer: nothing lost, nothing doubled.
    assert list(page.text.values()) == [model_text(turn.steps)]
    await reloaded.close()


async def test_second_tab_sees_the_same_stream(user, open_tab):
    convo = await make_conversation(user)
    one = await open_tab(user, convo.pk)
    two = await open_tab(user, convo.pk)
    turn_id = await send(one, "hi both [emulator:pace=5] [emulator:words=30]")
    await one.receive_until(lambda f: is_status(f, "completed"))
    await two.receive_until(lambda f: is_status(f, "completed"))
    turn = await wait_for_turn(turn_id)
    for tab in (one, two):
        assert any(added_turn_id(f) == turn_id for f in tab.frames)
        text = "".join(t for frame in delta_frames(tab.frames) for _, t in frame)
        assert text == model_text(turn.steps)
    await one.close()
    await two.close()


async def test_closing_the_tab_does_not_stop_the_reply(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "keep going [emulator:pace=5] [emulator:words=40]")
    await tab.close()
    turn = await wait_for_turn(turn_id)
    assert turn.status == "completed"
    assert len(model_text(turn.steps).split()) >= 40


async def test_stop_ends_the_reply_and_closes_the_upstream_stream(user, open_tab, emulator):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "a long one [emulator:pace=20] [emulator:words=500]")
    await tab.receive_until(is_delta)
    await tab.send({"action": "stop"})
    await tab.receive_until(lambda f: is_status(f, "cancelled"), timeout=3)
    turn = await wait_for_turn(turn_id)
    assert turn.status == "cancelled"
    partial = model_text(turn.steps)
    assert partial and len(partial.split()) < 500  # what was shown is kept
    assert await sync_to_async(emulator.store.wait_disconnect)(turn.interaction_id, 5)
    await tab.close()


async def test_next_turn_chains_with_previous_interaction_id(user, open_tab, emulator):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    first_id = await send(tab, "my favourite colour is teal")
    await tab.receive_until(lambda f: is_status(f, "completed"))
    second_id = await send(tab, "what did I say?")
    await tab.receive_until(lambda f: is_status(f, "completed") and str(second_id) in f)
    first = await wait_for_turn(first_id)
    second = await wait_for_turn(second_id)
    body = emulator.store.get(second.interaction_id).request
    assert body["previous_interaction_id"] == first.interaction_id
    assert "my favourite colour is teal" in model_text(second.steps)
    await tab.close()


async def test_another_users_socket_is_refused(user, other_user, open_tab):
    convo = await make_conversation(user)
    await open_tab(other_user, convo.pk, expect_ok=False)
    await open_tab(None, convo.pk, expect_ok=False)


async def test_socket_from_a_foreign_origin_is_refused(user, open_tab):
    convo = await make_conversation(user)
    await open_tab(user, convo.pk, origin=b"http://evil.example", expect_ok=False)


async def test_ownership_is_checked_again_on_every_message(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    user.is_active = False
    await user.asave(update_fields=["is_active"])
    await tab.send({"action": "stop"})
    output = await tab.ws.receive_output(timeout=3)
    assert output["type"] == "websocket.close"
    assert output["code"] in (4401, 4403)


async def test_bad_frames_get_a_clear_error_and_keep_the_socket(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    await tab.ws.send_to(text_data="not json")
    assert "not valid JSON" in json.loads(await tab.receive())["error"]
    await tab.send({"action": "send", "message": "   "})
    assert "Type a message" in json.loads(await tab.receive())["error"]
    await tab.send({"action": "resume", "turns": ["x"], "after": 0})
    assert "Bad resume" in json.loads(await tab.receive())["error"]
    await tab.send({"action": "resume", "turns": [], "after": 0})  # still answers
    await tab.close()


async def test_upstream_429_before_the_stream_is_retried(user, open_tab, emulator):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "busy? [emulator:fail=429x2] [emulator:retry_after=0]")
    await tab.receive_until(lambda f: is_status(f, "completed"))
    turn = await wait_for_turn(turn_id)
    assert turn.status == "completed" and model_text(turn.steps)
    await tab.close()


async def test_a_retry_of_the_first_request_is_shown_on_its_turn(user, open_tab):
    """The first request leaves before the turn is saved (early_request.py): its retries
    are still the turn's, told to the tabs as a retry note on that turn."""
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "busy? [emulator:fail=503x1] [emulator:retry_after=1]")
    frame = await tab.receive_until(lambda f: f.startswith('{"retry"'))
    assert json.loads(frame)["retry"][0] == turn_id
    assert "Gemini is busy right now (503)" in frame
    await tab.receive_until(lambda f: is_status(f, "completed"))
    await tab.close()


async def test_upstream_503_that_persists_fails_the_turn_with_the_upstream_message(
    user, open_tab, settings
):
    settings.GEMINI_MAX_RETRIES = 1
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "down? [emulator:fail=503x5]")
    await tab.receive_until(lambda f: is_status(f, "failed"), timeout=10)
    turn = await wait_for_turn(turn_id)
    assert turn.status == "failed"
    assert "503" in turn.error["message"]
    assert any("Retry" in f for f in tab.frames)  # the page offers Retry
    await tab.close()


async def test_stream_broken_mid_way_is_resumed_without_lost_or_doubled_text(
    user, open_tab, emulator
):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "fragile [emulator:drop=7] [emulator:pace=3] [emulator:words=60]")
    await tab.receive_until(lambda f: is_status(f, "completed"), timeout=15)
    turn = await wait_for_turn(turn_id)
    upstream = emulator.store.get(turn.interaction_id)
    assert upstream.stream_responses >= 2  # the create stream, then a replay
    expected = model_text(upstream.all_steps())
    assert model_text(turn.steps) == expected
    shown = "".join(t for frame in delta_frames(tab.frames) for _, t in frame)
    assert shown == expected
    await tab.close()


async def test_no_database_write_and_no_channel_layer_message_per_delta(
    user, open_tab, monkeypatch
):
    from channels.layers import get_channel_layer

    layer_class = type(get_channel_layer())  # in-memory, or Redis in CI's second run
    saves = []
    layer_calls = []

    def count_save(sender, instance, **kwargs):
        saves.append(instance)

    post_save.connect(count_save, sender=Turn)
    # The runner's writer updates the row directly (no post_save): count those UPDATEs too.
    from django.db.models.query import QuerySet

    update = QuerySet.update

    def counted_update(self, **values):
        if self.model is Turn and "lease_expires_at" not in values:  # lease renewals aside
            saves.append(values)
        return update(self, **values)

    monkeypatch.setattr(QuerySet, "update", counted_update)
    for name in ("send", "group_send"):
        original = getattr(layer_class, name)

        async def counted(self, *args, _original=original, _name=name, **kwargs):
            layer_calls.append(_name)
            return await _original(self, *args, **kwargs)

        monkeypatch.setattr(layer_class, name, counted)

    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    saves.clear()
    turn_id = await send(tab, "count [emulator:pace=1] [emulator:words=300]")
    await tab.receive_until(lambda f: is_status(f, "completed"), timeout=15)
    turn = await wait_for_turn(turn_id)
    words = len(model_text(turn.steps).split())
    assert words >= 300
    # created + interaction id + one per finished step + the end: a handful, not ~300.
    assert len(saves) <= 8, saves
    # One process: the layer is not in the delta path at all (with several, the relay sends
    # batches; tests/test_scale_out.py counts those). A turn's control messages may use it —
    # the sidebar's one event to the person's group — never one per delta.
    assert len(layer_calls) <= 4, layer_calls
    await tab.close()
    post_save.disconnect(count_save, sender=Turn)


async def test_runner_leaves_the_hub_when_done(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "short")
    await tab.receive_until(lambda f: is_status(f, "completed"))
    await asyncio.sleep(0.05)
    assert hub.runner(turn_id) is None
    await tab.close()


ANSWER_WITH_CODE = "Intro with **bold**.\n\n```python\nx = 1\n```\n\nThe end."


async def test_an_answer_ends_in_place_with_only_its_code_block_sent_as_html(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, ANSWER_WITH_CODE + " [emulator:echo] [emulator:pace=5]")
    await tab.receive_until(lambda f: is_status(f, "completed"))
    text = "".join(t for frame in delta_frames(tab.frames) for _, t in frame)
    assert text == ANSWER_WITH_CODE  # the text, once
    blocks = [f for f in tab.frames if f.startswith("=")]
    assert len(blocks) == 1 and blocks[0].startswith(f"=st-{turn_id}-1 1\n<pre>")
    assert 'class="hl-' in blocks[0]  # highlighted by the page's renderer
    assert f".st-{turn_id}-1" in tab.frames  # it ends in place: no second copy of the answer
    assert not any("step-output" in f and "outerHTML" in f for f in tab.frames)


async def test_a_finished_answer_ends_with_one_small_frame_not_its_meta_html(user, open_tab):
    """The meta line of an answer that ends live is drawn by the tab from its page's template
    (chat.js finishMeta): the server sends its status, tokens and live element only."""
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "[emulator:words=20] hello")
    last = await tab.receive_until(lambda f: is_status(f, "completed"), timeout=20)
    frame = json.loads(last)
    assert frame["status"] == [turn_id, "completed"]
    assert frame["meta"]["source"] == f"st-{turn_id}-1"  # the live answer's text element
    saved = await wait_for_turn(turn_id)
    assert frame["meta"]["tokens"] == f"{saved.usage['total_tokens']} tokens"
    assert not any(f'id="meta-{turn_id}" data-turn-status="completed"' in f for f in tab.frames)
    assert len(last.encode()) < 100


async def test_a_failed_answer_still_gets_its_meta_line_as_html(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    turn_id = await send(tab, "[emulator:fail=400] hello")
    await tab.receive_until(lambda f: is_status(f, "failed"), timeout=20)
    meta = [f for f in tab.frames if f'id="meta-{turn_id}" data-turn-status="failed"' in f]
    assert meta and ">Retry<" in meta[-1]


async def test_a_new_turn_of_words_is_a_small_frame_drawn_from_the_pages_template(
    async_client, user, open_tab
):
    convo = await make_conversation(user)
    await async_client.aforce_login(user)
    page = (await async_client.get(f"/c/{convo.pk}/")).content.decode()
    template = page.split('<template id="new-turn">')[1].split("</template>")[0]
    # The partial every turn is drawn with, for turn 0, pending: what chat.js fills in.
    assert 'id="turn-0" data-turn-id="0" data-parent=""' in template
    assert 'data-role="user"' in template and 'class="user-text"' in template
    assert 'id="a-0" data-role="assistant" data-status="pending"' in template
    assert f'data-edit="/c/{convo.pk}/turns/0/edit/form/"' in template
    tab = await open_tab(user, convo.pk)
    words = "a question of words <b>only</b> [emulator:words=3]"
    turn_id = await send(tab, words)
    [added] = [f for f in tab.frames if added_turn_id(f) == turn_id]
    assert len(added.encode()) < len(words) + 60  # not the ~700 bytes of its HTML
    await tab.receive_until(lambda f: is_status(f, "completed"))


async def test_a_new_version_still_arrives_as_html_with_its_place(async_client, user, open_tab):
    convo = await make_conversation(user)
    await async_client.aforce_login(user)
    tab = await open_tab(user, convo.pk)
    first = await send(tab, "first [emulator:words=3]")
    await tab.receive_until(lambda f: is_status(f, "completed"))
    await async_client.post(f"/c/{convo.pk}/turns/{first}/regenerate/")
    added = await tab.receive_until(lambda f: (added_turn_id(f) or first) != first)
    assert added.startswith("<") and "2 / 2" in added
    await tab.receive_until(lambda f: is_status(f, "completed"))
