"""``[emulator:hostile]``: every text field the emulator makes up carries hostile content."""

from __future__ import annotations

import json

import httpx

from chatsite.emulator import hostile

from .conftest import MODEL, create, text_of

TOOLS = [
    {"type": "google_search"},
    {"type": "code_execution"},
    {"type": "url_context"},
    {"type": "google_maps"},
    {"type": "file_search"},
    {"type": "mcp_server", "name": "notes"},
    {"type": "retrieval"},
]
CALC = {
    "type": "function",
    "name": "calculator",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["expression", "unit"],
    },
}
SCRIPT_URLS = (hostile.JS_URL, hostile.DATA_URL, hostile.VBS_URL)


def is_hostile_text(value: str) -> bool:
    return any(p in value for p in (hostile.SCRIPT, hostile.IMG, hostile.BREAKOUT))


def test_every_made_up_text_field_is_hostile(client: httpx.Client) -> None:
    body = create(
        client,
        "Tea in Paris [emulator:hostile]",
        tools=TOOLS,
        generation_config={"thinking_level": "high"},
    ).json()
    steps = {s["type"]: s for s in body["steps"]}
    # the answer: raw HTML, script URLs in markdown links, breakouts, bidi override, emoji
    text = text_of(body["steps"])
    for needle in (
        hostile.SCRIPT,
        hostile.IMG,
        hostile.BREAKOUT,
        f"]({hostile.JS_URL})",
        f"]({hostile.DATA_URL})",
        hostile.RLO,
        "🔥",
    ):
        assert needle in text, needle
    assert is_hostile_text(steps["thought"]["summary"][0]["text"])
    # citations: titles and URLs
    block = body["steps"][-1]["content"][0]
    data = block["text"].encode()
    kinds = set()
    for annotation in block["annotations"]:
        kinds.add(annotation["type"])
        covered = data[annotation["start_index"] : annotation["end_index"]].decode()
        assert covered  # the byte offsets still land on whole characters
        if annotation["type"] == "url_citation" and annotation["url"] != "https://tea.example":
            assert annotation["url"] in SCRIPT_URLS or annotation["url"].startswith("https://")
            assert is_hostile_text(annotation["title"]) or "." in annotation["title"]
        if annotation["type"] == "place_citation":
            assert is_hostile_text(annotation["name"]) and annotation["url"] in SCRIPT_URLS
            assert all(is_hostile_text(r["title"]) for r in annotation["review_snippets"])
        if annotation["type"] == "file_citation":
            assert is_hostile_text(annotation["file_name"])
            assert annotation["document_uri"] in SCRIPT_URLS
    assert kinds == {"url_citation", "place_citation", "file_citation"}
    search_titles = [
        a["title"]
        for a in block["annotations"]
        if a["type"] == "url_citation" and a["url"] in SCRIPT_URLS
    ]
    assert len(search_titles) >= 3 and all(is_hostile_text(t) for t in search_titles)
    # the search widget runs a script that alerts and sets the title
    widget = steps["google_search_result"]["result"][0]["search_suggestions"]
    assert "<script>alert(1);document.title='pwned';</script>" in widget
    assert f'href="{hostile.JS_URL}"' in widget
    # url context, places, files, MCP, code output
    urls = steps["url_context_call"]["arguments"]["urls"]
    assert hostile.JS_URL in urls and hostile.DATA_URL in urls
    places = steps["google_maps_result"]["result"][0]["places"]
    assert all(is_hostile_text(p["name"]) and p["url"] in SCRIPT_URLS for p in places)
    files = steps["file_search_result"]["result"]
    assert all(is_hostile_text(f["file_name"]) and is_hostile_text(f["text"]) for f in files)
    mcp = steps["mcp_server_tool_result"]
    assert is_hostile_text(mcp["result"][0]["text"]) and is_hostile_text(mcp["name"])
    assert hostile.SCRIPT in steps["code_execution_result"]["result"]


def test_hostile_function_arguments_and_result_names(client: httpx.Client) -> None:
    first = create(client, "Add 2 and 3 [emulator:hostile]", tools=[CALC]).json()
    call = first["steps"][-1]
    assert call["name"] == "calculator"  # a call names a declared function…
    assert call["arguments"]["expression"] == "Add 2 and 3"
    assert is_hostile_text(call["arguments"]["unit"])  # …but made-up values are hostile
    result = {
        "type": "function_result",
        "call_id": call["id"],
        "name": "calculator",
        "result": "5",
    }
    second = create(client, [result], previous_interaction_id=first["id"], tools=[CALC]).json()
    # the follow-up has no text of its own: the last message's directive still holds
    named = hostile.text("calculator")
    assert f"I called `{named}` and it answered. The result is 5." in text_of(second["steps"])
    stateless = create(
        client,
        [
            {"type": "user_input", "content": "Add 2 and 3 [emulator:hostile]"},
            call,
            result,
        ],
        store=False,
        tools=[CALC],
    ).json()
    assert f"I called `{named}`" in text_of(stateless["steps"])


def test_hostile_structured_output_is_still_valid_json(client: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    body = create(
        client,
        "A title [emulator:hostile]",
        response_format={"type": "text", "mime_type": "application/json", "schema": schema},
    ).json()
    value = json.loads(text_of(body["steps"]))
    assert is_hostile_text(value["title"])


def test_without_the_directive_nothing_is_hostile(client: httpx.Client) -> None:
    body = create(client, "Tea in Paris", tools=TOOLS).json()
    dumped = json.dumps(body, ensure_ascii=False)
    for needle in ("<script>alert", "onerror=", "javascript:", hostile.RLO):
        assert needle not in dumped
    assert body["model"] == MODEL
