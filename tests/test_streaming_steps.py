"""Every step type streams through the socket: the card shell appears at step.start, text and
thought summaries append, and the final form replaces the shell at step.stop."""

import base64

import pytest
from asgiref.sync import sync_to_async

from chatsite.chat.models import Conversation, McpServer, Turn

from .helpers import delta_frames, is_status, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)

SCENARIOS = {
    "google_search": ({"tools": ["google_search"]}, ["google_search_call", "google_search_result"]),
    "code_execution": (
        {"tools": ["code_execution"]}, ["code_execution_call", "code_execution_result"]
    ),
    "url_context": (
        {"tools": ["url_context"]}, ["url_context_call", "url_context_result"]
    ),
    "google_maps": ({"tools": ["google_maps"]}, ["google_maps_call", "google_maps_result"]),
    "file_search": (
        {"file_search_stores": ["fileSearchStores/handbook"]},
        ["file_search_call", "file_search_result"],
    ),
    "retrieval": ({"tools": ["retrieval"]}, ["retrieval_call", "retrieval_result"]),
    "mcp_server": ({"mcp_servers": ["wiki"]}, ["mcp_server_tool_call", "mcp_server_tool_result"]),
    "thinking": ({"thinking_level": "high", "thinking_summaries": "auto"}, ["thought"]),
}  # fmt: skip


def element(frames, kind, swap):
    """The HTML of the first `kind` step element sent with `swap` ("beforeend" appends a
    shell, "outerHTML" replaces with the final form)."""
    for frame in frames:
        if frame.startswith("{"):
            continue
        marker = f'data-step-type="{kind}"'
        at = frame.find(marker)
        while at != -1:
            start = frame.rfind("<", 0, at)
            tag = frame[start + 1 : frame.find(" ", start)]
            end = frame.find(f"</{tag}>", at)
            head = frame[start : frame.find(">", at) + 1]
            inside_append = frame.rfind("beforeend:#steps-", 0, start) > frame.rfind(
                "</div>", 0, start
            )
            if (swap == "outerHTML" and 'hx-swap-oob="outerHTML"' in head) or (
                swap == "beforeend" and inside_append and "hx-swap-oob" not in head
            ):
                return frame[start:end]
            at = frame.find(marker, at + 1)
    raise AssertionError(f"no {swap} element for {kind}")


def shells_and_finals(frames):
    appended, replaced = set(), set()
    for frame in frames:
        if frame.startswith("{"):
            continue
        kinds = {part.split('"')[0] for part in frame.split('data-step-type="')[1:]}
        if "beforeend:#steps-" in frame:
            appended |= kinds
        if 'hx-swap-oob="outerHTML"' in frame:
            replaced |= kinds
    return appended, replaced


async def stream(user, open_tab, text, *, model="gemini-3.5-flash", **settings):
    convo = await Conversation.objects.acreate(
        owner=user, title="t", model=model, settings=settings
    )
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": text})
    await tab.receive_until(lambda f: is_status(f, "completed"), timeout=20)
    turn = await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)
    await tab.close()
    return tab.frames, turn


@pytest.mark.parametrize("name", SCENARIOS)
async def test_each_tool_streams_its_cards(user, open_tab, name):
    settings, types = SCENARIOS[name]
    if name == "mcp_server":
        await McpServer.objects.acreate(
            name="wiki", url="https://mcp.example.com/sse", headers={"Authorization": "Bearer s3"}
        )
    frames, turn = await stream(user, open_tab, "Tell me about tea in Paris [emulator:pace=1]",
                                **settings)  # fmt: skip
    saved = [s["type"] for s in turn.steps]
    for kind in [*types, "model_output"]:
        assert kind in saved, (kind, saved)
    appended, replaced = shells_and_finals(frames)
    for kind in types:
        assert kind in appended, f"{kind}: the shell shows at step.start"
        assert kind in replaced, f"{kind}: the final form replaces it at step.stop"
    assert "s3" not in "".join(frames), "an MCP server's headers never reach a browser"


async def test_thought_summaries_stream_into_the_thinking_element(user, open_tab):
    frames, turn = await stream(user, open_tab, "think [emulator:pace=1]",
                                thinking_level="high", thinking_summaries="auto")  # fmt: skip
    index = next(i for i, s in enumerate(turn.steps) if s["type"] == "thought")
    summary = turn.steps[index]["summary"][0]["text"]
    streamed = "".join(
        text
        for frame in delta_frames(frames)
        for target, text in frame
        if target == f"st-{turn.pk}-{index}"
    )
    assert streamed == summary and len(summary) > 20
    assert any("thinking…" in f for f in frames)


async def test_citations_appear_when_the_answer_step_stops(user, open_tab):
    frames, turn = await stream(user, open_tab, "Tell me about tea", tools=["google_search"])
    final = element(frames, "model_output", "outerHTML")
    assert "data-citation" in final and 'class="sources"' in final
    # The page's render adds what the tab cannot derive from the text: the whole step comes.
    assert not any(frame.startswith(".st-") for frame in frames)


async def test_function_call_arguments_appear_when_complete(user, open_tab, builtin_tools_on):
    frames, turn = await stream(user, open_tab, "6*7 [emulator:call=calculator]",
                                functions=["calculator"])  # fmt: skip
    shell = element(frames, "function_call", "beforeend")
    final = element(frames, "function_call", "outerHTML")
    assert "6*7" not in shell and "6*7" in final


async def test_generated_image_is_served_to_its_owner(user, open_tab, client):
    frames, turn = await stream(user, open_tab, "draw a cat", model="gemini-3.1-flash-image")
    final = next(f for f in frames if "<img" in f)
    src = final.split('<img src="')[1].split('"')[0]
    assert src.startswith(f"/media/t/{turn.pk}/") and "base64" not in final
    await sync_to_async(client.force_login)(user)
    response = await sync_to_async(client.get)(src)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(
        response.streaming_content if response.streaming else [response.content]
    ).startswith(b"\x89PNG")


async def test_generated_audio_gets_a_player(user, open_tab):
    frames, turn = await stream(user, open_tab, "say hi", model="gemini-3.1-flash-tts-preview")
    block = next(b for s in turn.steps for b in s.get("content", []) if b.get("type") == "audio")
    assert base64.b64decode(block["data"])[:4] == b"RIFF"
    assert any("<audio" in f for f in frames)


async def test_an_unknown_step_type_streams_as_a_json_card(user, open_tab):
    frames, turn = await stream(user, open_tab, "surprise [emulator:unknown_step]")
    assert "hologram_projection" in [s["type"] for s in turn.steps]
    appended, replaced = shells_and_finals(frames)
    assert "hologram_projection" in appended and "hologram_projection" in replaced
