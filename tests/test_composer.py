"""The composer: models and agents, settings re-sent every turn, background runs, function
calling, continuation, structured output, usage — through the real emulator."""

import json
import re

import pytest
from asgiref.sync import sync_to_async

from chatsite.chat.models import Conversation, Turn

from .helpers import delta_frames, is_delta, is_status, model_text, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)


async def conversation_with(user, model="gemini-3.5-flash", **options):
    return await Conversation.objects.acreate(owner=user, title="t", model=model, settings=options)


async def run_turn(open_tab, user, convo, text, *, final="completed", timeout=20):
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": text})
    await tab.receive_until(lambda f: is_status(f, final), timeout=timeout)
    turn = await Turn.objects.filter(conversation=convo).order_by("-pk").afirst()
    return tab, await wait_for_turn(turn.pk)


def step_types(turn):
    return [s.get("type") for s in turn.steps]


async def test_settings_posted_with_a_message_are_kept_and_sent(async_client, user, emulator):
    await async_client.aforce_login(user)
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    form = {
        "message": "hello", "model": "gemini-3.1-pro-preview", "settings_form": "1",
        "system_instruction": "Answer like a pirate.", "thinking_level": "low",
        "thinking_summaries": "auto", "max_output_tokens": "512",
        "tools": ["google_search", "code_execution"], "file_search_stores": "fileSearchStores/a",
        "response_schema": json.dumps(schema),
    }  # fmt: skip
    assert (await async_client.post("/c/new/", form)).status_code == 302
    convo = await Conversation.objects.aget(owner=user)
    assert convo.model == "gemini-3.1-pro-preview"
    assert convo.settings["tools"] == ["google_search", "code_execution"]
    turn = await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)
    body = emulator.store.get(turn.interaction_id).request
    assert body["model"] == "gemini-3.1-pro-preview"
    assert body["system_instruction"] == "Answer like a pirate."
    assert body["generation_config"] == {
        "thinking_level": "low", "thinking_summaries": "auto", "max_output_tokens": 512,
    }  # fmt: skip
    assert {"type": "google_search"} in body["tools"] and {"type": "code_execution"} in body[
        "tools"
    ]
    assert {"type": "file_search", "file_search_store_names": ["fileSearchStores/a"]} in body[
        "tools"
    ]
    assert body["response_format"]["schema"] == schema
    assert turn.request["model"] == "gemini-3.1-pro-preview" and "input" not in turn.request


async def test_settings_are_re_sent_and_a_model_switch_keeps_the_chain(
    async_client, user, emulator
):
    await async_client.aforce_login(user)
    base = {"settings_form": "1", "tools": ["google_search"], "system_instruction": "Be brief."}
    await async_client.post("/c/new/", {**base, "message": "first", "model": "gemini-3.5-flash"})
    convo = await Conversation.objects.aget(owner=user)
    first = await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)
    response = await async_client.post(
        f"/c/{convo.pk}/send/", {**base, "message": "second", "model": "gemini-2.5-flash"}
    )
    assert response.status_code == 302
    second = await wait_for_turn((await Turn.objects.order_by("-pk").afirst()).pk)
    body = emulator.store.get(second.interaction_id).request
    assert body["model"] == "gemini-2.5-flash"
    assert body["previous_interaction_id"] == first.interaction_id
    assert (
        body["tools"] == [{"type": "google_search"}] and body["system_instruction"] == "Be brief."
    )


async def test_a_post_without_the_settings_panel_keeps_the_settings(async_client, user):
    convo = await conversation_with(user, tools=["code_execution"])
    await async_client.aforce_login(user)
    await async_client.post(f"/c/{convo.pk}/send/", {"message": "hi"})
    await convo.arefresh_from_db()
    assert convo.settings == {"tools": ["code_execution"]}
    await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)


async def save_settings(client, convo, **fields):
    data = {"settings_form": "1", "model": convo.model, **fields}
    return await client.post(f"/c/{convo.pk}/settings/", data, headers={"HX-Request": "true"})


async def test_a_settings_change_is_saved_to_the_conversation_without_a_message(async_client, user):
    convo = await conversation_with(user, tools=["code_execution"])
    await async_client.aforce_login(user)
    response = await save_settings(
        async_client, convo, thinking_level="high", tools=["google_search"],
        model="gemini-3.1-pro-preview",
    )  # fmt: skip
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="settings-saved"' in html and ">saved</span>" in html
    assert 'id="conversation-model"' in html and "gemini-3.1-pro-preview" in html
    await convo.arefresh_from_db()
    assert (convo.model, convo.settings) == (
        "gemini-3.1-pro-preview",
        {"thinking_level": "high", "tools": ["google_search"]},
    )
    assert not await Turn.objects.filter(conversation=convo).aexists()


async def test_a_bad_settings_change_is_refused_beside_its_field_and_not_saved(async_client, user):
    convo = await conversation_with(user, thinking_level="low")
    await async_client.aforce_login(user)
    response = await save_settings(
        async_client, convo, thinking_level="high", response_schema="{not json"
    )
    assert response.status_code == 422
    html = response.content.decode()
    error = re.search(r'id="error-response_schema"[^>]*>([^<]*)<', html)
    assert error and error.group(1).startswith("The schema is not valid JSON: check line 1")
    assert "Expecting" not in html  # the parser's words stay out
    assert re.search(r'id="error-thinking_level"[^>]*></p>', html)  # the others are cleared
    await convo.arefresh_from_db()
    assert convo.settings == {"thinking_level": "low"}


async def test_settings_of_someone_elses_conversation_are_not_theirs_to_save(
    async_client, user, other_user
):
    convo = await conversation_with(other_user)
    await async_client.aforce_login(user)
    response = await save_settings(async_client, convo, thinking_level="high")
    assert response.status_code == 404
    await convo.arefresh_from_db()
    assert convo.settings == {}


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("response_schema", "{not json", "not valid JSON"),
        ("response_schema", '{"type": 5}', "not a valid JSON Schema"),
        ("model", "gemini-0-nope", "Select a valid choice"),
        ("tools", "rm_rf", "Select a valid choice"),
        ("max_output_tokens", "-3", "Allow at least 1 token."),
    ],
)
async def test_bad_settings_get_a_clear_error_and_nothing_is_sent(
    async_client, user, field, value, error
):
    await async_client.aforce_login(user)
    response = await async_client.post(
        "/c/new/", {"message": "hi", "settings_form": "1", field: value},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert response.status_code == 422 and error in response.content.decode()
    assert not await Conversation.objects.aexists()


async def test_run_in_background_uses_background_and_can_be_cancelled(
    async_client, user, open_tab, emulator
):
    await async_client.aforce_login(user)
    await async_client.post(
        "/c/new/",
        {"message": "long job [emulator:pace=30] [emulator:words=400]", "background": "on"},
    )
    convo = await Conversation.objects.aget(owner=user)
    turn = await Turn.objects.aget(conversation=convo)
    assert turn.background
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "resume", "turns": [turn.pk], "after": turn.pk})
    await tab.receive_until(is_delta)
    turn = await Turn.objects.aget(pk=turn.pk)
    body = emulator.store.get(turn.interaction_id).request
    assert body["background"] is True
    await tab.send({"action": "stop"})
    await tab.receive_until(lambda f: is_status(f, "cancelled"), timeout=5)
    assert emulator.store.status(turn.interaction_id) == "cancelled"  # cancelled upstream too
    await tab.close()


async def test_deep_research_agent_runs_in_the_background_and_reports(user, open_tab, emulator):
    convo = await conversation_with(user, model="deep-research-pro-preview-12-2025")
    tab, turn = await run_turn(open_tab, user, convo, "history of tea [emulator:pace=0]")
    body = emulator.store.get(turn.interaction_id).request
    assert body["agent"] == "deep-research-pro-preview-12-2025" and body["background"] is True
    assert "generation_config" not in body
    assert "google_search_call" in step_types(turn) and len(model_text(turn.steps).split()) > 200
    statuses = [json.loads(f)["status"][1] for f in tab.frames if f.startswith('{"status"')]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    await tab.close()


async def test_antigravity_agent_gets_a_remote_environment(user, open_tab, emulator):
    convo = await conversation_with(user, model="antigravity-preview-05-2026")
    tab, turn = await run_turn(open_tab, user, convo, "build it [emulator:pace=0]")
    body = emulator.store.get(turn.interaction_id).request
    assert body["environment"] == {"type": "remote"}
    assert turn.status == "completed"
    await tab.close()


async def test_calculator_function_is_called_and_its_result_shown(
    user, open_tab, emulator, builtin_tools_on
):
    convo = await conversation_with(user, functions=["calculator"])
    tab, turn = await run_turn(open_tab, user, convo, "2*(3+4) [emulator:call=calculator]")
    types = step_types(turn)
    assert "function_call" in types and "function_result" in types
    result = next(s for s in turn.steps if s["type"] == "function_result")
    assert result["name"] == "calculator" and result["result"]["result"] == 14
    assert "14" in model_text(turn.steps)
    # The loop chained the follow-up to the interaction that asked for the call.
    second = emulator.store.get(turn.interaction_id).request
    assert second["previous_interaction_id"] == turn.continuation_ids[-1]
    assert second["input"][0]["type"] == "function_result"
    assert any('data-step-type="function_result"' in f for f in tab.frames)
    await tab.close()


@pytest.fixture
def exploding_tool(transactional_db):
    from chatsite.chat.models import FunctionTool
    from chatsite.chat.tools import registry

    @registry.tool("explode", "Always fails.", {"type": "object", "properties": {}})
    def explode():
        raise RuntimeError("the tool broke")

    FunctionTool.objects.create(name="explode", enabled=True)  # only tools switched on run
    yield "explode"
    registry.unregister("explode")


async def test_a_failing_tool_becomes_an_error_result_not_a_crash(user, open_tab, exploding_tool):
    convo = await conversation_with(user, functions=[exploding_tool])
    tab, turn = await run_turn(open_tab, user, convo, "try it [emulator:call=explode]")
    result = next(s for s in turn.steps if s["type"] == "function_result")
    assert result.get("is_error") is True and "the tool broke" in json.dumps(result["result"])
    assert turn.status == "completed"
    await tab.close()


async def test_a_long_answer_is_continued_and_shown_as_one(user, open_tab, emulator):
    convo = await conversation_with(user)
    tab, turn = await run_turn(
        open_tab, user, convo, "long [emulator:words=100] [emulator:hop_words=30] [emulator:pace=0]"
    )
    assert turn.status == "completed"
    assert len(turn.continuation_ids) >= 3
    assert len(model_text(turn.steps).split()) == 100
    targets = {target for frame in delta_frames(tab.frames) for target, _ in frame}
    assert len(targets) == 1, "every hop's text went into the same element"
    page = await sync_to_async(render_page)(user, convo)
    assert page.count('data-step-type="model_output"') == 1
    await tab.close()


def render_page(user, convo):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(f"/c/{convo.pk}/").content.decode()


async def test_structured_output_is_shown_as_checked_json(user, open_tab):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    convo = await conversation_with(user, response_schema=schema)
    tab, turn = await run_turn(open_tab, user, convo, "a city please")
    json.loads(model_text(turn.steps))
    assert any("JSON that matches the schema" in f for f in tab.frames)
    await tab.close()


async def test_usage_is_shown_per_turn_and_per_conversation(user, open_tab):
    convo = await conversation_with(user)
    tab, turn = await run_turn(open_tab, user, convo, "count my tokens")
    assert turn.total_tokens > 0
    page = await sync_to_async(render_page)(user, convo)
    assert re.search(rf"{turn.total_tokens} tokens", page)
    await tab.close()


async def test_the_composer_says_which_settings_the_chosen_agent_ignores(user):
    agent = await conversation_with(user, model="deep-research-pro-preview-12-2025")
    page = await sync_to_async(render_page)(user, agent)
    note = re.search(r'<p class="agent-note" id="agent-note" role="status">([^<]*)</p>', page)
    assert note, "shown, not hidden, for an agent"
    assert note.group(1) == (
        "This agent ignores Thinking, Max output tokens, Aspect ratio, Image size and Voice."
    )
    # The picker's other agents have their own note, read when the person switches to one.
    notes = json.loads(re.search(r'id="agent-notes"[^>]*>([^<]*)<', page).group(1))
    assert "Thought summaries" in notes["antigravity-preview-05-2026"]

    model = await conversation_with(user)
    page = await sync_to_async(render_page)(user, model)
    assert re.search(r'<p class="agent-note" id="agent-note" role="status" hidden></p>', page)
