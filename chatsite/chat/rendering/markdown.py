"""Model text → sanitised HTML.

markdown-it-py parses with raw HTML disabled, Pygments highlights fenced code, and nh3 cleans the
result, so a hostile model answer cannot add tags, handlers or script URLs.
"""

from contextvars import ContextVar
from functools import lru_cache

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# Past this size a code block is shown plain: highlighting megabytes would stall the server.
MAX_HIGHLIGHT_CHARS = 100_000
# And one document highlights at most this much in all, however many blocks it has.
MAX_HIGHLIGHT_TOTAL = 200_000
_budget: ContextVar[int] = ContextVar("highlight_budget", default=MAX_HIGHLIGHT_TOTAL)

_formatter = HtmlFormatter(nowrap=True, classprefix="hl-")

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "div": {"class"},
    "ol": {"start"},
    "pre": {"class", "data-lang"},
    "span": {"class"},
    "td": {"style"},
    "th": {"style"},
}
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


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.options["highlight"] = _highlight
    return md


def _filter_style(element: str, attribute: str, value: str) -> str | None:
    # Tables carry `style="text-align:…"` from markdown-it; keep only that.
    if attribute == "style":
        return (
            value if value in {"text-align:left", "text-align:center", "text-align:right"} else None
        )
    return value


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_filter_style,
        strip_comments=True,
    )


def render_markdown(text: str) -> SafeString:
    """Render untrusted markdown to HTML that is safe to put in a page."""
    if not text:
        return mark_safe("")  # noqa: S308 - empty
    token = _budget.set(MAX_HIGHLIGHT_TOTAL)
    try:
        html = _parser().render(text)
    except Exception:  # a parser bug must not lose the answer: show it plain
        html = f"<p>{escape(text)}</p>"
    finally:
        _budget.reset(token)
    return mark_safe(sanitise(html))  # noqa: S308 - sanitised by nh3 just above
