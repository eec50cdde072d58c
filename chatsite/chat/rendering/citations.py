"""Citations: numbered markers in the answer's text and the list of sources under it.

Annotations carry `end_index` as a UTF-8 byte offset into their text block (exclusive). The
marker for each one goes there, but markdown and the sanitiser run in between, so:

1. byte offsets become character positions (clamped; a cut through a character or a grapheme
   moves forward to its end), and each position moves to a spot markdown treats as plain text
   (the end of the cited words, never a fence, a table delimiter or a link's URL); a position
   that cannot be placed safely, or an annotation without `end_index`, goes to the end;
2. a random letters-only token goes in at each position — nothing markdown, Pygments or nh3
   will alter or split;
3. after render + sanitise, one pass over the clean HTML swaps each token in text for the
   markers (built here with format_html, URLs checked), moves markers out of links and code,
   and drops tokens that ended up inside an attribute; markers whose token was lost are
   appended at the end of the block.

The same source always has the same number within a step, and each step lists its sources.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from dataclasses import dataclass, field
from html import escape as html_escape
from html.parser import HTMLParser

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .links import LINK_REL, domain_of, plain_label, safe_url
from .markdown import _parser, render_markdown

CITATION_TYPES = {"url_citation", "place_citation", "file_citation"}
MAX_TITLE_CHARS = 300
MAX_REVIEWS = 5


def short(value, limit=MAX_TITLE_CHARS) -> str:
    if value is None:
        return ""
    text = plain_label(value if isinstance(value, str) else str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Source:
    number: int
    kind: str  # "url" | "place" | "file"
    title: str
    href: str | None = None  # only ever a checked http(s) URL
    url_text: str = ""  # a URL that is not safe to link, shown as text
    domain: str = ""
    page: str = ""
    detail: str = ""
    reviews: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:  # the place partial reads `name`
        return self.title


def review_links(value) -> list[dict]:
    if not isinstance(value, list):
        return []
    out = []
    for review in value[:MAX_REVIEWS]:
        if not isinstance(review, dict):
            continue
        href = safe_url(review.get("url"))
        title = short(review.get("title")) or (href or "")
        if title:
            out.append({"title": title, "href": href})
    return out


def _source_key(annotation: dict):
    kind = annotation.get("type")
    if kind == "url_citation":
        ident = annotation.get("url") or annotation.get("title")
        # One page, one source: a link to a spot in it (#fragment) is the same page.
        return ("url", str(ident).strip().split("#", 1)[0]) if ident else None
    if kind == "place_citation":
        ident = annotation.get("place_id") or annotation.get("url") or annotation.get("name")
        return ("place", str(ident)) if ident else None
    if kind == "file_citation":
        ident = (
            annotation.get("document_uri")
            or annotation.get("file_name")
            or annotation.get("source")
            or annotation.get("media_id")
        )
        page = annotation.get("page_number")
        return ("file", str(ident or ""), str(page) if page is not None else "")
    return None


_HOST_NAME = re.compile(r"(?:www\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}\.?", re.I)


def _is_host_name(title: str) -> bool:
    return _HOST_NAME.fullmatch(title) is not None


def _make_source(number: int, annotation: dict) -> Source:
    kind = annotation.get("type")
    if kind == "url_citation":
        raw = annotation.get("url")
        href = safe_url(raw)
        domain = domain_of(href)
        title = short(annotation.get("title")) or domain or short(raw) or "Source"
        return Source(
            number,
            "url",
            title,
            href=href,
            url_text="" if href else short(raw),
            # The domain once: not beside a title that is itself a site's name (grounding
            # gives "wikipedia.org" for en.wikipedia.org, or for a redirect URL's host).
            domain="" if _is_host_name(title) else domain,
        )
    if kind == "place_citation":
        href = safe_url(annotation.get("url"))
        return Source(
            number,
            "place",
            short(annotation.get("name")) or "A place on Google Maps",
            href=href,
            reviews=review_links(annotation.get("review_snippets")),
        )
    # file_citation
    uri = annotation.get("document_uri")
    href = safe_url(uri)
    page = annotation.get("page_number")
    title = (
        short(annotation.get("file_name"))
        or short(annotation.get("source"))
        or short(uri)
        or short(annotation.get("media_id"))
        or "A file"
    )
    return Source(
        number,
        "file",
        title,
        href=href,
        domain=domain_of(href),
        page=short(page, 20) if page not in (None, "") else "",
        detail=short(annotation.get("source")) if annotation.get("file_name") else "",
    )


class Citations:
    """Numbers sources in order of first citation, for one step."""

    def __init__(self):
        self.sources: list[Source] = []
        self._by_key: dict = {}

    def source_for(self, annotation) -> Source | None:
        if not isinstance(annotation, dict) or annotation.get("type") not in CITATION_TYPES:
            return None
        key = _source_key(annotation)
        if key is None:
            return None
        source = self._by_key.get(key)
        if source is None:
            source = _make_source(len(self.sources) + 1, annotation)
            self._by_key[key] = source
            self.sources.append(source)
        return source


def marker_html(source: Source) -> SafeString:
    if source.href:
        return format_html(
            '<sup class="cite"><a data-citation="{}" href="{}" rel="{}" target="_blank" '
            'title="{}" aria-label="Source {}: {}">[{}]</a></sup>',
            source.number,
            source.href,
            LINK_REL,
            source.title,
            source.number,
            source.title,
            source.number,
        )
    return format_html(
        '<sup class="cite"><a data-citation="{}" title="{}" aria-label="Source {}: {}">[{}]</a>'
        "</sup>",
        source.number,
        source.title,
        source.number,
        source.title,
        source.number,
    )


def _markers(sources: list[Source]) -> str:
    return format_html_join("", "{}", ((marker_html(s),) for s in sources))


# -- byte offsets → safe character positions ----------------------------------------------


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _char_positions(text: str, byte_offsets: set[int]) -> dict[int, int]:
    """Byte offset → character index, in one pass. An offset inside a character moves to the
    character's end; offsets are clamped to the text."""
    data = text.encode("utf-8", "surrogatepass")
    out: dict[int, int] = {}
    chars = 0
    prev = 0
    for offset in sorted(byte_offsets):
        b = max(0, min(offset, len(data)))
        while b < len(data) and (data[b] & 0xC0) == 0x80:
            b += 1  # never cut a UTF-8 sequence
        chars += len(data[prev:b].decode("utf-8", "surrogatepass"))
        prev = b
        out[offset] = chars
    return out


def _extends_grapheme(ch: str) -> bool:
    code = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or code == 0x200D  # zero-width joiner
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences
        or 0xE0100 <= code <= 0xE01EF
        or unicodedata.category(ch) in {"Mn", "Me", "Mc"}
    )


def _grapheme_end(text: str, pos: int) -> int:
    while pos < len(text) and (
        _extends_grapheme(text[pos]) or (pos > 0 and text[pos - 1] == "\u200d")
    ):
        pos += 1
    return pos


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _line_of(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _text_lines(text: str) -> tuple[set[int], set[int]]:
    """Lines whose end is plain inline text (paragraphs, headings, list items, quotes), and the
    subset that are table rows. Fences, indented code, rules and table delimiter rows are not."""
    inline: set[int] = set()
    table_rows: set[int] = set()
    depth = 0
    try:
        tokens = _parser().parse(text)
    except Exception:
        return inline, table_rows
    for token in tokens:
        if token.type == "table_open":
            depth += 1
        elif token.type == "table_close":
            depth -= 1
        elif token.type == "inline" and token.map:
            lines = range(token.map[0], token.map[1])
            (table_rows if depth else inline).update(lines)
    return inline, table_rows


def _place(text: str, pos: int, starts, inline, table_rows) -> int | None:
    """Where a marker for `pos` can go, or None (then it goes to the end)."""
    pos = _grapheme_end(text, pos)
    while pos > 0 and text[pos - 1].isspace():
        pos -= 1  # hug the cited words, never start a line
    if pos == 0:
        return None
    if text[pos - 1] == "\\" and pos < len(text):
        pos += 1  # keep a backslash escape whole
    line = _line_of(starts, pos - 1)
    if line in table_rows:
        while pos > 0 and text[pos - 1] in " \t|":
            pos -= 1  # into the last cell, not after the row's closing pipe
        if pos == 0 or _line_of(starts, pos - 1) != line:
            return None
        return pos
    return pos if line in inline else None


# -- tokens in, markers out ---------------------------------------------------------------

_LETTERS = string.ascii_lowercase


def _index_letters(i: int) -> str:
    out = ""
    for _ in range(4):
        i, r = divmod(i, 26)
        out = _LETTERS[r] + out
    return out


def _index_of(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + _LETTERS.index(ch)
    return n


# Inside these the markers wait until the element closes: no link in a link, nothing in code.
_DEFER = {"a", "code", "pre"}
_VOID = {"br", "hr", "img", "wbr"}


class _MarkerPass(HTMLParser):
    def __init__(self, pattern: re.Pattern, groups: list[list[Source]]):
        super().__init__(convert_charrefs=True)
        self.pattern = pattern
        self.groups = groups
        self.placed: set[int] = set()
        self.out: list[str] = []
        self.depth = 0
        self.pending: list[str] = []

    def _strip(self, value: str) -> str:
        return self.pattern.sub("", value)

    def handle_starttag(self, tag, attrs):
        parts = [tag]
        for name, value in attrs:
            if value is None:
                parts.append(name)
            else:
                parts.append(f'{name}="{html_escape(self._strip(value), quote=True)}"')
        self.out.append("<" + " ".join(parts) + ">")
        if tag in _DEFER:
            self.depth += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in _DEFER:
            self.depth -= 1

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        self.out.append(f"</{tag}>")
        if tag in _DEFER and self.depth > 0:
            self.depth -= 1
            if self.depth == 0 and self.pending:
                self.out.extend(self.pending)
                self.pending.clear()

    def handle_data(self, data):
        pos = 0
        for match in self.pattern.finditer(data):
            self.out.append(html_escape(data[pos : match.start()], quote=False))
            index = _index_of(match.group(1))
            pos = match.end()
            if index >= len(self.groups) or index in self.placed:
                continue
            self.placed.add(index)
            html = _markers(self.groups[index])
            (self.pending if self.depth else self.out).append(html)
        self.out.append(html_escape(data[pos:], quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out + self.pending)


def _reading_order(annotation: dict) -> tuple[int, int]:
    end = _as_int(annotation.get("end_index"))
    return (0, end) if end is not None else (1, 0)  # unplaced ones go to the end anyway


def render_cited_markdown(text: str, annotations, citations: Citations) -> SafeString:
    """Markdown → safe HTML with a numbered marker for each citation annotation."""
    cited: list[tuple[int | None, Source]] = []
    # Numbered in reading order, whatever order the annotations come in.
    for annotation in sorted(
        (a for a in annotations if isinstance(a, dict)) if isinstance(annotations, list) else (),
        key=_reading_order,
    ):
        source = citations.source_for(annotation)
        if source is not None:
            cited.append((_as_int(annotation.get("end_index")), source))
    if not cited:
        return render_markdown(text)

    positions = _char_positions(text, {b for b, _ in cited if b is not None})
    starts = _line_starts(text)
    inline, table_rows = _text_lines(text)
    at: dict[int, list[Source]] = {}
    tail: list[Source] = []
    for offset, source in cited:
        pos = (
            None if offset is None else _place(text, positions[offset], starts, inline, table_rows)
        )
        bucket = tail if pos is None else at.setdefault(pos, [])
        if source not in bucket:
            bucket.append(source)

    nonce = "".join(secrets.choice(_LETTERS) for _ in range(12))
    pattern = re.compile(f"zq{nonce}([a-z]{{4}})qz")
    groups: list[list[Source]] = []
    pieces: list[str] = []
    prev = 0
    for pos in sorted(at):
        pieces.append(text[prev:pos])
        pieces.append(f"zq{nonce}{_index_letters(len(groups))}qz")
        groups.append(at[pos])
        prev = pos
    pieces.append(text[prev:])

    html = str(render_markdown("".join(pieces)))
    marker_pass = _MarkerPass(pattern, groups)
    marker_pass.feed(html)
    html = marker_pass.result()
    for index, group in enumerate(groups):
        if index not in marker_pass.placed:
            tail.extend(s for s in group if s not in tail)
    if tail:
        tail.sort(key=lambda s: s.number)
        html += format_html('<p class="cite-tail">{}</p>', _markers(tail))
    return mark_safe(html)  # noqa: S308 - sanitised by nh3; markers built by format_html
