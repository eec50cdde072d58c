"""Tool steps: which tools the model "uses" for a request, as call step → result step pairs.

Each family is ``(GenerationContext) -> list[StepPlan]``. Besides its steps, a family adds a
section (text with citations) to ``ctx.sections`` for the answer to quote, counts tool-use
words and grounding, and the ``function`` family ends the turn (``requires_action``).

Streaming shape, for every pair: ``step.start`` carries the shell (type, id / call_id, and the
schema's required fields empty), one ``step.delta`` of the same-named delta type carries the
payload, ``step.stop`` closes it. The final step is the shell with the delta's fields merged in
— exactly what §6.3's shallow merge rebuilds. Function calls are the exception: their
arguments stream only as ``arguments_delta`` JSON string fragments.

Only turns with a new user message use tools; a turn answering function results does not.

``file_search_result`` (§11.9): the SDK's *step* type has no ``result`` field, its *delta* has
one. The emulator sends the results on the delta and also keeps them on the final step (an
extra field, which the SDK preserves), because a step must equal the fold of its deltas — what
every §6.3 client (the SDK's users, chatsite's StepAssembler) rebuilds from a stream — and a
GET must agree with the stream. ``retrieval_result`` has no result on either, so it carries
only a signature; its findings show up as citations on the answer.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from . import hostile
from .errors import invalid_argument
from .plans import (
    KEYWORD_RE,
    GenerationContext,
    Section,
    StepPlan,
    keywords,
    short_id,
    signature,
    slug,
    split_fragments,
    topic_of,
)
from .sandbox import Execution, run_python_sync
from .schema import SchemaTooComplex, _words, plausible_string, values_for

URL_RE = re.compile(r"https?://[^\s<>\"'`)\]}]+", re.IGNORECASE)
PLACE_RE = re.compile(r"\b(?:in|near|at|around|for|to)\s+((?:[A-Z][\w'’.-]*\s?){1,3})")


# --------------------------------------------------------------------------------------------
# Shared helpers


def tool_pair(
    call_type: str,
    call_id: str,
    call_shell: dict[str, Any],
    call_fields: dict[str, Any],
    result_type: str,
    result_shell: dict[str, Any],
    result_fields: dict[str, Any],
) -> list[StepPlan]:
    """A call step and its result step, each streamed as start → one delta → stop."""
    call_start = {"type": call_type, "id": call_id, **call_shell}
    result_start = {"type": result_type, "call_id": call_id, **result_shell}
    return [
        StepPlan(
            start=call_start,
            final={**call_start, **call_fields},
            deltas=[{"type": call_type, **call_fields}],
        ),
        StepPlan(
            start=result_start,
            final={**result_start, **result_fields},
            deltas=[{"type": result_type, **result_fields}],
        ),
    ]


def uses_tools(ctx: GenerationContext) -> bool:
    return ctx.conversation.has_new_message


def message_place(message: str) -> str | None:
    match = PLACE_RE.search(message)
    if not match:
        return None
    place = match.group(1).strip(" .?!,")
    return place or None


def count_words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    return len(json.dumps(value, ensure_ascii=False).split())


def _h(ctx: GenerationContext, value: str, n: int = 0) -> str:
    return hostile.text(value, n) if ctx.hostile else value


def web_sources(ctx: GenerationContext, topic: str, salt: str, count: int = 3) -> list[dict]:
    """Plausible, deterministic web pages about ``topic``: url, title (the site), blurb."""
    rng = ctx.rng(f"sources:{salt}")
    wiki = quote(slug(topic, "_"), safe="_")
    kebab = quote(slug(topic.lower()), safe="-")
    year = 2026 - rng.randrange(3)
    month = rng.randrange(1, 13)
    candidates = [
        (
            f"https://en.wikipedia.org/wiki/{wiki}",
            "wikipedia.org",
            f"{topic} has a detailed encyclopedia entry covering its background and history.",
        ),
        (
            f"https://www.example-news.com/{year}/{month:02d}/{kebab}-explained",
            "example-news.com",
            f"Recent reporting explains what changed around {topic} and why it matters.",
        ),
        (
            f"https://www.example.org/guides/{kebab}",
            "example.org",
            f"A practical guide walks through {topic} step by step, with examples.",
        ),
        (
            f"https://research.example.edu/papers/{kebab}-{year}",
            "research.example.edu",
            f"An academic overview compares the main approaches to {topic}.",
        ),
        (
            f"https://blog.example.net/{year}/{kebab}-faq",
            "blog.example.net",
            f"A community FAQ answers the most common questions about {topic}.",
        ),
    ]
    first, rest = candidates[0], candidates[1:]
    rng.shuffle(rest)
    chosen = [first, *rest][:count]
    sources = []
    for i, (url, title, blurb) in enumerate(chosen):
        if ctx.hostile:
            url, title, blurb = hostile.url(i), hostile.text(title, i), hostile.text(blurb, i + 1)
        sources.append({"url": url, "title": title, "blurb": blurb})
    return sources


# --------------------------------------------------------------------------------------------
# google_search


GOOGLE_G = (
    '<svg class="logo-light" width="18" height="18" viewBox="9 9 35 35" fill="none" '
    'xmlns="http://www.w3.org/2000/svg"><path fill-rule="evenodd" clip-rule="evenodd" '
    'd="M42.8622 27.0064C42.8622 25.7839 42.7525 24.6084 42.5487 23.4799H26.3109V30.1568H35.5897'
    "C35.1821 32.3041 33.9596 34.1222 32.1258 35.3448V39.6864H37.7143C40.9701 36.677 42.8622 "
    '32.2571 42.8622 27.0064V27.0064Z" fill="#4285F4"/><path fill-rule="evenodd" '
    'clip-rule="evenodd" d="M26.3109 43.8555C30.9659 43.8555 34.8687 42.3195 37.7143 39.6863L32.'
    "1258 35.3447C30.5987 36.3792 28.6562 37.0061 26.3109 37.0061C21.8282 37.0061 18.0195 33.9811"
    " 16.6559 29.906H10.9258V34.3573C13.7555 39.9841 19.5636 43.8555 26.3109 43.8555V43.8555Z"
    '" fill="#34A853"/><path fill-rule="evenodd" clip-rule="evenodd" d="M16.6559 29.8904C16.3111 '
    "28.8559 16.1074 27.7588 16.1074 26.6146C16.1074 25.4704 16.3111 24.3733 16.6559 23.3388V18."
    "8875H10.9258C9.74999 21.2072 9.08887 23.8247 9.08887 26.6146C9.08887 29.4045 9.74999 32.022 "
    '10.9258 34.3417L15.3864 30.8621L16.6559 29.8904V29.8904Z" fill="#FBBC05"/><path '
    'fill-rule="evenodd" clip-rule="evenodd" d="M26.3109 16.2386C28.85 16.2386 31.107 17.1164 '
    "32.9095 18.8091L37.8399 13.8787C34.8531 11.0888 30.9659 9.38054 26.3109 9.38054C19.5636 "
    "9.38054 13.7555 13.2519 10.9258 18.8875L16.6559 23.3388C18.0195 19.2636 21.8282 16.2386 "
    '26.3109 16.2386V16.2386Z" fill="#EA4335"/></svg>'
)

SUGGESTIONS_STYLE = (
    "<style>"
    ".container { align-items: center; border-radius: 8px; display: flex; font-family: "
    "Google Sans, Roboto, sans-serif; font-size: 14px; line-height: 20px; padding: 8px 12px; }"
    ".chip { display: inline-block; border: solid 1px; border-radius: 16px; min-width: 14px; "
    "padding: 5px 16px; text-align: center; user-select: none; margin: 0 8px; "
    "-webkit-tap-highlight-color: transparent; }"
    ".carousel { overflow: auto; scrollbar-width: none; white-space: nowrap; "
    "margin-right: -12px; }"
    ".headline { display: flex; margin-right: 4px; }"
    ".gradient-container { position: relative; }"
    ".gradient { position: absolute; transform: translate(3px, -9px); height: 36px; width: 9px; }"
    "@media (prefers-color-scheme: light) { .container { background-color: #fafafa; "
    "box-shadow: 0 0 0 1px #0000000f; } .chip { background-color: #ffffff; border-color: "
    "#d2d2d2; color: #5e5e5e; text-decoration: none; } .chip:hover { background-color: "
    "#f2f2f2; } .gradient { background: linear-gradient(90deg, #fafafa 15%, #fafafa00 100%); } }"
    "@media (prefers-color-scheme: dark) { .container { background-color: #1f1f1f; "
    "box-shadow: 0 0 0 1px #ffffff26; } .chip { background-color: #2c2c2c; border-color: "
    "#3c4043; color: #fff; text-decoration: none; } .chip:hover { background-color: #353536; } "
    ".gradient { background: linear-gradient(90deg, #1f1f1f 15%, #1f1f1f00 100%); } }"
    "</style>"
)


def search_suggestions(queries: list[str], hostile_mode: bool = False) -> str:
    """An embeddable widget like Google's: a styled carousel of chips linking to searches."""
    chips = []
    for query in queries:
        href = (
            f"https://www.google.com/search?q={quote_plus(query)}"
            "&amp;client=app-vertex-grounding&amp;safesearch=active"
        )
        chips.append(f'<a class="chip" href="{href}">{html.escape(query)}</a>')
    if hostile_mode:
        chips.append(f'<a class="chip" href="{hostile.JS_URL}">{hostile.PAYLOAD}</a>')
        chips.append(f'<a class="chip" href="{hostile.DATA_URL}" title="{hostile.BREAKOUT}">x</a>')
        chips.append(f"<img src=x onerror=\"alert(1);document.title='{hostile.TITLE_MARK}'\">")
    widget = (
        f'{SUGGESTIONS_STYLE}<div class="container"><div class="headline">{GOOGLE_G}'
        '<div class="gradient-container"><div class="gradient"></div></div></div>'
        f'<div class="carousel">{"".join(chips)}</div></div>'
    )
    if hostile_mode:
        widget += hostile.SUGGESTIONS_SCRIPT
    return widget


def search_queries(message: str) -> list[str]:
    words = message.split()
    first = " ".join(words[:12]).strip(" ?!.,;:") or "Gemini"
    second = " ".join(keywords(message, 4))
    return [first] if not second or second.lower() == first.lower() else [first, second]


def google_search_family(ctx: GenerationContext) -> list[StepPlan]:
    tools = ctx.tools("google_search")
    if not tools or not uses_tools(ctx):
        return []
    tool = tools[0]
    types = tool.get("search_types")
    search_type = types[0] if isinstance(types, list) and types else "web_search"
    queries = search_queries(ctx.message)
    call_id = short_id(ctx, "search_", "google_search")
    widget = search_suggestions(queries, ctx.hostile)
    steps = tool_pair(
        "google_search_call",
        call_id,
        {"arguments": {}, "search_type": search_type},
        {"arguments": {"queries": queries}, "signature": signature(ctx, "search-call", 48)},
        "google_search_result",
        {"result": []},
        {"result": [{"search_suggestions": widget}]},
    )
    topic = topic_of(ctx.message)
    sources = web_sources(ctx, topic, "search")
    searched = f"“{queries[0]}”" + (f" and “{queries[1]}”" if len(queries) > 1 else "")
    section: Section = [(f"I searched the web for {searched}. Here is what the sources say:", None)]
    for source in sources:
        section.append((" ", None))
        section.append(
            (
                source["blurb"],
                {"type": "url_citation", "url": source["url"], "title": source["title"]},
            )
        )
    ctx.sections.append(section)
    ctx.grounding["google_search"] = ctx.grounding.get("google_search", 0) + len(queries)
    ctx.tool_use_words += sum(len(s["blurb"].split()) for s in sources)
    return steps


# --------------------------------------------------------------------------------------------
# url_context


def url_status(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    lowered = url.lower()
    if host.endswith(".invalid") or not host:
        return "error"
    if "paywall" in lowered:
        return "paywall"
    if "unsafe" in lowered:
        return "unsafe"
    return "success"


def message_urls(message: str) -> list[str]:
    found: list[str] = []
    for match in URL_RE.findall(message):
        url = match.rstrip(".,;:!?")
        if url not in found:
            found.append(url)
    return found


def url_context_family(ctx: GenerationContext) -> list[StepPlan]:
    if not ctx.tools("url_context") or not uses_tools(ctx):
        return []
    urls = message_urls(ctx.message) or [
        f"https://en.wikipedia.org/wiki/{quote(slug(topic_of(ctx.message), '_'), safe='_')}"
    ]
    if ctx.hostile:
        urls = [*urls, hostile.JS_URL, hostile.DATA_URL]
    results = [
        {
            "url": url,
            "status": "error" if url.startswith(("javascript:", "data:")) else url_status(url),
        }
        for url in urls
    ]
    call_id = short_id(ctx, "url_", "url_context")
    fields: dict[str, Any] = {"result": results}
    if all(r["status"] != "success" for r in results):
        fields["is_error"] = True
    steps = tool_pair(
        "url_context_call",
        call_id,
        {"arguments": {}},
        {"arguments": {"urls": urls}, "signature": signature(ctx, "url-call", 48)},
        "url_context_result",
        {"result": []},
        fields,
    )
    topic = topic_of(ctx.message)
    read = [r for r in results if r["status"] == "success"]
    section: Section = [
        (
            f"I opened {len(urls)} page{'s' if len(urls) != 1 else ''} and could read {len(read)}.",
            None,
        )
    ]
    for i, result in enumerate(results):
        url = result["url"]
        host = urlsplit(url).hostname or url
        if result["status"] == "success":
            title = _h(ctx, host, i)
            section.append((" ", None))
            section.append(
                (
                    f"The page at {host} covers {topic} in some detail.",
                    {"type": "url_citation", "url": url, "title": title},
                )
            )
        else:
            section.append((f" I could not use {url} (status: {result['status']}).", None))
    ctx.sections.append(section)
    ctx.tool_use_words += 200 * len(read)
    return steps


# --------------------------------------------------------------------------------------------
# google_maps

PLACE_NAMES = (
    "The Copper Kettle",
    "Harbour Lights Café",
    "Green Fig Kitchen",
    "Old Mill Bakery",
    "Lantern Noodle Bar",
    "Blue Door Bistro",
    "Saffron & Sage",
    "Corner Table",
    "Riverside Books & Coffee",
    "Little Orchard Deli",
)
REVIEW_TITLES = (
    "Friendly staff and a lovely atmosphere",
    "Worth the short wait",
    "Great value, would come back",
    "A hidden gem",
    "Cosy spot for an afternoon",
)


def _digits(material: bytes, count: int) -> str:
    number = int.from_bytes(hashlib.sha256(material).digest()[:16], "big")
    return str(number)[:count].rjust(count, "1")


def _b64ish(material: bytes, count: int) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(material).digest()).decode()[:count]


def maps_places(ctx: GenerationContext) -> list[dict[str, Any]]:
    rng = ctx.rng("places")
    count = rng.randint(2, 3)
    names = rng.sample(PLACE_NAMES, count)
    places = []
    for i, name in enumerate(names):
        material = ctx.seed + name.encode()
        place_id = "places/ChIJ" + _b64ish(material, 23)
        snippets = []
        for j in range(rng.randint(1, 2)):
            review_id = "ChZDSUhNMG9nS0VJQ0FnSUQ" + _b64ish(material + bytes([j]), 10)
            title = rng.choice(REVIEW_TITLES)
            review_url = f"https://www.google.com/maps/reviews/data=!4m6!14m5!1m4!2m3!1s{review_id}"
            if ctx.hostile:
                title, review_url = hostile.text(title, j), hostile.url(j + 1)
            snippets.append({"review_id": review_id, "title": title, "url": review_url})
        url = f"https://maps.google.com/?cid={_digits(material, 19)}"
        if ctx.hostile:
            name, url = hostile.text(name, i), hostile.url(i)
        places.append({"name": name, "place_id": place_id, "url": url, "review_snippets": snippets})
    return places


def google_maps_family(ctx: GenerationContext) -> list[StepPlan]:
    tools = ctx.tools("google_maps")
    if not tools or not uses_tools(ctx):
        return []
    tool = tools[0]
    place = message_place(ctx.message)
    near = place
    if near is None and isinstance(tool.get("latitude"), int | float):
        near = f"{tool['latitude']:.4f},{tool.get('longitude', 0):.4f}"
    subject = " ".join(keywords(ctx.message, 3)) or "places"
    query = f"{subject} near {near}" if near else subject
    places = maps_places(ctx)
    result: dict[str, Any] = {"places": places}
    if tool.get("enable_widget"):
        result["widget_context_token"] = "widgetcontent/" + _b64ish(ctx.seed + b"widget", 40)
    call_id = short_id(ctx, "maps_", "google_maps")
    steps = tool_pair(
        "google_maps_call",
        call_id,
        {},
        {"arguments": {"queries": [query]}, "signature": signature(ctx, "maps-call", 48)},
        "google_maps_result",
        {"result": []},
        {"result": [result]},
    )
    where = f" near {near}" if near else ""
    section: Section = [(f"Here are {len(places)} places{where} that fit: ", None)]
    for i, item in enumerate(places):
        if i:
            section.append((", " if i < len(places) - 1 else " and ", None))
        citation = {
            "type": "place_citation",
            "name": item["name"],
            "place_id": item["place_id"],
            "url": item["url"],
            "review_snippets": item["review_snippets"],
        }
        section.append((item["name"], citation))
    section.append((". Reviewers mention friendly service and fair prices.", None))
    ctx.sections.append(section)
    ctx.grounding["google_maps"] = ctx.grounding.get("google_maps", 0) + 1
    ctx.tool_use_words += 40 * len(places)
    return steps


# --------------------------------------------------------------------------------------------
# file_search

FILE_NAMES = (
    "handbook.pdf",
    "release-notes.md",
    "faq.txt",
    "design-spec.pdf",
    "onboarding-guide.docx",
    "meeting-notes-2026-05.md",
)
DEFAULT_STORE = "fileSearchStores/emulator-default-store"


def file_search_family(ctx: GenerationContext) -> list[StepPlan]:
    tools = ctx.tools("file_search")
    if not tools or not uses_tools(ctx):
        return []
    tool = tools[0]
    stores = [s for s in tool.get("file_search_store_names") or [] if isinstance(s, str)]
    stores = stores or [DEFAULT_STORE]
    top_k = tool.get("top_k")
    count = max(1, min(3, top_k)) if isinstance(top_k, int) and not isinstance(top_k, bool) else 3
    rng = ctx.rng("files")
    topic = topic_of(ctx.message)
    names = rng.sample(FILE_NAMES, count)
    results = []
    citations = []
    for i, name in enumerate(names):
        store = stores[i % len(stores)]
        page = rng.randint(1, 40)
        text = (
            f"Section {rng.randint(1, 9)}.{rng.randint(1, 9)} of {name} discusses {topic}: "
            f"the recommended approach is to start small and review the results weekly."
        )
        doc_id = _b64ish(ctx.seed + name.encode(), 6).lower()
        document = f"{store}/documents/{slug(name.rsplit('.', 1)[0])}-{doc_id}"
        file_name = name
        if ctx.hostile:
            file_name, text = hostile.text(name, i), hostile.text(text, i + 1)
            document = hostile.url(i)
        results.append({"file_name": file_name, "text": text, "file_search_store": store})
        citations.append(
            {
                "type": "file_citation",
                "file_name": file_name,
                "document_uri": document,
                "page_number": page,
                "source": store,
            }
        )
    call_id = short_id(ctx, "files_", "file_search")
    steps = tool_pair(
        "file_search_call",
        call_id,
        {},
        {"signature": signature(ctx, "file-call", 48)},
        "file_search_result",
        {},
        {"result": results},
    )
    section: Section = [
        (
            f"Your files mention {topic} in {len(results)} "
            f"place{'s' if len(results) != 1 else ''}.",
            None,
        )
    ]
    for result, citation in zip(results, citations, strict=True):
        section.append((" ", None))
        section.append(
            (
                f"{result['file_name']} (page {citation['page_number']}) "
                "recommends starting small.",
                citation,
            )
        )
    ctx.sections.append(section)
    ctx.tool_use_words += sum(len(r["text"].split()) for r in results)
    return steps


# --------------------------------------------------------------------------------------------
# retrieval

RETRIEVAL_LABELS = {
    "vertex_ai_search": "Vertex AI Search",
    "rag_store": "RAG corpus",
    "exa_ai_search": "Exa search",
    "parallel_ai_search": "Parallel search",
}


def retrieval_family(ctx: GenerationContext) -> list[StepPlan]:
    tools = ctx.tools("retrieval")
    if not tools or not uses_tools(ctx):
        return []
    tool = tools[0]
    types = tool.get("retrieval_types")
    kind = types[0] if isinstance(types, list) and types and isinstance(types[0], str) else None
    kind = kind or "vertex_ai_search"
    queries = search_queries(ctx.message)[:1]
    call_id = short_id(ctx, "retrieval_", "retrieval")
    steps = tool_pair(
        "retrieval_call",
        call_id,
        {"arguments": {}, "retrieval_type": kind},
        {
            "arguments": {"queries": queries},
            "retrieval_type": kind,
            "signature": signature(ctx, "retrieval-call", 48),
        },
        "retrieval_result",
        {},
        {"signature": signature(ctx, "retrieval-result", 48)},
    )
    topic = topic_of(ctx.message)
    label = RETRIEVAL_LABELS.get(kind, kind)
    url = f"https://kb.example.com/{kind.replace('_', '-')}/{slug(topic.lower())}"
    title = f"{topic} — knowledge base"
    if ctx.hostile:
        url, title = hostile.url(2), hostile.text(title, 2)
    ctx.sections.append(
        [
            (f"{label} found a matching document. ", None),
            (
                f"According to your knowledge base, {topic} is best approached in small steps.",
                {"type": "url_citation", "url": url, "title": title},
            ),
        ]
    )
    ctx.grounding["retrieval"] = ctx.grounding.get("retrieval", 0) + 1
    ctx.tool_use_words += 60
    return steps


# --------------------------------------------------------------------------------------------
# mcp_server

MCP_TOOL_GUESSES = (
    ("weather", "get_forecast"),
    ("git", "search_issues"),
    ("calendar", "list_events"),
    ("mail", "search_messages"),
    ("doc", "search_documents"),
    ("wiki", "search_pages"),
    ("jira", "search_issues"),
    ("slack", "search_messages"),
)


def check_mcp_names(body: dict[str, Any]) -> None:
    """The API refuses an MCP server name with "-" (its guide asks for snake_case)."""
    for position, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or tool.get("type") != "mcp_server":
            continue
        name = tool.get("name")
        if isinstance(name, str) and "-" in name:
            raise invalid_argument(
                f"Invalid value at 'tools[{position}].name' ({name!r}): MCP server names must "
                "not contain '-'; use snake_case."
            )


def mcp_tool_name(tool: dict[str, Any], server: str) -> str:
    for rule in tool.get("allowed_tools") or []:
        if isinstance(rule, dict):
            names = [n for n in rule.get("tools") or [] if isinstance(n, str) and n]
            if names:
                return names[0]
    lowered = server.lower()
    for needle, name in MCP_TOOL_GUESSES:
        if needle in lowered:
            return name
    return "search"


def mcp_server_family(ctx: GenerationContext) -> list[StepPlan]:
    tools = ctx.tools("mcp_server")
    if not tools or not uses_tools(ctx):
        return []
    steps: list[StepPlan] = []
    for n, tool in enumerate(tools):
        server = (
            tool.get("name") if isinstance(tool.get("name"), str) and tool.get("name") else None
        )
        if server is None:
            server = urlsplit(str(tool.get("url") or "")).hostname or "mcp-server"
        name = mcp_tool_name(tool, server)
        topic = topic_of(ctx.message)
        arguments = {"query": ctx.message or topic, "limit": 3}
        text = (
            f"3 results for “{ctx.message or topic}”: 1. {topic} overview; "
            f"2. {topic} FAQ; 3. Recent changes to {topic}."
        )
        result_name = name
        if ctx.hostile:
            text = hostile.text(text, n)
            result_name = hostile.text(name, n + 1)
        result = [{"type": "text", "text": text}]
        call_id = short_id(ctx, "mcp_", f"mcp:{n}")
        call_start: dict[str, Any] = {
            "type": "mcp_server_tool_call",
            "id": call_id,
            "name": name,
            "server_name": server,
            "arguments": {},
        }
        call_fields = {"arguments": arguments, "name": name, "server_name": server}
        result_start = {
            "type": "mcp_server_tool_result",
            "call_id": call_id,
            "result": [],
        }
        result_fields = {"result": result, "name": result_name, "server_name": server}
        steps += [
            StepPlan(
                start=call_start,
                final={**call_start, **call_fields},
                deltas=[{"type": "mcp_server_tool_call", **call_fields}],
            ),
            StepPlan(
                start=result_start,
                final={**result_start, **result_fields},
                deltas=[{"type": "mcp_server_tool_result", **result_fields}],
            ),
        ]
        ctx.sections.append(
            [(f"The `{name}` tool of the {server} MCP server returned: {text}", None)]
        )
        ctx.tool_use_words += len(text.split())
    return steps


# --------------------------------------------------------------------------------------------
# code_execution


def build_code(ctx: GenerationContext, text: str | None = None, error: bool | None = None) -> str:
    """The Python program the model "writes" for this message (user text only via repr)."""
    text = ctx.message if text is None else text
    error = ctx.directives.code_error if error is None else error
    lines = [
        "import re",
        "",
        f"text = {text!r}",
        "words = text.split()",
        "letters = [c.lower() for c in text if c.isalpha()]",
        'print(f"words: {len(words)}")',
        'print(f"letters: {len(letters)}")',
        "if letters:",
        "    top = sorted(set(letters), key=lambda c: (-letters.count(c), c))[:3]",
        '    print("most common letters: " + ", ".join(f"{c}={letters.count(c)}" for c in top))',
        'numbers = [int(n) for n in re.findall(r"-?\\d+", text)]',
        "if numbers:",
        '    print(f"sum of the numbers: {sum(numbers)}")',
        "longest = max(words, key=len) if words else ''",
        'print(f"longest word: {longest!r}")',
        "squares = [n * n for n in range(1, min(len(words), 9) + 1)]",
        'print(f"squares up to the word count: {squares}")',
    ]
    if ctx.hostile:
        lines.append(f"print({hostile.PAYLOAD!r})")
        lines.append(f"print({hostile.MARKDOWN!r})")
    if error:
        lines.append("ratio = len(letters) / (len(words) - len(words))  # oops: divides by zero")
        lines.append('print(f"ratio: {ratio}")')
    return "\n".join(lines) + "\n"


def code_jobs(ctx: GenerationContext) -> list[str]:
    """Programs the plan will show the output of (run them before planning)."""
    if not ctx.tools("code_execution") or not uses_tools(ctx):
        return []
    return [build_code(ctx)]


def code_execution_steps(
    ctx: GenerationContext, code: str, salt: str
) -> tuple[list[StepPlan], Execution]:
    execution = ctx.executions.get(code)
    if execution is None:  # planned without running the code first (e.g. a pure caller)
        execution = ctx.executions[code] = run_python_sync(code)
    call_id = short_id(ctx, "code_", salt)
    result_fields: dict[str, Any] = {"result": execution.output}
    if execution.is_error:
        result_fields["is_error"] = True
    steps = tool_pair(
        "code_execution_call",
        call_id,
        {"arguments": {}},
        {
            "arguments": {"code": code, "language": "python"},
            "signature": signature(ctx, f"code-call:{salt}", 48),
        },
        "code_execution_result",
        {"result": ""},
        result_fields,
    )
    return steps, execution


def code_execution_family(ctx: GenerationContext) -> list[StepPlan]:
    jobs = code_jobs(ctx)
    if not jobs:
        return []
    steps, execution = code_execution_steps(ctx, jobs[0], "code_execution")
    output = execution.output.rstrip("\n")
    if execution.is_error:
        last = output.splitlines()[-1] if output else "no output"
        text = (
            "I wrote a short Python program to analyse your message, but it failed: "
            f"`{last}`. The full traceback is in the code execution result."
        )
    else:
        text = (
            f"I ran a short Python program on your message. It printed:\n\n```text\n{output}\n```"
        )
    ctx.sections.append([(text, None)])
    ctx.tool_use_words += len(execution.output.split())
    return steps


# --------------------------------------------------------------------------------------------
# function


def function_tools(ctx: GenerationContext) -> list[dict[str, Any]]:
    return [t for t in ctx.tools("function") if isinstance(t.get("name"), str) and t.get("name")]


def choose_function(ctx: GenerationContext, functions: list[dict[str, Any]]) -> dict[str, Any]:
    forced = ctx.directives.call
    if forced:
        for function in functions:
            if function["name"] == forced:
                return function
    said = {w.lower() for w in KEYWORD_RE.findall(ctx.message)}
    best, best_score = functions[0], 0
    for function in functions:
        name_words = set(_words(function["name"])) - {"get", "set", "do", "run"}
        description = d if isinstance(d := function.get("description"), str) else ""
        description_words = {w.lower() for w in keywords(description, 40)}
        score = 2 * len(name_words & said) + len(description_words & said)
        if score > best_score:
            best, best_score = function, score
    return best


def function_arguments(ctx: GenerationContext, function: dict[str, Any]) -> dict[str, Any]:
    message = ctx.message
    place = message_place(message) or "Paris"

    def string(name: str) -> str:
        value = plausible_string(name, message, place)
        if ctx.hostile and value != message:
            return hostile.text(value)
        return value

    parameters = function.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        return {}
    value = values_for(parameters, string, required_only=True)
    if not isinstance(value, dict):
        raise SchemaTooComplex("function parameters must describe an object")
    return value


def function_family(ctx: GenerationContext) -> list[StepPlan]:
    functions = function_tools(ctx)
    forced = ctx.directives.call
    if forced and uses_tools(ctx) and all(f["name"] != forced for f in functions):
        # A real model may name a function it was not offered; callers must refuse it.
        function = {"name": forced}
    elif not functions or not uses_tools(ctx):
        return []
    else:
        function = choose_function(ctx, functions)
    arguments = function_arguments(ctx, function)
    call_id = short_id(ctx, "call_", f"function:{function['name']}")
    encoded = json.dumps(arguments, ensure_ascii=False)
    fragments = split_fragments(encoded, 4 if len(encoded) >= 8 else 2)
    start = {"type": "function_call", "id": call_id, "name": function["name"], "arguments": {}}
    ctx.final_status = "requires_action"
    return [
        StepPlan(
            start=start,
            final={**start, "arguments": arguments},
            deltas=[{"type": "arguments_delta", "arguments": f} for f in fragments],
        )
    ]


def check_tools(ctx: GenerationContext) -> None:
    """Raise :class:`SchemaTooComplex` for function parameters the emulator cannot fill."""
    for function in function_tools(ctx):
        function_arguments(ctx, function)
