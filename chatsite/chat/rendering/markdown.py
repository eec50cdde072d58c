"""Model text → sanitised HTML.

markdown-it-py parses with raw HTML disabled, Pygments highlights fenced code, LaTeX becomes
MathML (mathml.py), and nh3 cleans the result, so a hostile model answer cannot add tags,
handlers or script URLs.
"""

import re
from collections.abc import Sequence
from contextvars import ContextVar
from functools import lru_cache

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.tasklists import tasklists_plugin
from mdit_py_plugins.utils import is_code_block
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from . import mathml
from .links import safe_url

# Past this size a code block is shown plain: highlighting megabytes would stall the server.
MAX_HIGHLIGHT_CHARS = 100_000
# And one document highlights at most this much in all, however many blocks it has.
MAX_HIGHLIGHT_TOTAL = 200_000
_budget: ContextVar[int] = ContextVar("highlight_budget", default=MAX_HIGHLIGHT_TOTAL)

_formatter = HtmlFormatter(nowrap=True, classprefix="hl-")

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "input", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
} | mathml.TAGS  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"class", "href", "title"},
    "code": {"class"},
    "div": {"class"},
    "li": {"class"},
    "ol": {"start"},
    "pre": {"class", "data-lang"},
    "span": {"class", "title"},
    "td": {"style"},
    "th": {"style"},
    "ul": {"class"},
    **mathml.attributes(),
}
# Attributes kept only with these values.
ALLOWED_VALUES = {**mathml.ATTRIBUTE_VALUES, "input": {"checked": {"checked", ""}}}
# The only input is a task list's box: whatever else it says, it is a checkbox nobody can tick.
FORCED_ATTRIBUTES = {"input": {"type": "checkbox", "disabled": "disabled"}}
URL_SCHEMES = {"http", "https", "mailto"}


def _lexed(code: str, lang: str) -> str:
    if not lang or len(code) > MAX_HIGHLIGHT_CHARS:
        return ""
    try:
        lexer = get_lexer_by_name(lang.split()[0], stripnl=False)
    except ClassNotFound:
        return ""
    return highlight(code, lexer, _formatter)


def _highlight(code: str, lang: str, _attrs) -> str:
    # Inside render_markdown, which resets the budget for each document.
    if len(code) > _budget.get():
        return ""  # markdown-it escapes it itself
    html = _lexed(code, lang)
    if html:
        _budget.set(_budget.get() - len(code))
    return html


def highlight_code(code, lang) -> SafeString:
    """Code outside markdown (a code_execution_call): highlighted HTML, or escaped plain text."""
    code = code if isinstance(code, str) else ""
    html = _lexed(code, lang if isinstance(lang, str) else "")
    return mark_safe(html or escape(code))  # noqa: S308 - Pygments escapes its tokens


# -- math: `$…$` and `$$…$$` by dollarmath, `\(…\)` and `\[…\]` by the two rules below ----------

# Each opening `\(` or `\[` looks for its closing within MAX_MATH_CHARS; a document gets this
# many looks, so a megabyte of unclosed openings stays linear.
MAX_MATH_SEARCHES = 2_000
_BRACKETS = {"(": ("\\)", "math_inline"), "[": ("\\]", "math_inline_double")}
_CLOSERS = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}


def _search_allowed(env) -> bool:
    searches = env.get("math_searches", 0)
    env["math_searches"] = searches + 1
    return searches < MAX_MATH_SEARCHES


def _bracket_math_inline(state: StateInline, silent: bool) -> bool:
    """`\\(x\\)` inline, `\\[x\\]` displayed, inside a paragraph. (Markdown alone reads `\\(` as an
    escaped parenthesis and shows "(x)"; this rule runs before the escape rule.)"""
    src, pos = state.src, state.pos
    if src[pos] != "\\" or pos + 1 >= state.posMax or src[pos + 1] not in _BRACKETS:
        return False
    closer, kind = _BRACKETS[src[pos + 1]]
    if not _search_allowed(state.env):
        return False
    end = src.find(closer, pos + 2, min(state.posMax, pos + 4 + mathml.MAX_MATH_CHARS))
    if end <= pos + 2:
        return False
    if not silent:
        token = state.push(kind, "math", 0)
        token.content = src[pos + 2 : end]
        token.markup = src[pos : pos + 2]
    state.pos = end + 2
    return True


def _bracket_math_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """`\\[` starting a block and `\\]` ending one of its lines: display math over lines that
    markdown would otherwise read as lists or headings (`- x`, `= y`)."""
    if is_code_block(state, start_line):
        return False
    begin = state.bMarks[start_line] + state.tShift[start_line]
    if not state.src.startswith("\\[", begin, state.eMarks[start_line]):
        return False
    if not _search_allowed(state.env):
        return False
    lines: list[str] = []
    size = 0
    line = start_line
    while line < end_line and size <= mathml.MAX_MATH_CHARS:
        if line > start_line and state.sCount[line] < state.blkIndent:
            return False  # out of the list item or quote it began in
        start = begin + 2 if line == start_line else state.bMarks[line] + state.tShift[line]
        text = state.src[start : state.eMarks[line]].rstrip()
        if line > start_line and not text:
            return False  # a blank line: not one expression
        if text.endswith("\\]"):
            lines.append(text[:-2])
            break
        if "\\]" in text:
            return False  # closed mid-line: inline math, for the paragraph
        lines.append(text)
        size += len(text) + 1
        line += 1
    else:
        return False
    content = "\n".join(lines)
    if not content.strip():
        return False
    if not silent:
        token = state.push("math_block", "math", 0)
        token.block = True
        token.content = content
        token.markup = "\\["
        token.map = [start_line, line + 1]
    state.line = line + 1
    return True


# citations.py marks where a source is cited with a word like this before rendering; inside a
# formula it would become letters of it, so it is taken out and put just after the formula.
_CITATION_MARKER = re.compile(r"zq[a-z]{16}qz")


def _render_math(self: RendererHTML, tokens: Sequence[Token], idx: int, options, env) -> str:
    token = tokens[idx]
    display = token.type != "math_inline"
    markers = "".join(_CITATION_MARKER.findall(token.content))
    latex = _CITATION_MARKER.sub("", token.content) if markers else token.content
    html = mathml.to_mathml(latex, display=display)
    if html is None:  # bad LaTeX, macros or too much of it: the source, as code
        source = token.markup + latex + _CLOSERS.get(token.markup, "")
        html = f'<code class="math-source">{escape(source)}</code>'
    if token.block:
        return f'<div class="math-display">{html}</div>{markers}\n'
    if display:  # `$$…$$` or `\\[…\\]` inside a paragraph: a span, shown as a block
        return f'<span class="math-display">{html}</span>{markers}'
    return html + markers


# -- images: a link to the picture, never an <img> (a remote image is a tracking pixel) --------


def _render_image(self: RendererHTML, tokens: Sequence[Token], idx: int, options, env) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env).strip()
    url = safe_url(token.attrGet("src"))
    label = escape(alt or url or gettext("image"))
    note = escape(gettext("Image not shown: remote images are blocked"))
    if url is None or env.get("link_depth"):  # no link inside a link
        return f'<span class="image-link" title="{note}">{label}</span>'
    return f'<a class="image-link" href="{escape(url)}" title="{note}">{label}</a>'


def _link_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options, env) -> str:
    env["link_depth"] = env.get("link_depth", 0) + 1
    return self.renderToken(tokens, idx, options, env)


def _link_close(self: RendererHTML, tokens: Sequence[Token], idx: int, options, env) -> str:
    env["link_depth"] = env.get("link_depth", 0) - 1
    return self.renderToken(tokens, idx, options, env)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.options["highlight"] = _highlight
    # Pandoc's rules for `$`: no space just inside the delimiters and no digit just after the
    # closing one, so "$5 and $10" stays two prices.
    dollarmath_plugin(
        md,
        allow_labels=False,
        allow_space=False,
        allow_digits=False,
        allow_blank_lines=False,
        double_inline=True,
    )
    md.inline.ruler.before("escape", "math_bracket", _bracket_math_inline)
    md.block.ruler.before("fence", "math_bracket_block", _bracket_math_block)
    tasklists_plugin(md)  # disabled checkboxes
    for kind in ("math_inline", "math_inline_double", "math_block"):
        md.add_render_rule(kind, _render_math)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    return md


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    # Tables carry `style="text-align:…"` from markdown-it; keep only that.
    if attribute == "style":
        return (
            value if value in {"text-align:left", "text-align:center", "text-align:right"} else None
        )
    return mathml.filter_attribute(element, attribute, value)


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=ALLOWED_VALUES,
        set_tag_attribute_values=FORCED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_filter_attribute,
        strip_comments=True,
    )


def render_markdown(text: str) -> SafeString:
    """Render untrusted markdown to HTML that is safe to put in a page."""
    if not text:
        return mark_safe("")  # noqa: S308 - empty
    token = _budget.set(MAX_HIGHLIGHT_TOTAL)
    math_token = mathml.budget_scope()
    try:
        html = _parser().render(text, {})
    except Exception:  # a parser bug must not lose the answer: show it plain
        html = f"<p>{escape(text)}</p>"
    finally:
        _budget.reset(token)
        mathml.end_budget_scope(math_token)
    return mark_safe(sanitise(html))  # noqa: S308 - sanitised by nh3 just above
