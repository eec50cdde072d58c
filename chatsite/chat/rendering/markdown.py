"""Model text → sanitised HTML.

markdown-it-py parses with raw HTML disabled, Pygments highlights fenced code, LaTeX becomes
MathML (mathml.py), and nh3 cleans the result, so a hostile model answer cannot add tags,
handlers or script URLs.
"""

from collections.abc import Sequence
from contextvars import ContextVar
from functools import lru_cache

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from mdit_py_plugins.tasklists import tasklists_plugin
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
    mathml.math_plugin(md)
    tasklists_plugin(md)  # disabled checkboxes
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
