"""Markdown while it streams: which blocks of an answer are complete, and which of those the
browser cannot draw by itself.

The browser (static/chatsite/livemd.js) parses the text it receives with markdown-it, the same
parser and options as the *base* parser here, and builds DOM nodes from its tokens (never HTML
from model text). So for most blocks it already shows what a reload shows, and the text crosses
the wire once. Where the page's renderer (`render_markdown`: highlighting, and whatever else it
adds) gives other HTML than the base parser, the server sends that block's sanitised HTML once,
when the block is complete (a later block has begun), by its index among the answer's top-level
blocks. At the end `derived()` says whether what the browser then shows equals the page's render;
if not (link reference definitions, a renderer that reads across blocks), the runner sends the
whole step as before.

Parsing restarts at the first unfinished block: top-level blocks after it do not depend on
what came before (reference definitions aside, which `derived()` catches). Parses are amortised:
only when a new line arrived, and for a long open block only after it grew by a quarter.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from .markdown import render_markdown, sanitise

# markdown-it's own line breaks (it normalises \r\n and \r to \n before splitting lines).
_NEWLINE = re.compile(r"\r\n?|\n")
# An open block shorter than this is re-parsed on every new line; a longer one when it has
# grown by a quarter, so a huge block costs O(n log n), not O(n²).
_SMALL_TAIL = 4000
# A block's HTML larger than this is not sent as a frame (a socket frame has a size limit):
# the answer is then redrawn whole at its end, by the path that loads big turns over HTTP.
MAX_BLOCK_HTML = 200_000


@lru_cache(maxsize=1)
def base_parser() -> MarkdownIt:
    """The parse the browser repeats: livemd.js uses these options, with markdown-it 14."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    return md


def top_level_blocks(tokens: list[Token]) -> list[tuple[int, int]]:
    """(start, end) token ranges of the top-level blocks, in order."""
    blocks, start = [], 0
    for i, token in enumerate(tokens):
        if token.level != 0:
            continue
        if token.nesting == 1:
            start = i
        elif token.nesting == -1:
            blocks.append((start, i + 1))
        else:
            blocks.append((i, i + 1))
    return blocks


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


class LiveMarkdown:
    """One streaming answer's text, cut into complete blocks as it grows."""

    def __init__(self, text: str = ""):
        self.text = ""
        self.start = 0  # where the first unfinished block begins
        self.shown: list[str] = []  # the HTML the browser shows for each complete block
        self.overrides: dict[int, str] = {}  # block index → the page renderer's HTML
        self.references = False
        self.unsent = False  # a block's HTML was too large to send
        self._parsed_at = 0
        if text:
            self.feed(text)

    def feed(self, chunk: str) -> list[tuple[int, str]]:
        """Add text; the (index, html) of newly complete blocks the browser must be sent."""
        self.text += chunk
        if "\n" not in chunk:
            return []  # a block ends only where a line does
        tail = len(self.text) - self.start
        grown = len(self.text) - self._parsed_at
        if tail > _SMALL_TAIL and grown * 4 < tail:
            return []
        return self._advance(final=False)

    def finish(self) -> list[tuple[int, str]]:
        """The text is complete: every block is, too."""
        return self._advance(final=True)

    def derived(self) -> bool:
        """After finish(): the browser's blocks, put together, are exactly the page's render."""
        if self.references or self.unsent:
            return False
        return "".join(self.shown) == str(render_markdown(self.text))

    def _advance(self, *, final: bool) -> list[tuple[int, str]]:
        self._parsed_at = len(self.text)
        source = self.text[self.start :]
        if not source:
            return []
        md = base_parser()
        env: dict = {}
        tokens = md.parse(source, env)
        self.references = self.references or bool(env.get("references"))
        blocks = top_level_blocks(tokens)
        complete = blocks if final else blocks[:-1]
        lines = _line_starts(source)
        sent = []
        for start, end in complete:
            first, last = tokens[start].map or (0, 0)
            stop = lines[last] if last < len(lines) else len(source)
            base = sanitise(md.renderer.render(tokens[start:end], md.options, env))
            page = str(render_markdown(source[lines[first] : stop]))
            if page != base and len(page) > MAX_BLOCK_HTML:
                self.unsent = True
            elif page != base:
                self.overrides[len(self.shown)] = page
                sent.append((len(self.shown), page))
            self.shown.append(page)
        if final:
            self.start = len(self.text)
        elif complete:
            self.start += lines[(tokens[blocks[-1][0]].map or (0, 0))[0]]
        return sent
