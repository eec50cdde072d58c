"""A reply left running when the server stopped is picked up again from the upstream."""

import httpx
import pytest

from chatsite.chat.models import Turn

from .helpers import is_status, make_conversation, model_text, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)


async def start_upstream(emulator, text):
    async with httpx.AsyncClient(headers={"x-goog-api-key": "k"}) as http:
        response = await http.post(
            f"{emulator.base_url}/interactions",
            json={"model": "gemini-3.5-flash", "input": text, "background": True},
        )
    response.raise_for_status()
    return response.json()["id"]


async def test_turn_left_running_is_reattached_by_stream_replay(user, open_tab, emulator):
    convo = await make_conversation(user)
    interaction_id = await start_upstream(emulator, "still there? [emulator:pace=5]")
    # What a crash leaves behind: the turn says in_progress and no process runs it.
    turn = await Turn.objects.acreate(
        conversation=convo,
        interaction_id=interaction_id,
        status="in_progress",
        user_input=[{"type": "text", "text": "still there?"}],
    )
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "resume", "turns": [turn.pk], "after": turn.pk})
    await tab.receive_until(lambda f: is_status(f, "completed"), timeout=10)
    turn = await wait_for_turn(turn.pk)
    upstream = emulator.store.get(interaction_id)
    assert turn.status == "completed"
    assert model_text(turn.steps) == model_text(upstream.all_steps())
    await tab.close()


async def test_turn_that_never_reached_the_api_is_marked_interrupted(user, open_tab):
    convo = await make_conversation(user)
    turn = await Turn.objects.acreate(
        conversation=convo, status="pending", user_input=[{"type": "text", "text": "lost?"}]
    )
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "resume", "turns": [turn.pk], "after": turn.pk})
    await tab.receive_until(lambda f: is_status(f, "failed"), timeout=10)
    turn = await wait_for_turn(turn.pk)
    assert "restarted" in turn.error["message"]
    assert any("Retry" in f for f in tab.frames)
    await tab.close()


async def test_a_chain_the_api_no_longer_has_is_resent_as_history(user, open_tab, emulator):
    """Stored interactions expire, and an emulator forgets them when it restarts: the next
    turn then sends the conversation so far as steps, and the reply still knows it."""
    convo = await make_conversation(user)
    await Turn.objects.acreate(
        conversation=convo,
        interaction_id="v1_forgotten_long_ago",
        status="completed",
        user_input=[{"type": "text", "text": "my cat is called Miso"}],
        steps=[{"type": "model_output", "content": [{"type": "text", "text": "Nice name."}]}],
    )
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": "what is my cat called?"})
    await tab.receive_until(lambda f: is_status(f, "completed"), timeout=10)
    turn = await Turn.objects.filter(conversation=convo).order_by("-pk").afirst()
    turn = await wait_for_turn(turn.pk)
    body = emulator.store.get(turn.interaction_id).request
    assert "previous_interaction_id" not in body
    assert [s["type"] for s in body["input"]] == ["user_input", "model_output", "user_input"]
    assert "my cat is called Miso" in model_text(turn.steps)
    await tab.close()
