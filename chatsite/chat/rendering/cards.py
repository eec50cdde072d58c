"""Tool and other non-text steps → compact cards: an icon, a label and the key fact on one line,
the details inside. Each builder returns the `card` dict the `card` partial and the step's own
body partial (named after the step type in templates/chat/steps.html) read."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .blocks import blocks_view, plain_text, pretty_json
from .citations import review_links, short
from .links import domain_of, plain_label, safe_url
from .markdown import highlight_code
from .media import suggestions_url

MAX_FACT_CHARS = 120
MAX_ITEMS = 50
MAX_SUGGESTIONS_CHARS = 200_000

# Google's search suggestions are shown (their terms require it) in a sandboxed iframe framed
# from our own URL (chat/media.py serves it with a script-less CSP of its own): links open in a
# new tab (the sandbox allows popups that escape it, so Google's page works there).
SUGGESTIONS_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"

URL_STATUSES = {"success", "error", "paywall", "unsafe"}
RETRIEVAL_TYPES = {
    "vertex_ai_search": "Vertex AI Search",
    "rag_store": "RAG store",
    "exa_ai_search": "Exa search",
    "parallel_ai_search": "Parallel search",
}


def one_line(value, limit: int = MAX_FACT_CHARS) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = re.sub(r"\s+", " ", plain_label(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value[:MAX_ITEMS] if isinstance(value, list) else []


def _strings(value) -> list[str]:
    return [one_line(v, 500) for v in _list(value) if v not in (None, "")]


def _queries(step: dict) -> list[str]:
    return _strings(_dict(step.get("arguments")).get("queries"))


def link(value) -> dict:
    """A URL from upstream: a link if it is http(s), else text."""
    text = one_line(value, 500)
    return {"href": safe_url(value), "text": text}


def _card(icon, label, fact="", body="", **extra) -> dict:
    return {"icon": icon, "label": label, "fact": one_line(fact), "body": body, **extra}


def result_view(value, *, turn_id) -> dict:
    """A tool result: a Content list, a JSON object, or a string."""
    if value is None:
        return {"kind": "none"}
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and isinstance(v.get("type"), str) for v in value)
    ):
        blocks = blocks_view(value, turn_id=turn_id, text="plain", where="returned by the tool")
        return {"kind": "blocks", "blocks": blocks}
    if isinstance(value, str):
        try:
            parsed = json.loads(value) if value.lstrip()[:1] in ("{", "[") else None
        except ValueError:
            parsed = None
        if parsed is not None:
            return {"kind": "json", "json": pretty_json(parsed)}
        return {"kind": "text", "text": plain_text(value)}
    return {"kind": "json", "json": pretty_json(value)}


def _result_fact(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [b.get("text") for b in value if isinstance(b, dict) and b.get("type") == "text"]
        if texts:
            return " ".join(str(t) for t in texts)
        kinds = [str(b.get("type")) for b in value if isinstance(b, dict)]
        return ", ".join(kinds)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)[:MAX_FACT_CHARS]
    return "" if value is None else str(value)


# -- one builder per step type -------------------------------------------------------------


def google_search_call(step, *, live, turn_id):
    queries = _queries(step)
    search_type = step.get("search_type")
    return _card(
        "search-tool",
        _("Searching Google") if live else _("Searched Google"),
        " · ".join(queries),
        queries=queries,
        search_type=one_line(search_type) if search_type not in (None, "web_search") else "",
    )


def shows_suggestions(step) -> bool:
    """A search result with Google's search suggestions, which their terms say are shown: never
    tucked away in a closed card or activity block."""
    return step.get("type") == "google_search_result" and any(
        isinstance(_dict(item).get("search_suggestions"), str)
        and _dict(item)["search_suggestions"].strip()
        for item in _list(step.get("result"))
    )


def google_search_result(step, *, live, turn_id):
    suggestions = []
    for item in _list(step.get("result")):
        snippet = _dict(item).get("search_suggestions")
        if isinstance(snippet, str) and snippet.strip():
            url = suggestions_url(turn_id, snippet)
            if url:
                suggestions.append(url)
    return _card(
        "search-tool",
        "Google Search",
        _("search suggestions") if suggestions else "",
        suggestions=suggestions,
        sandbox=SUGGESTIONS_SANDBOX,
        open=bool(suggestions),  # Google's terms: the suggestions are shown, not tucked away
    )


def code_execution_call(step, *, live, turn_id):
    args = _dict(step.get("arguments"))
    code = args.get("code") if isinstance(args.get("code"), str) else ""
    language = one_line(args.get("language") or "python", 40)
    first = next((line for line in code.splitlines() if line.strip()), "")
    return _card(
        "code",
        _("Running code") if live else _("Ran code"),
        f"{language}: {first}" if first else language,
        language=language,
        code=code,
        code_html=highlight_code(code, language),
    )


def code_execution_result(step, *, live, turn_id):
    value = step.get("result")
    error = step.get("is_error") is True
    fact = one_line(_result_fact(value)) or "(no output)"
    return _card(
        "code",
        _("Code error") if error else _("Code output"),
        fact,
        result=result_view(value, turn_id=turn_id),
    )


def url_context_call(step, *, live, turn_id):
    urls = [link(u) for u in _list(_dict(step.get("arguments")).get("urls"))]
    domains = [domain_of(u["href"]) or u["text"] for u in urls]
    return _card(
        "link", _("Reading pages") if live else _("Read pages"), ", ".join(domains), urls=urls
    )


def url_context_result(step, *, live, turn_id):
    items = []
    counts: dict[str, int] = {}
    for item in _list(step.get("result")):
        item = _dict(item)
        status = one_line(item.get("status") or "unknown", 40)
        counts[status] = counts.get(status, 0) + 1
        items.append(
            {
                **link(item.get("url")),
                "status": status,
                "status_class": status if status in URL_STATUSES else "other",
            }
        )
    fact = " · ".join(f"{n} {status}" for status, n in counts.items())
    return _card("link", _("Pages"), fact, items=items)


def google_maps_call(step, *, live, turn_id):
    queries = _queries(step)
    return _card(
        "map",
        _("Searching Google Maps") if live else _("Searched Google Maps"),
        " · ".join(queries),
        queries=queries,
    )


def _place(place) -> dict:
    place = _dict(place)
    return {
        "name": short(place.get("name")) or "A place",
        "href": safe_url(place.get("url")),
        "reviews": review_links(place.get("review_snippets")),
    }


def google_maps_result(step, *, live, turn_id):
    places = [
        _place(place)
        for result in _list(step.get("result"))
        for place in _list(_dict(result).get("places"))
    ][:MAX_ITEMS]
    fact = ngettext("%(count)s place", "%(count)s places", len(places)) % {"count": len(places)}
    if places:
        fact += ": " + ", ".join(p["name"] for p in places[:3])
    return _card("map", "Google Maps", fact, places=places)


def file_search_call(step, *, live, turn_id):
    return _card("folder", _("Searching your files") if live else _("Searched your files"))


_TITLE_KEYS = ("title", "file_name", "display_name", "document_name", "name", "source")
_SNIPPET_KEYS = ("text", "snippet", "content", "chunk_text")
_URL_KEYS = ("uri", "url", "document_uri")


def _file_item(item) -> dict:
    if not isinstance(item, dict):
        return {"title": one_line(item, 300), "snippet": "", "href": None, "json": ""}
    title = next((item[k] for k in _TITLE_KEYS if isinstance(item.get(k), str) and item[k]), "")
    snippet = next((item[k] for k in _SNIPPET_KEYS if isinstance(item.get(k), str) and item[k]), "")
    url = next((item[k] for k in _URL_KEYS if isinstance(item.get(k), str) and item[k]), None)
    return {
        "title": one_line(title, 300),
        "snippet": plain_text(snippet)[:2000],
        "href": safe_url(url),
        "json": "" if (title or snippet) else pretty_json(item),
    }


def file_search_result(step, *, live, turn_id):
    items = [_file_item(i) for i in _list(step.get("result"))]
    count = len(items)
    fact = (
        ngettext("%(count)s result", "%(count)s results", count) % {"count": count} if items else ""
    )
    return _card("folder", _("File search"), fact, items=items)


def _arguments(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def function_call(step, *, live, turn_id):
    name = one_line(step.get("name") or "function", 200)
    arguments = _arguments(step.get("arguments"))
    fact = name
    if not live and isinstance(arguments, dict):
        inner = json.dumps(arguments, ensure_ascii=False, default=str)[1:-1]
        fact = f"{name}({inner[:MAX_FACT_CHARS]})"
    return _card(
        "function",
        _("Calling") if live else _("Called"),
        fact,
        name=name,
        arguments=None if live else pretty_json(arguments if arguments is not None else {}),
    )


def function_result(step, *, live, turn_id, call=None):
    name = step.get("name") or _dict(call).get("name")
    value = step.get("result")
    return _card(
        "function",
        _("Result of %(name)s") % {"name": one_line(name, 80)} if name else _("Function result"),
        _result_fact(value),
        result=result_view(value, turn_id=turn_id),
    )


def mcp_server_tool_call(step, *, live, turn_id):
    server = one_line(step.get("server_name"), 200)
    tool = one_line(step.get("name"), 200)
    return _card(
        "plug",
        _("Calling MCP tool") if live else _("MCP tool"),
        " · ".join(x for x in (server, tool) if x),
        server=server,
        tool=tool,
        arguments=pretty_json(_arguments(step.get("arguments"))),
    )


def mcp_server_tool_result(step, *, live, turn_id, call=None):
    call = _dict(call)
    server = one_line(step.get("server_name") or call.get("server_name"), 200)
    tool = one_line(step.get("name") or call.get("name"), 200)
    value = step.get("result")
    return _card(
        "plug",
        "MCP result" + (f" · {tool}" if tool else ""),
        _result_fact(value),
        server=server,
        tool=tool,
        result=result_view(value, turn_id=turn_id),
    )


def retrieval_call(step, *, live, turn_id):
    kind = step.get("retrieval_type")
    label = RETRIEVAL_TYPES.get(kind, one_line(kind, 60)) if kind else ""
    queries = _queries(step)
    return _card(
        "library",
        _("Retrieving") if live else _("Retrieved"),
        " · ".join(x for x in (label, *queries) if x),
        retrieval_type=label,
        queries=queries,
    )


_PLUMBING = {"type", "id", "call_id", "signature", "is_error"}


def _extra(step) -> str:
    extra = {k: v for k, v in step.items() if k not in _PLUMBING}
    return pretty_json(extra) if extra else ""


def retrieval_result(step, *, live, turn_id):
    return _card("library", _("Retrieval result"), "", extra=_extra(step))


def processing_call(step, *, live, turn_id):
    return _card("cog", _("Processing media") if live else _("Processed media"), extra=_extra(step))


def processing_result(step, *, live, turn_id):
    return _card("cog", _("Media processing done"), extra=_extra(step))


def user_input(step, *, live, turn_id):
    content = step.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    blocks = blocks_view(content, turn_id=turn_id, text="plain", where="you sent")
    fact = " ".join(b.get("text", "") for b in blocks if b.get("kind") == "plain")
    return _card("message", _("Your message"), fact, blocks=blocks)


def unknown(step, *, live, turn_id):
    kind = step.get("type")
    return _card("unknown", one_line(kind if kind else "unknown step", 80), json=pretty_json(step))


BUILDERS: dict[str, Callable[..., dict]] = {
    f.__name__: f
    for f in (
        google_search_call, google_search_result, code_execution_call, code_execution_result,
        url_context_call, url_context_result, google_maps_call, google_maps_result,
        file_search_call, file_search_result, function_call, function_result,
        mcp_server_tool_call, mcp_server_tool_result, retrieval_call, retrieval_result,
        processing_call, processing_result, user_input,
    )
}  # fmt: skip
# Builders that can use the call a result answers (its name, when the result lacks one).
USES_CALL = {"function_result", "mcp_server_tool_result"}


def build_card(step: dict, *, live: bool, turn_id, call: dict | None = None) -> tuple[str, dict]:
    """(body partial name, card) for a step that renders as a card."""
    kind = k if isinstance(k := step.get("type"), str) else ""
    builder = BUILDERS.get(kind)  # none for ""
    if builder is None:
        return "unknown", unknown(step, live=live, turn_id=turn_id)
    if kind in USES_CALL:
        card = builder(step, live=live, turn_id=turn_id, call=call)
    else:
        card = builder(step, live=live, turn_id=turn_id)
    card["error"] = step.get("is_error") is True
    return kind, card
