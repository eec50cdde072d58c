"""Every request the app sends fits the API, checked by the official SDK's request models
(google-genai 3.3.0, a test-only dependency): real turns through the composer and the real
emulator, for every composer feature; the emulator's request log is the capture.

A body passes when the SDK's `CreateModelInteraction` / `CreateAgentInteraction` validates it
with no field the SDK does not know at any level, no tool or config type it does not know, no
enum value outside its lists (model and agent names are open lists) — and it serializes back
to exactly the body that was sent.
"""

import json

import pydantic
import pytest
from google.genai._gaos.types import UnrecognizedStr
from google.genai._gaos.types.interactions import CreateAgentInteraction, CreateModelInteraction
from google.genai._gaos.types.interactions.dynamicagentconfig import DynamicAgentConfig

from chatsite.chat.models import FunctionTool, McpServer, Turn

from .helpers import model_text, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = "[emulator:pace=0]"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
DEEP_RESEARCH = "deep-research-pro-preview-12-2025"
ANTIGRAVITY = "antigravity-preview-05-2026"


# --- the oracle -----------------------------------------------------------------------------


def sdk_problems(body: dict) -> list[str]:
    """What the SDK's request models find wrong with a create body (empty: it conforms)."""
    model = CreateAgentInteraction if "agent" in body else CreateModelInteraction
    try:
        parsed = model.model_validate(body)
    except pydantic.ValidationError as exc:
        return [str(exc)]
    problems = list(_strays(parsed, "$"))
    if parsed.to_dict(mode="json") != body:
        problems.append("the SDK would send this body differently")
    return problems


def _strays(value, path: str):
    """Unknown fields, unknown union variants and unknown enum values, anywhere inside."""
    if getattr(value, "is_unknown", False) is True:
        yield f"{path}: a type the SDK does not know: {value.raw!r}"
        return
    if isinstance(value, UnrecognizedStr) and path not in ("$.model", "$.agent"):
        yield f"{path}: {value!r} is none of the SDK's values"
    if isinstance(value, pydantic.BaseModel):
        extra = value.__pydantic_extra__ or {}
        # Open objects: a model with no fields of its own (a function's result, a schema)
        # and the dynamic agent config take any keys.
        open_object = not type(value).model_fields or isinstance(value, DynamicAgentConfig)
        if extra and not open_object:
            yield f"{path}: fields the SDK does not know: {sorted(extra)}"
        for name, field in type(value).model_fields.items():
            yield from _strays(value.__dict__.get(name), f"{path}.{field.alias or name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strays(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strays(item, f"{path}.{key}")


def test_the_oracle_catches_what_the_api_would_not_take():
    good = {"model": "gemini-3.5-flash", "input": [{"type": "text", "text": "hi"}]}
    assert sdk_problems(good) == []
    assert sdk_problems({**good, "colour": "red"})  # an unknown top-level field
    assert sdk_problems({**good, "tools": [{"type": "google_search", "safe": True}]})
    assert sdk_problems({**good, "tools": [{"type": "web_browser"}]})  # an unknown tool
    assert sdk_problems({**good, "generation_config": {"thinking_level": "huge"}})
    assert sdk_problems({**good, "generation_config": {"max_output_tokens": "lots"}})
    agent = {"agent": DEEP_RESEARCH, "input": "tea", "background": True}
    assert sdk_problems(agent) == []
    assert sdk_problems({**agent, "generation_config": {"thinking_level": "low"}})


# --- the capture ----------------------------------------------------------------------------


@pytest.fixture
def captured(emulator):
    """captured() → the create bodies the emulator received since the test began, each
    checked against the SDK's request models."""
    earlier = emulator.store.all_requests()  # kept alive, so no id is reused
    seen = {id(entry) for entry in earlier}

    def bodies() -> list[dict]:
        found = [e.body for e in emulator.store.create_requests() if id(e) not in seen]
        for body in found:
            assert sdk_problems(body) == [], json.dumps(body, indent=1)[:3000]
        return found

    return bodies


@pytest.fixture
def composer(async_client, user):
    """composer(message, conversation=None, **fields) → the finished Turn, sent as the page's
    composer form sends it (settings panel included)."""

    async def send(message, conversation=None, *, files=(), **fields):
        await async_client.aforce_login(user)
        form = {"message": message, "settings_form": "1", **fields}
        if files:
            form["attachments"] = list(files)
        url = f"/c/{conversation.pk}/send/" if conversation else "/c/new/"
        response = await async_client.post(url, form)
        assert response.status_code == 302, response.content.decode()[:500]
        turn = await Turn.objects.filter(conversation__owner=user).order_by("-pk").afirst()
        return await wait_for_turn(turn.pk, timeout=40)

    return send


@pytest.fixture(autouse=True)
def _functions_on(db):
    """The built-in functions, switched on (as their data migration does; tests flush it)."""
    for name in ("calculator", "convert_units", "current_time"):
        FunctionTool.objects.update_or_create(name=name, defaults={"enabled": True})


@pytest.fixture
def wiki_server(db):
    return McpServer.objects.create(
        name="team_wiki",
        url="https://mcp.example.com/mcp",
        headers={"Authorization": "Bearer s3cret"},
        allowed_tools=["search_pages", "read_page"],
    )


@pytest.fixture
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# Every composer feature, each as the person would set it (form field → value).
FEATURES = {
    "default model": ("hello", {}),
    "each model kind": ("hello", {"model": "gemini-3.1-pro-preview"}),
    "thinking, summaries, limits, system instruction": (
        "think it over",
        {
            "thinking_level": "high",
            "thinking_summaries": "auto",
            "max_output_tokens": "2048",
            "system_instruction": "Answer in one line.",
        },
    ),
    "built-in tools": (
        "tea in Paris",
        {"tools": ["google_search", "code_execution", "url_context", "google_maps"]},
    ),
    "file search": ("the handbook", {"file_search_stores": "fileSearchStores/handbook"}),
    "function tools": (
        "2*(3+4) [emulator:call=calculator]",
        {"functions": ["calculator", "convert_units", "current_time"]},
    ),
    "mcp server": ("find the on-call page", {"mcp_servers": ["team_wiki"]}),
    "structured output": ("a city please", {"response_schema": json.dumps(SCHEMA)}),
    "image model": (
        "a lighthouse",
        {"model": "gemini-3.1-flash-image", "aspect_ratio": "16:9", "image_size": "2K"},
    ),
    "speech model": ("say hello", {"model": "gemini-3.1-flash-tts-preview", "voice": "Kore"}),
    "background run": ("slowly", {"background": "on"}),
    "deep research agent": (
        f"history of tea {QUICK}",
        {
            "model": DEEP_RESEARCH,
            "thinking_summaries": "auto",
            "tools": ["google_search"],
            "mcp_servers": ["team_wiki"],
            "response_schema": json.dumps(SCHEMA),
            "system_instruction": "Cite sources.",
        },
    ),
    "antigravity agent": (
        f"build it {QUICK}",
        {
            "model": ANTIGRAVITY,
            "tools": ["code_execution"],
            "thinking_level": "high",
            "voice": "Puck",
            "max_output_tokens": "100",
        },
    ),
    "everything at once": (
        "all of it [emulator:call=calculator] [emulator:words=60] [emulator:hop_words=25]",
        {
            "model": "gemini-3.1-pro-preview",
            "thinking_level": "low",
            "thinking_summaries": "none",
            "max_output_tokens": "4096",
            "system_instruction": "Be brief.",
            "tools": ["google_search", "url_context"],
            "functions": ["calculator"],
            "mcp_servers": ["team_wiki"],
            "file_search_stores": "fileSearchStores/a, fileSearchStores/b",
            "voice": "Kore",
            "aspect_ratio": "1:1",
        },
    ),
}


@pytest.mark.parametrize("feature", FEATURES)
async def test_every_request_of_a_composer_feature_fits_the_sdk(
    feature, composer, captured, wiki_server
):
    message, fields = FEATURES[feature]
    turn = await composer(message, **fields)
    assert turn.status == "completed", turn.error
    # A follow-up in the same conversation (chained, the settings re-sent) fits as well.
    follow_up = await composer(f"and then? {QUICK}", await _conversation(turn), **fields)
    assert follow_up.status == "completed", follow_up.error
    bodies = captured()
    assert len(bodies) >= 2
    assert bodies[-1]["previous_interaction_id"]


async def _conversation(turn):
    return (await Turn.objects.select_related("conversation").aget(pk=turn.pk)).conversation


async def test_an_attachment_is_sent_in_a_form_the_sdk_takes(composer, captured, _media_root):
    from django.core.files.uploadedfile import SimpleUploadedFile

    turn = await composer("what is this?", files=[SimpleUploadedFile("dot.png", PNG, "image/png")])
    assert turn.status == "completed", turn.error
    (body,) = captured()
    assert any(block.get("type") == "image" for block in body["input"])


async def test_a_chain_the_api_forgot_is_re_sent_as_history_the_sdk_takes(
    composer, captured, emulator
):
    first = await composer("my project is called Heron", tools=["google_search"])
    emulator.store.delete(first.interaction_id)  # stored interactions expire
    second = await composer("what is it called?", await _conversation(first))
    assert second.status == "completed", second.error
    history = captured()[-1]
    assert "previous_interaction_id" not in history
    assert [s["type"] for s in history["input"]][0] == "user_input"


# --- the divergences the capture found (issue items 12-16) ---------------------------------


async def test_continuation_hops_re_send_the_original_request(composer, captured):
    settings = {
        "thinking_level": "low",
        "max_output_tokens": "4096",
        "system_instruction": "Be thorough.",
        "tools": ["google_search"],
    }
    turn = await composer("long [emulator:words=100] [emulator:hop_words=30]", **settings)
    assert turn.status == "completed"
    first, *hops = captured()
    assert len(hops) >= 2 and len(turn.continuation_ids) == len(hops)
    kept = {k: v for k, v in first.items() if k not in ("input", "previous_interaction_id")}
    assert set(kept) >= {"generation_config", "system_instruction", "tools", "stream"}
    for owner, hop in zip(turn.continuation_ids, hops, strict=True):
        # The same request, as the SDK sends a hop: the token, the interaction that issued
        # it, and no input.
        token = hop["continuation_token"]
        assert token and hop == {
            **kept,
            "continuation_token": token,
            "previous_interaction_id": owner,
        }
    assert len(model_text(turn.steps).split()) >= 100


async def test_a_continued_structured_answer_re_sends_its_response_format(composer, captured):
    schema = {"type": "array", "items": {"type": "string"}, "minItems": 25, "maxItems": 25}
    turn = await composer("a list [emulator:hop_words=10]", response_schema=json.dumps(schema))
    assert turn.status == "completed"
    first, *hops = captured()
    assert hops, "the answer took more than one hop"
    for hop in hops:
        assert hop["response_format"] == first["response_format"]
    assert len(json.loads(model_text(turn.steps))) == 25


async def test_an_agent_gets_the_tools_format_and_summaries_choice_it_accepts(
    composer, captured, wiki_server
):
    turn = await composer(
        f"history of tea {QUICK}",
        model=DEEP_RESEARCH,
        tools=["google_search", "url_context"],
        functions=["current_time"],
        mcp_servers=["team_wiki"],
        thinking_summaries="none",
        response_schema=json.dumps(SCHEMA),
        thinking_level="high",
        max_output_tokens="99",
    )
    (body,) = captured()
    assert body["agent"] == DEEP_RESEARCH and body["background"] is True
    types = [tool["type"] for tool in body["tools"]]
    assert types == ["google_search", "url_context", "function", "mcp_server"]
    assert body["response_format"]["schema"] == SCHEMA
    assert body["agent_config"] == {"type": "deep-research", "thinking_summaries": "none"}
    assert "generation_config" not in body  # thinking level and token limit: agents ignore them
    assert "city" in json.loads(model_text(turn.steps))  # the report came as the schema asks
    thoughts = [s for s in turn.steps if s["type"] == "thought"]
    assert thoughts and not any(s.get("summary") for s in thoughts), "the agent heard “none”"


async def test_antigravity_gets_tools_but_no_deep_research_config(composer, captured):
    await composer(
        f"build it {QUICK}", model=ANTIGRAVITY, tools=["code_execution"], thinking_summaries="auto"
    )
    (body,) = captured()
    assert body["tools"] == [{"type": "code_execution"}]
    assert body["environment"] == {"type": "remote"}
    assert "agent_config" not in body and "generation_config" not in body


async def test_the_saved_voice_goes_only_to_speech_models(composer, captured):
    turn = await composer("hello", model="gemini-3.5-flash", voice="Kore", thinking_level="low")
    convo = await _conversation(turn)
    await composer("now say it", convo, model="gemini-3.1-flash-tts-preview", voice="Kore")
    await composer("and plainly", convo, model="gemini-3.5-flash", voice="Kore")
    text, speech, text_again = captured()
    assert text["generation_config"] == {"thinking_level": "low"}
    assert speech["generation_config"]["speech_config"] == [{"voice": "Kore"}]
    assert "generation_config" not in text_again


async def test_mcp_allowed_tools_mean_only_these_tools_not_a_forced_call(
    composer, captured, wiki_server
):
    turn = await composer("find the on-call page", mcp_servers=["team_wiki"])
    (body,) = captured()
    (mcp,) = [tool for tool in body["tools"] if tool["type"] == "mcp_server"]
    # "validated": the model may call one of these or answer; "any" would force a call.
    assert mcp["allowed_tools"] == [{"mode": "validated", "tools": ["search_pages", "read_page"]}]
    calls = [s for s in turn.steps if s["type"] == "mcp_server_tool_call"]
    assert calls and {c["name"] for c in calls} <= {"search_pages", "read_page"}
    assert "s3cret" not in json.dumps(turn.request), "headers are not kept with the turn"


def test_an_mcp_server_name_the_api_refuses_is_refused_by_the_admin(db):
    from chatsite.chat.admin import McpServerForm

    def form(name):
        return McpServerForm(
            {
                "name": name,
                "url": "https://mcp.example.com/mcp",
                "headers": "{}",
                "allowed_tools": "[]",
                "enabled": "on",
            }
        )

    refused = form("team-wiki")
    assert not refused.is_valid()
    assert "refuses “-”" in refused.errors["name"][0]
    assert form("team_wiki").is_valid()


async def test_an_mcp_server_named_with_a_dash_is_neither_offered_nor_sent(
    composer, captured, emulator
):
    from asgiref.sync import sync_to_async

    from chatsite.chat.forms import ComposerForm

    await McpServer.objects.acreate(name="old-wiki", url="https://mcp.example.com/mcp")
    offered = await sync_to_async(lambda: ComposerForm.for_conversation().fields)()
    assert "old-wiki" not in [c for c, _ in offered["mcp_servers"].choices]
    # A conversation that chose it before the rule: the server is left out, the turn works.
    turn = await composer("hello", mcp_servers=[])
    convo = await _conversation(turn)
    convo.settings = {"mcp_servers": ["old-wiki"]}
    await convo.asave(update_fields=["settings"])
    again = await composer("again", convo, settings_form="")
    assert again.status == "completed", again.error
    assert "tools" not in captured()[-1]


def test_the_emulator_refuses_an_mcp_server_name_with_a_dash(emulator):
    import httpx

    wiki = {"type": "mcp_server", "name": "team-wiki", "url": "https://x.example"}
    body = {"model": "gemini-3.5-flash", "input": "hi", "tools": [wiki]}
    response = httpx.post(
        f"{emulator.base_url}/interactions", json=body, headers={"x-goog-api-key": "k"}
    )
    assert response.status_code == 400
    assert "tools[0].name" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "fields",
    [{"background": "on"}, {"model": DEEP_RESEARCH}],
    ids=["background run", "agent run"],
)
async def test_background_and_agent_runs_are_continued_by_the_server_not_the_app(
    fields, composer, captured
):
    turn = await composer(f"long [emulator:words=300] [emulator:hop_words=40] {QUICK}", **fields)
    assert turn.status == "completed", turn.error
    (body,) = captured()  # one interaction: no hop was sent
    assert "continuation_token" not in body and turn.continuation_ids == []
    assert len(model_text(turn.steps).split()) >= 300


async def test_the_app_never_continues_a_background_or_agent_run_itself(user):
    """Even if the API ended such a run asking for continuation, the app would not hop (the
    SDK turns continuation off for both)."""
    from chatsite.chat.models import Conversation
    from chatsite.chat.runner import TurnRunner

    convo = await Conversation.objects.acreate(owner=user, title="t", model="gemini-3.5-flash")
    bodies = {
        "background": {"model": "gemini-3.5-flash", "input": "x", "background": True},
        "agent": {"agent": DEEP_RESEARCH, "input": "x", "background": True},
        "foreground": {"model": "gemini-3.5-flash", "input": "x"},
    }
    hops = {}
    for kind, body in bodies.items():
        turn = await Turn.objects.acreate(conversation=convo, model="m", user_input=[])
        runner = TurnRunner(turn, body=body)
        runner.assembler.feed(
            {
                "event_type": "interaction.completed",
                "interaction": {
                    "id": f"v1_{kind}",
                    "status": "requires_continuation",
                    "continuation_token": "T1",
                },
            }
        )
        hops[kind] = await runner._next_request()
    assert hops["background"] is None and hops["agent"] is None
    assert hops["foreground"]["continuation_token"] == "T1"
