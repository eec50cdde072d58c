"""Tools: each tool's call → result steps, their deltas, and what the answer cites."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chatsite.emulator.server import EmulatorServer

from .conftest import MODEL, create, create_stream, events_of, text_of
from .harness import run_scenario


def answer_block(steps: list[dict]) -> dict:
    output = [s for s in steps if s["type"] == "model_output"][-1]
    return next(block for block in output["content"] if block["type"] == "text")


def cited(block: dict) -> list[tuple[dict, str]]:
    """Each annotation with the text it covers (offsets are UTF-8 byte offsets)."""
    data = block["text"].encode()
    return [(a, data[a["start_index"] : a["end_index"]].decode()) for a in block["annotations"]]


def deltas_of(events: list[dict], kind: str) -> list[dict]:
    return [
        e["delta"] for e in events if e["event_type"] == "step.delta" and e["delta"]["type"] == kind
    ]


# --- google_search -------------------------------------------------------------------------


def test_google_search_call_result_and_citations(client: httpx.Client) -> None:
    message = "Café crème prices in Zürich 🥐 today?"
    events = events_of(create_stream(client, message, tools=[{"type": "google_search"}]))
    steps = events[-1]["interaction"]["steps"]
    call, result = steps[1], steps[2]
    assert call["type"] == "google_search_call" and result["type"] == "google_search_result"
    assert result["call_id"] == call["id"]
    assert call["search_type"] == "web_search"
    queries = call["arguments"]["queries"]
    assert queries[0] == "Café crème prices in Zürich 🥐 today"
    assert 1 <= len(queries) <= 2
    html = result["result"][0]["search_suggestions"]
    assert html.startswith("<style>") and 'class="carousel"' in html
    chips = [href for href in html.split('href="')[1:]]
    first = urlsplit(chips[0].split('"')[0].replace("&amp;", "&"))
    assert first.netloc == "www.google.com" and first.path == "/search"
    assert parse_qs(first.query)["q"] == [queries[0]]
    assert "<script" not in html
    # streamed as start → same-named delta → stop
    kinds = [(e["event_type"], e.get("index")) for e in events if e.get("index") == 1]
    assert kinds == [("step.start", 1), ("step.delta", 1), ("step.stop", 1)]
    assert events[[e.get("index") for e in events].index(1)]["step"] == {
        "type": "google_search_call",
        "id": call["id"],
        "arguments": {},
        "search_type": "web_search",
    }
    block = answer_block(steps)
    pairs = cited(block)
    assert len(pairs) == 3
    for annotation, text in pairs:
        assert annotation["type"] == "url_citation"
        assert annotation["url"].startswith("https://")
        assert annotation["title"]
        assert text.endswith(".") and "Café Crème Prices" in text  # exact, despite multi-byte
    assert pairs[0][0]["url"] == "https://en.wikipedia.org/wiki/Caf%C3%A9_Cr%C3%A8me_Prices"
    # the annotations arrive after the text deltas of that block, in one delta
    annotation_events = [
        i for i, e in enumerate(events) if e.get("delta", {}).get("type") == "text_annotation_delta"
    ]
    text_events = [i for i, e in enumerate(events) if e.get("delta", {}).get("type") == "text"]
    assert len(annotation_events) == 1 and annotation_events[0] > max(text_events)
    assert deltas_of(events, "text_annotation_delta")[0]["annotations"] == block["annotations"]


def test_search_types_are_honoured(client: httpx.Client) -> None:
    tools = [{"type": "google_search", "search_types": ["image_search"]}]
    steps = create(client, "pictures of owls", tools=tools).json()["steps"]
    assert steps[1]["search_type"] == "image_search"


# --- code_execution ------------------------------------------------------------------------


def test_code_execution_runs_real_code(client: httpx.Client) -> None:
    message = "It's 3 o'clock; add 4 and 5 \"quoted\"\nnew line"
    body = create(client, message, tools=[{"type": "code_execution"}]).json()
    call, result = body["steps"][1], body["steps"][2]
    assert call["arguments"]["language"] == "python"
    code = call["arguments"]["code"]
    assert repr(" ".join(message.split())) in code  # user text only enters through repr()
    local = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert result["result"] == local.stdout
    assert "sum of the numbers: 12" in result["result"]
    assert "is_error" not in result
    assert "It printed:" in text_of(body["steps"]) and "words: " in text_of(body["steps"])


def test_code_error_directive(client: httpx.Client) -> None:
    body = create(client, "crash [emulator:code_error]", tools=[{"type": "code_execution"}]).json()
    result = body["steps"][2]
    assert result["is_error"] is True
    assert "Traceback (most recent call last)" in result["result"]
    assert result["result"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert "ZeroDivisionError: division by zero" in text_of(body["steps"])


async def test_sandbox_times_out_and_bounds_output() -> None:
    from chatsite.emulator import sandbox

    slow = await sandbox.run_python("import time\ntime.sleep(10)", timeout_s=0.3)
    assert slow.is_error and slow.returncode is None and "timed out" in slow.output
    loud = await sandbox.run_python("print('x' * 100000)")
    assert len(loud.output) == sandbox.MAX_OUTPUT and not loud.is_error


# --- url_context ---------------------------------------------------------------------------


def test_url_context_statuses(client: httpx.Client) -> None:
    message = (
        "Compare https://docs.example.com/a, https://gone.invalid/b "
        "https://news.example.com/paywall/c and https://unsafe.example.net/d."
    )
    steps = create(client, message, tools=[{"type": "url_context"}]).json()["steps"]
    call, result = steps[1], steps[2]
    assert call["arguments"]["urls"] == [
        "https://docs.example.com/a",
        "https://gone.invalid/b",
        "https://news.example.com/paywall/c",
        "https://unsafe.example.net/d",
    ]
    assert [(r["url"], r["status"]) for r in result["result"]] == [
        ("https://docs.example.com/a", "success"),
        ("https://gone.invalid/b", "error"),
        ("https://news.example.com/paywall/c", "paywall"),
        ("https://unsafe.example.net/d", "unsafe"),
    ]
    assert "is_error" not in result
    [(annotation, text)] = cited(answer_block(steps))
    assert annotation["url"] == "https://docs.example.com/a"
    assert text.startswith("The page at docs.example.com")


def test_url_context_without_urls_uses_a_default(client: httpx.Client) -> None:
    steps = create(client, "Summarise the history of chess", tools=[{"type": "url_context"}])
    urls = steps.json()["steps"][1]["arguments"]["urls"]
    assert urls == ["https://en.wikipedia.org/wiki/Summarise_History_Chess"]


# --- google_maps ---------------------------------------------------------------------------


def test_google_maps_places_and_place_citations(client: httpx.Client) -> None:
    tools = [{"type": "google_maps", "enable_widget": True}]
    steps = create(client, "Good coffee near the station in Lyon", tools=tools).json()["steps"]
    call, result = steps[1], steps[2]
    assert call["arguments"]["queries"][0].endswith("near Lyon")
    [found] = result["result"]
    assert found["widget_context_token"].startswith("widgetcontent/")
    places = found["places"]
    assert 2 <= len(places) <= 3
    for place in places:
        assert place["place_id"].startswith("places/")
        assert place["url"].startswith("https://maps.google.com/?cid=")
        assert place["review_snippets"]
        for snippet in place["review_snippets"]:
            assert set(snippet) == {"review_id", "title", "url"}
    pairs = cited(answer_block(steps))
    assert [a["type"] for a, _ in pairs] == ["place_citation"] * len(places)
    for (annotation, text), place in zip(pairs, places, strict=True):
        assert text == place["name"] == annotation["name"]
        assert annotation["place_id"] == place["place_id"]
        assert annotation["review_snippets"] == place["review_snippets"]


# --- file_search ---------------------------------------------------------------------------


def test_file_search_result_rides_on_the_delta(client: httpx.Client) -> None:
    tools = [
        {
            "type": "file_search",
            "file_search_store_names": ["fileSearchStores/hr", "fileSearchStores/eng"],
            "top_k": 2,
        }
    ]
    events = events_of(create_stream(client, "What is the holiday policy?", tools=tools))
    steps = events[-1]["interaction"]["steps"]
    call, result = steps[1], steps[2]
    assert set(call) == {"type", "id", "signature"}  # the call step has no arguments field
    [delta] = deltas_of(events, "file_search_result")
    assert len(delta["result"]) == 2
    stores = {item["file_search_store"] for item in delta["result"]}
    assert stores == {"fileSearchStores/hr", "fileSearchStores/eng"}
    for item in delta["result"]:
        assert set(item) == {"file_name", "text", "file_search_store"}
    # the step is the fold of its deltas, so it keeps the result too (an extra field)
    assert result["result"] == delta["result"]
    pairs = cited(answer_block(steps))
    assert len(pairs) == 2
    for (annotation, text), item in zip(pairs, delta["result"], strict=True):
        assert annotation["type"] == "file_citation"
        assert annotation["file_name"] == item["file_name"]
        assert text.startswith(item["file_name"])
        assert annotation["document_uri"].startswith(item["file_search_store"] + "/documents/")
        assert isinstance(annotation["page_number"], int)
        assert annotation["source"] == item["file_search_store"]


# --- mcp_server and retrieval --------------------------------------------------------------


def test_mcp_server_call_and_result(client: httpx.Client) -> None:
    tools = [
        {"type": "mcp_server", "name": "weather", "allowed_tools": [{"tools": ["get_alerts"]}]},
        {"type": "mcp_server", "name": "github_issues", "url": "https://mcp.example.com"},
    ]
    steps = create(client, "Anything I should know?", tools=tools).json()["steps"]
    assert [s["type"] for s in steps[1:5]] == ["mcp_server_tool_call", "mcp_server_tool_result"] * 2
    first, first_result, second, _ = steps[1:5]
    assert (first["name"], first["server_name"]) == ("get_alerts", "weather")
    assert first["arguments"] == {"query": "Anything I should know?", "limit": 3}
    assert first_result["call_id"] == first["id"]
    assert (first_result["name"], first_result["server_name"]) == ("get_alerts", "weather")
    assert first_result["result"][0]["type"] == "text"
    assert (second["name"], second["server_name"]) == ("search_issues", "github_issues")


def test_retrieval_call_and_result(client: httpx.Client) -> None:
    tools = [{"type": "retrieval", "retrieval_types": ["exa_ai_search", "rag_store"]}]
    steps = create(client, "Onboarding checklist", tools=tools).json()["steps"]
    call, result = steps[1], steps[2]
    assert call["retrieval_type"] == "exa_ai_search"
    assert call["arguments"] == {"queries": ["Onboarding checklist"]}
    assert set(result) == {"type", "call_id", "signature"}
    [(annotation, text)] = cited(answer_block(steps))
    assert annotation["type"] == "url_citation" and "knowledge base" in text


# --- several tools, tool_choice ------------------------------------------------------------


def test_tools_run_in_a_fixed_order(client: httpx.Client) -> None:
    tools = [
        {"type": "code_execution"},
        {"type": "google_search"},
        {"type": "url_context"},
        {"type": "google_maps"},
    ]
    types = [s["type"] for s in create(client, "Tea in Paris", tools=tools).json()["steps"]]
    assert types == [
        "user_input",
        "url_context_call",
        "url_context_result",
        "google_search_call",
        "google_search_result",
        "google_maps_call",
        "google_maps_result",
        "code_execution_call",
        "code_execution_result",
        "model_output",
    ]


def test_tool_choice_none_and_allowed_tools(client: httpx.Client) -> None:
    tools = [{"type": "google_search"}, WEATHER, CALCULATOR]
    none = create(client, "hi", tools=tools, generation_config={"tool_choice": "none"}).json()
    assert [s["type"] for s in none["steps"]] == ["user_input", "model_output"]
    allowed = {"allowed_tools": {"mode": "any", "tools": ["calculator"]}}
    only = create(
        client, "temperature in Rome", tools=tools, generation_config={"tool_choice": allowed}
    )
    steps = only.json()["steps"]
    assert [s["type"] for s in steps] == ["user_input", "function_call"]
    assert steps[1]["name"] == "calculator"


def test_plain_prompts_are_unchanged_by_the_tool_machinery(client: httpx.Client) -> None:
    """Without tools the reply is the classic one (the app's tests rely on its words)."""
    text = text_of(create(client, "Any advice?").json()["steps"])
    assert text.startswith("**Turn 1.** You said: “Any advice?”.\n\n")
    assert "I searched" not in text


# --- function calling ----------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "name": "get_current_temperature",
    "description": "Gets the current temperature for a given location.",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "timezone": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "hourly": {"type": "boolean"},
            "detail": {"type": "string"},
        },
        "required": ["location", "unit", "timezone", "days", "hourly"],
    },
}
CALCULATOR = {
    "type": "function",
    "name": "calculator",
    "description": "Evaluate an arithmetic expression.",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string"}, "precision": {"type": "number"}},
    },
}


def test_function_call_streams_arguments_as_json_fragments(client: httpx.Client) -> None:
    events = events_of(
        create_stream(client, "What is the temperature in London?", tools=[CALCULATOR, WEATHER])
    )
    final = events[-1]["interaction"]
    assert final["status"] == "requires_action"
    assert [s["type"] for s in final["steps"]] == ["user_input", "function_call"]
    call = final["steps"][1]
    assert call["name"] == "get_current_temperature"  # its words appear in the message
    assert call["arguments"] == {
        "location": "London",
        "unit": "celsius",
        "timezone": "Europe/Paris",
        "days": 3,
        "hourly": True,
    }
    start = next(e for e in events if e["event_type"] == "step.start")
    assert start["step"] == {
        "type": "function_call",
        "id": call["id"],
        "name": call["name"],
        "arguments": {},
    }
    fragments = [d["arguments"] for d in deltas_of(events, "arguments_delta")]
    assert len(fragments) >= 3 and all(isinstance(f, str) for f in fragments)
    assert json.loads("".join(fragments)) == call["arguments"]
    assert {d["type"] for d in (e["delta"] for e in events if "delta" in e)} == {"arguments_delta"}


def test_function_choice_by_name_then_first_then_directive(client: httpx.Client) -> None:
    tools = [CALCULATOR, WEATHER]
    by_name = create(client, "use the calculator on 6*7", tools=tools).json()["steps"][1]
    assert by_name["name"] == "calculator"
    assert by_name["arguments"] == {"expression": "use the calculator on 6*7", "precision": 2.5}
    first = create(client, "hello", tools=tools).json()["steps"][1]
    assert first["name"] == "calculator"
    forced = create(client, "hello [emulator:call=get_current_temperature]", tools=tools)
    assert forced.json()["steps"][1]["name"] == "get_current_temperature"


def test_function_result_follow_up_quotes_the_result(client: httpx.Client) -> None:
    first = create(client, "What is 6 times 7?", tools=[CALCULATOR]).json()
    call = first["steps"][1]
    result = {
        "type": "function_result",
        "call_id": call["id"],
        "name": "calculator",
        "result": "42",
    }
    second = create(
        client, [result], previous_interaction_id=first["id"], tools=[CALCULATOR]
    ).json()
    assert second["status"] == "completed"
    assert [s["type"] for s in second["steps"]] == ["function_result", "model_output"]
    text = text_of(second["steps"])
    assert "I called `calculator` and it answered. The result is 42." in text
    assert "Earlier you said: “What is 6 times 7?”." in text


def test_function_result_follow_up_stateless(client: httpx.Client) -> None:
    history = [{"type": "user_input", "content": [{"type": "text", "text": "6 times 7?"}]}]
    first = create(client, history, tools=[CALCULATOR], store=False).json()
    call = first["steps"][-1]
    history += [
        call,
        {
            "type": "function_result",
            "call_id": call["id"],
            "name": call["name"],
            "result": {"value": 42},
        },
    ]
    second = create(client, history, tools=[CALCULATOR], store=False).json()
    assert second["status"] == "completed"
    assert 'The result is {"value": 42}.' in text_of(second["steps"])


def test_function_parameters_too_complex_are_rejected(client: httpx.Client) -> None:
    bad = {
        "type": "function",
        "name": "f",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"}},
            "required": ["code"],
        },
    }
    response = create(client, "hi", tools=[bad])
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_tool_scenarios_conform(server: EmulatorServer, client: httpx.Client) -> None:
    """A quick end-to-end check of a tool turn through the conformance harness."""
    outcome = run_scenario(
        client,
        server,
        {"model": MODEL, "input": "weather in Oslo", "tools": [{"type": "google_search"}, WEATHER]},
    )
    assert outcome.interaction["status"] == "requires_action"
    assert [s["type"] for s in outcome.generated] == [
        "google_search_call",
        "google_search_result",
        "function_call",
    ]


@pytest.mark.parametrize("kind", ["google_search", "code_execution", "url_context"])
def test_tools_are_skipped_when_answering_function_results(client: httpx.Client, kind: str) -> None:
    first = create(client, "What is 6 times 7?", tools=[{"type": kind}, CALCULATOR]).json()
    call = first["steps"][-1]
    result = {"type": "function_result", "call_id": call["id"], "name": "calculator", "result": 42}
    second = create(
        client, [result], previous_interaction_id=first["id"], tools=[{"type": kind}, CALCULATOR]
    ).json()
    assert [s["type"] for s in second["steps"]] == ["function_result", "model_output"]
