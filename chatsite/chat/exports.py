"""A conversation as a file: JSON (every turn, steps verbatim) and Markdown (for people).

Plain functions of a Conversation so the admin and, later, the chat page can both offer them.

JSON is the archive: `user_input`, `steps`, `usage` and `error` exactly as stored, unknown step
types and fields included.

Markdown is the reading copy, and its content is hostile: the user's words and the model's
answer keep their own markdown, but they cannot forge the export's structure. Their headings
move below the export's own (`# title`, `### You` / `### Gemini`), raw HTML, footnote and link
reference definitions are escaped, a code fence left open is closed, and a text that would
still spill into what follows is put whole in a code fence. Citations become numbered footnotes
(`[^1]`) with the sources listed after the answer that first cites them; media is a mention
(`[image: image/png]`), never base64.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from functools import lru_cache

from django.utils import timezone, translation
from markdown_it import MarkdownIt

from . import branches
from .rendering.cards import build_card, one_line
from .rendering.citations import (
    Citations,
    Source,
    _as_int,
    _char_positions,
    _line_starts,
    _place,
    _text_lines,
)
from .rendering.media import MEDIA_TYPES, block_mime
from .rendering.steps import HIDDEN_TYPES, continue_output

FORMAT = "chatsite.conversation.v1"

__all__ = [
    "FORMAT",
    "contain_markdown",
    "conversation_json",
    "conversation_markdown",
    "json_bytes",
    "turn_json",
]


# -- JSON ----------------------------------------------------------------------------------


def _iso(value):
    return value.isoformat() if value else None


def _turns(conversation, turns):
    return list(conversation.turns.all()) if turns is None else list(turns)


def turn_json(turn, tree=None, on_screen=()) -> dict:
    """One turn; user input, steps, usage and error verbatim. `tree`: the conversation's
    versions, for the turn it follows and whether it is on the branch on screen."""
    parent = tree.parent.get(turn.pk) if tree is not None else turn.parent_id
    return {
        "id": turn.pk,
        "interaction_id": turn.interaction_id,
        "continuation_ids": turn.continuation_ids,
        "parent_id": turn.parent_id,
        "parent_turn": parent,
        "on_screen_branch": turn.pk in on_screen,
        "status": turn.status,
        "model": turn.model,
        "background": turn.background,
        "user_input": turn.user_input,
        "steps": turn.steps,
        "usage": turn.usage,
        "error": turn.error,
        "created_at": _iso(turn.created_at),
        "updated_at": _iso(turn.updated_at),
        "completed_at": _iso(turn.completed_at),
    }


def conversation_json(conversation, turns=None) -> dict:
    """The conversation and every turn of every version, as a JSON-ready dict (`turns`: all of
    them, already fetched). `branch`: the turns on screen, first to last."""
    owner = conversation.owner
    turns = _turns(conversation, turns)
    tree = branches.of_turns(conversation, turns)
    path = tree.path()
    on_screen = set(path)
    return {
        "format": FORMAT,
        "id": conversation.pk,
        "title": conversation.title,
        "owner": {"id": owner.pk, "username": owner.get_username()},
        "model": conversation.model,
        "settings": conversation.settings,
        "created_at": _iso(conversation.created_at),
        "updated_at": _iso(conversation.updated_at),
        "exported_at": _iso(timezone.now()),
        "branch": path,
        "turns": [turn_json(t, tree, on_screen) for t in turns],
    }


def json_bytes(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


# -- Markdown: keeping hostile text in its place -------------------------------------------


@lru_cache(maxsize=2)
def _parser(html: bool = False) -> MarkdownIt:
    # What most viewers understand: CommonMark and GFM tables. The structure is read with raw
    # HTML off (all of it gets escaped); the final check reads it as a viewer that allows HTML.
    return MarkdownIt("commonmark", {"html": html}).enable(["table", "strikethrough"])


# Blockquote markers, list markers and indentation before a line's own content.
_PREFIX = r"[ \t>]*(?:(?:[-+*]|\d{1,9}[.)])[ \t]+[ \t>]*)*"
_ATX = re.compile(rf"^({_PREFIX})(#{{1,6}})(?=[ \t]|$)")
_SETEXT = re.compile(r"^([ \t>]*)([=-])")
# `[label]: …` and `[^note]: …` define links and footnotes for the whole document.
_DEFINITION = re.compile(rf"^({_PREFIX})\[(?=[^\]]*\]:)")
# `<` that could start a tag, a comment or an autolink, `[^` that could cite a footnote, and
# the `!` of an image (a remote image in an export is a tracking pixel; the chat shows none).
_RAW = re.compile(r"<(?=[A-Za-z/!?])|\[\^|!(?=\[)")
_BACKTICKS = re.compile(r"`+")
MIN_HEADING = 4  # content headings start below the export's `###`


def _code_spans(line: str) -> list[tuple[int, int]]:
    """Spans of inline code on one line (a run of n backticks up to the next run of n)."""
    spans, runs = [], list(_BACKTICKS.finditer(line))
    i = 0
    while i < len(runs):
        opener = runs[i]
        close = next(
            (j for j in range(i + 1, len(runs)) if len(runs[j].group()) == len(opener.group())),
            None,
        )
        if close is None:
            i += 1
            continue
        spans.append((opener.start(), runs[close].end()))
        i = close + 1
    return spans


def _escaped(line: str, at: int) -> bool:
    """Whether the character at `at` is already backslash-escaped."""
    n = 0
    while at - n - 1 >= 0 and line[at - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _escape_line(line: str) -> str:
    """Backslash-escape what could start raw HTML, an autolink, an image, a footnote reference
    or a link/footnote definition, outside inline code."""
    spans = _code_spans(line)
    points = {m.start() for m in _RAW.finditer(line)}
    definition = _DEFINITION.match(line)
    if definition:
        points.add(definition.end(1))
    out, prev = [], 0
    for at in sorted(points):
        if any(a <= at < b for a, b in spans) or _escaped(line, at):
            continue
        out += [line[prev:at], "\\"]
        prev = at
    out.append(line[prev:])
    return "".join(out)


def _demote(match) -> str:
    level = min(6, len(match.group(2)) + MIN_HEADING - 1)
    return match.group(1) + "#" * level


def _code_lines(tokens) -> set[int]:
    lines: set[int] = set()
    for token in tokens:
        if token.map and token.type in ("fence", "code_block"):
            lines.update(range(*token.map))
    return lines


def _escape(text: str) -> str | None:
    """Escape every line outside code until nothing changes (escaping can turn what was a
    definition into a paragraph, and so code into text); None if it will not settle."""
    for _ in range(5):
        code = _code_lines(_parser().parse(text))
        lines = text.split("\n")
        escaped = "\n".join(
            line if i in code else _escape_line(line) for i, line in enumerate(lines)
        )
        if escaped == text:
            return text
        text = escaped
    return None


def _demote_headings(text: str) -> str:
    lines = text.split("\n")
    for token in _parser().parse(text):
        if token.type != "heading_open" or not token.map:
            continue
        start, end = token.map
        if token.markup.startswith("#"):
            lines[start] = _ATX.sub(_demote, lines[start], count=1)
        elif end > start:  # setext: the underline goes, the words stay
            lines[end - 1] = _SETEXT.sub(lambda m: m.group(1) + "\\" + m.group(2), lines[end - 1])
    return "\n".join(lines)


def _open_fence(text: str):
    """The top-level code fence left open at the end of the text, if any (a cut-off answer)."""
    fences = [t for t in _parser().parse(text) if t.type == "fence" and t.level == 0 and t.map]
    if not fences:
        return None
    fence, lines = fences[-1], text.split("\n")
    assert fence.map is not None  # only fences with a map were kept
    start, end = fence.map
    if end < len(lines):
        return None
    last = lines[end - 1].strip() if end - 1 > start else ""
    marker = fence.markup[0]
    if last and set(last) == {marker} and len(last) >= len(fence.markup):
        return None  # closed on the last line
    return fence


def _contained(text: str) -> bool:
    """Read as a viewer that renders raw HTML would: no HTML, no heading above `####`, no
    definitions, and a heading written after the text is a heading of its own."""
    sentinel = "zq" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))
    env: dict = {}
    tokens = _parser(html=True).parse(f"{text}\n\n# {sentinel}\n", env)
    if env.get("references") or env.get("footnotes"):
        return False
    for token in tokens[:-3]:
        if token.type == "html_block":
            return False
        if token.type == "heading_open" and int(token.tag[1:]) < MIN_HEADING:
            return False
        if any(child.type in ("html_inline", "image") for child in token.children or ()):
            return False
    return (
        len(tokens) >= 3
        and tokens[-3].type == "heading_open"
        and tokens[-3].level == 0
        and tokens[-2].content == sentinel
    )


def fenced(text: str, info: str = "") -> str:
    """`text` verbatim in a code fence longer than any backtick run inside it."""
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def contain_markdown(text: str) -> tuple[str, bool]:
    """Untrusted markdown made safe to put between the export's own headings.

    Returns (markdown, verbatim): `verbatim` is True when the text had to go whole in a code
    fence because it could not otherwise be kept from running into what follows."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    text = text.strip("\n")
    if not text.strip():
        return "", False
    result = _escape(text)
    if result is not None:
        result = _demote_headings(result)
        fence = _open_fence(result)
        if fence is not None:
            result += "\n" + fence.markup[0] * max(3, len(fence.markup))
        if _contained(result):
            return result, False
    return fenced(text, "text"), True


# -- Markdown: inline pieces ---------------------------------------------------------------

_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>!|~&#$])")
_MIME = re.compile(r"[a-z0-9][a-z0-9.+-]{0,60}/[a-z0-9][a-z0-9.+-]{0,100}")


def inline(value, limit: int = 300) -> str:
    """Untrusted text as one line of literal markdown text."""
    return _INLINE_SPECIAL.sub(r"\\\1", one_line(value, limit))


def code_span(value, limit: int = 300) -> str:
    text = one_line(value, limit)
    if not text:
        return ""
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or text.startswith(" ") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _quote(markdown: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in markdown.split("\n"))


def media_mention(block: dict) -> str:
    kind = block.get("type") if block.get("type") in MEDIA_TYPES else "media"
    mime = block_mime(block)
    label = mime if _MIME.fullmatch(mime or "") else "unknown type"
    name = inline(block.get("name"), 120) if block.get("name") else ""
    return f"[{kind}: {label}{' · ' + name if name else ''}]"


def _url_destination(url: str) -> str:
    return "<" + url.replace("<", "%3C").replace(">", "%3E") + ">"


def _footnote(source: Source) -> str:
    if source.href:
        text = f"[{inline(source.title)}]({_url_destination(source.href)})"
    else:
        text = inline(source.title)
        if source.url_text and source.url_text != source.title:
            text += f" ({inline(source.url_text)})"
    if source.page:
        text += f", page {inline(source.page, 20)}"
    if source.detail:
        text += f" — {inline(source.detail)}"
    return f"[^{source.number}]: {text}"


# -- Markdown: steps -----------------------------------------------------------------------

_LETTERS = string.ascii_lowercase


class _Notes:
    """Footnotes for the whole document: one number per source, defined once."""

    def __init__(self):
        self.citations = Citations()
        self.defined = 0
        self.nonce = "".join(secrets.choice(_LETTERS) for _ in range(12))
        self.pattern = re.compile(f"zq{self.nonce}([a-z]{{4}})qz")

    def token(self, index: int) -> str:
        letters = ""
        for _ in range(4):
            index, r = divmod(index, 26)
            letters = _LETTERS[r] + letters
        return f"zq{self.nonce}{letters}qz"

    @staticmethod
    def index(letters: str) -> int:
        n = 0
        for ch in letters:
            n = n * 26 + _LETTERS.index(ch)
        return n

    def new_definitions(self) -> list[str]:
        fresh = self.citations.sources[self.defined :]
        self.defined = len(self.citations.sources)
        return [_footnote(s) for s in fresh]


def _refs(sources: list[Source]) -> str:
    return "".join(f"[^{s.number}]" for s in sorted(sources, key=lambda s: s.number))


def _cited_text(text: str, annotations, notes: _Notes) -> str:
    """Answer text with `[^n]` where its citations end (or after it, when no spot is safe)."""
    cited: list[tuple[int | None, Source]] = []
    for annotation in annotations if isinstance(annotations, list) else []:
        source = notes.citations.source_for(annotation)
        if source is not None:
            cited.append((_as_int(annotation.get("end_index")), source))
    if not cited:
        return contain_markdown(text)[0]

    positions = _char_positions(text, {b for b, _ in cited if b is not None})
    starts = _line_starts(text)
    inline_lines, table_rows = _text_lines(text)
    at: dict[int, list[Source]] = {}
    tail: list[Source] = []
    for offset, source in cited:
        pos = None
        if offset is not None:
            pos = _place(text, positions[offset], starts, inline_lines, table_rows)
        bucket = tail if pos is None else at.setdefault(pos, [])
        if source not in bucket:
            bucket.append(source)
    groups: list[list[Source]] = []
    pieces: list[str] = []
    prev = 0
    for pos in sorted(at):
        pieces += [text[prev:pos], notes.token(len(groups))]
        groups.append(at[pos])
        prev = pos
    pieces.append(text[prev:])

    body, verbatim = contain_markdown("".join(pieces))
    placed: set[int] = set()

    def swap(match):
        index = notes.index(match.group(1))
        if verbatim or index >= len(groups) or index in placed:
            return ""
        placed.add(index)
        return _refs(groups[index])

    body = notes.pattern.sub(swap, body)
    for index, group in enumerate(groups):
        if index not in placed:
            tail.extend(s for s in group if s not in tail)
    if tail:
        body += "\n\n" + _refs(tail)
    return body


def _content(blocks, notes: _Notes | None) -> list[str]:
    """Text and media blocks → markdown paragraphs."""
    out = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            value = block.get("text")
            value = value if isinstance(value, str) else ("" if value is None else str(value))
            if notes is not None:
                text = _cited_text(value, block.get("annotations"), notes)
            else:
                text = contain_markdown(value)[0]
            if text:
                out.append(text)
        elif kind in MEDIA_TYPES or "data" in block or "uri" in block:
            out.append(media_mention(block))
        else:
            out.append(f"[{inline(kind or 'unknown', 60)} block]")
    return out


def _query_list(step) -> str:
    args = a if isinstance(a := step.get("arguments"), dict) else {}
    queries = ql if isinstance(ql := args.get("queries"), list) else []
    return ", ".join(inline(q, 200) for q in queries[:20] if q not in (None, ""))


def _arguments_text(value) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def tool_line(step: dict, call: dict | None = None) -> str:
    """A tool step as one short line (without the quote marker); `call`: the step a result
    answers, when known."""
    kind = step.get("type")
    if kind == "google_search_call":
        what = "Google Images" if step.get("search_type") == "image_search" else "Google"
        queries = _query_list(step)
        return f"Searched {what}: {queries}" if queries else f"Searched {what}"
    if kind == "google_maps_call":
        queries = _query_list(step)
        return f"Searched Google Maps: {queries}" if queries else "Searched Google Maps"
    if kind == "code_execution_call":
        ran = a if isinstance(a := step.get("arguments"), dict) else {}
        code = c if isinstance(c := ran.get("code"), str) else ""
        language = inline(ran.get("language") or "python", 40)
        lines = [line for line in code.splitlines() if line.strip()]
        if not lines:
            return f"Ran {language}"
        more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
        return f"Ran {language}: {code_span(lines[0], 160)}{more}"
    if kind == "function_call":
        name = one_line(step.get("name") or "function", 100)
        args = _arguments_text(step.get("arguments"))
        if args.startswith("{") and args.endswith("}"):
            args = args[1:-1]
        return f"Called {code_span(f'{name}({args})', 200)}"
    if kind == "mcp_server_tool_call":
        server, name = step.get("server_name"), step.get("name") or "tool"
        args = _arguments_text(step.get("arguments"))
        if args.startswith("{") and args.endswith("}"):
            args = args[1:-1]
        where = f" on {inline(server, 100)}" if server else ""
        return f"Called MCP tool {code_span(f'{one_line(name, 100)}({args})', 200)}{where}"
    if kind == "google_search_result" and step.get("is_error") is not True:
        return ""  # Google's suggestions are a widget: nothing to say in text
    _, card = build_card(step, live=False, turn_id=None, call=call)
    line = inline(card.get("label") or kind or "step", 120)
    if card.get("fact"):
        line += f": {inline(card['fact'], 200)}"
    if card.get("error") and "error" not in line.lower():
        line += " (error)"
    return line


def _coalesced(steps) -> list[dict]:
    out: list[dict] = []
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            step = {"type": "unknown", "value": step}
        if step.get("type") in HIDDEN_TYPES:
            continue
        if out and step.get("type") == "model_output" and out[-1].get("type") == "model_output":
            out[-1] = continue_output(out[-1], step)
        else:
            out.append(step)
    return out


def _thought(step: dict) -> str:
    summary = step.get("summary")
    parts = _content(summary, None)
    if not parts:
        return "> *Thinking (no summary)*"
    return _quote("*Thinking:*\n\n" + "\n\n".join(parts))


def _output_error(step: dict) -> str:
    error = step.get("error")
    if not error:
        return ""
    message = error.get("message") if isinstance(error, dict) else None
    return f"> **Error:** {inline(message or 'The model reported an error.', 2000)}"


_STATUS_NOTES = {
    "cancelled": "*Stopped.*",
    "incomplete": "*The reply was cut short.*",
    "budget_exceeded": "*The reply stopped: its budget ran out.*",
    "requires_action": "*Waiting for a function result.*",
}


def _status_note(turn) -> str:
    status = turn.status
    error = turn.error if isinstance(turn.error, dict) else {}
    if status == "failed":
        message = error.get("message") or "The reply failed."
        return f"> **Failed:** {inline(message, 2000)}"
    if status in _STATUS_NOTES:
        note = _STATUS_NOTES[status]
        if status == "incomplete" and error.get("message"):
            note += f" {inline(error['message'], 2000)}"
        return f"> {note}"
    if status != "completed":
        return f"> *Still {inline(status.replace('_', ' '), 40)} when exported.*"
    return ""


def _answer(turn, notes: _Notes) -> list[str]:
    parts = []
    steps = _coalesced(turn.steps)
    calls: dict[str, dict] = {}
    for step in steps:
        if isinstance(step.get("id"), str):
            calls.setdefault(step["id"], step)
    for step in steps:
        kind = step.get("type")
        if kind == "model_output":
            parts += _content(step.get("content"), notes)
            if error := _output_error(step):
                parts.append(error)
        elif kind == "thought":
            parts.append(_thought(step))
        else:
            call_id = step.get("call_id")
            if line := tool_line(step, calls.get(call_id) if isinstance(call_id, str) else None):
                parts.append(f"> {line}")
    if note := _status_note(turn):
        parts.append(note)
    if not parts:
        parts.append("*(no reply)*")
    definitions = notes.new_definitions()
    if definitions:
        parts.append("\n".join(definitions))
    return parts


def _you(turn) -> list[str]:
    blocks = turn.user_input
    if isinstance(blocks, str):
        blocks = [{"type": "text", "text": blocks}]
    return _content(blocks, None) or ["*(nothing)*"]


def _versions_note(hidden: int) -> str:
    others = (
        "1 turn of another version is" if hidden == 1 else f"{hidden} turns of other versions are"
    )
    return f"*The version on screen; {others} in the JSON export only.*"


def conversation_markdown(conversation, turns=None) -> str:
    """The conversation for people to read: title, then each turn's words and answer, of the
    branch on screen (`turns`: all of them, already fetched). In English throughout: its own
    words are, so the card labels it borrows (translated for the page) are too."""
    with translation.override("en"):
        return _conversation_markdown(conversation, turns)


def _conversation_markdown(conversation, turns) -> str:
    notes = _Notes()
    owner = conversation.owner.get_username()
    started = timezone.localtime(conversation.created_at).strftime("%Y-%m-%d %H:%M %Z")
    out = [
        f"# {inline(str(conversation), 200)}",
        f"*{inline(owner, 150)} with {inline(conversation.model, 100)} · started {started}*",
    ]
    turns = _turns(conversation, turns)
    tree = branches.of_turns(conversation, turns)
    path = set(tree.path())
    if len(path) < len(turns):
        out.append(_versions_note(len(turns) - len(path)))
    for turn in turns:
        if turn.pk not in path:
            continue
        version = tree.version(turn.pk)
        you = f"### You (version {version.n} of {version.m})" if version else "### You"
        out += ["---", you, *_you(turn), "### Gemini", *_answer(turn, notes)]
    return "\n\n".join(out) + "\n"
