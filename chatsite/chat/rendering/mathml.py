"""LaTeX from the model → MathML, which Chromium and Firefox render natively (no script ships).

The markdown rules for the four delimiters, the conversion (latex2mathml) with its cost bounded,
and which MathML elements and attributes the sanitiser keeps. Nothing here is trusted as is:
markdown.py runs the whole page through nh3 with the allow-list below.
"""

import re
from collections.abc import Sequence
from contextvars import ContextVar, Token
from xml.etree.ElementTree import tostring

from django.utils.html import escape
from latex2mathml import commands
from latex2mathml.converter import convert_to_element
from latex2mathml.tokenizer import tokenize
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token as MarkdownToken
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.utils import is_code_block

# One expression past this size is shown as its source: the converter takes ~50 µs a character.
MAX_MATH_CHARS = 3_000
# And one document converts at most this much LaTeX in all, however many expressions it has.
MAX_MATH_TOTAL = 20_000
_budget: ContextVar[int] = ContextVar("math_budget", default=MAX_MATH_TOTAL)

# Macros expand exponentially (\newcommand{\b}{\a\a} five deep is a minute of CPU), and a model
# never needs them for one expression: source shown instead.
_MACRO_COMMANDS = {
    commands.NEWCOMMAND,
    commands.DEF,
    commands.DECLAREMATHOPERATOR,
    commands.NEWENVIRONMENT,
}

# latex2mathml keeps its symbols as character references in the tree's text; the serialiser
# escapes their `&`. Only these are put back, so text the model wrote (`\text{<b>}`) stays text.
_CHAR_REF = re.compile(r"&amp;(#x[0-9A-Fa-f]{1,6};)")


def budget_scope() -> Token[int]:
    """Start a document's conversion budget; give the result to `end_budget_scope`."""
    return _budget.set(MAX_MATH_TOTAL)


def end_budget_scope(token: Token[int]) -> None:
    _budget.reset(token)


def to_mathml(latex: str, *, display: bool) -> str | None:
    """`<math>…</math>` for this LaTeX, or None when it is malformed, too large or uses macros."""
    latex = latex.strip()
    if not latex or len(latex) > MAX_MATH_CHARS or len(latex) > _budget.get():
        return None
    _budget.set(_budget.get() - len(latex))
    try:
        if any(token in _MACRO_COMMANDS for token in tokenize(latex)):
            return None
        element = convert_to_element(latex, display="block" if display else "inline")
    except Exception:  # its errors (and RecursionError on deep nesting) are all "bad LaTeX"
        return None
    return _CHAR_REF.sub(r"&\1", tostring(element, encoding="unicode"))


# -- markdown: `$…$` and `$$…$$` by dollarmath, `\(…\)` and `\[…\]` by the two rules below ------

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
    end = src.find(closer, pos + 2, min(state.posMax, pos + 4 + MAX_MATH_CHARS))
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
    while line < end_line and size <= MAX_MATH_CHARS:
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


def _render_math(
    self: RendererHTML, tokens: Sequence[MarkdownToken], idx: int, options, env
) -> str:
    token = tokens[idx]
    display = token.type != "math_inline"
    markers = "".join(_CITATION_MARKER.findall(token.content))
    latex = _CITATION_MARKER.sub("", token.content) if markers else token.content
    html = to_mathml(latex, display=display)
    if html is None:  # bad LaTeX, macros or too much of it: the source, as code
        source = token.markup + latex + _CLOSERS.get(token.markup, "")
        html = f'<code class="math-source">{escape(source)}</code>'
    if token.block:
        return f'<div class="math-display">{html}</div>{markers}\n'
    if display:  # `$$…$$` or `\\[…\\]` inside a paragraph: a span, shown as a block
        return f'<span class="math-display">{html}</span>{markers}'
    return html + markers


def math_plugin(md: MarkdownIt) -> None:
    """All four delimiters, rendered as MathML (or as their source when that fails)."""
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
    for kind in ("math_inline", "math_inline_double", "math_block"):
        md.add_render_rule(kind, _render_math)


# -- what the sanitiser keeps -----------------------------------------------------------------

# Exactly the elements latex2mathml emits.
TAGS = {
    "math", "menclose", "mfrac", "mi", "mn", "mo", "mover", "mpadded", "mphantom", "mroot",
    "mrow", "mspace", "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd", "mtext",
    "mtr", "munder", "munderover",
}  # fmt: skip

_TRUE_FALSE = {"true", "false"}
_VARIANTS = {
    "normal", "bold", "italic", "bold-italic", "double-struck", "bold-fraktur", "script",
    "bold-script", "fraktur", "sans-serif", "bold-sans-serif", "sans-serif-italic",
    "sans-serif-bold-italic", "monospace",
}  # fmt: skip
_NOTATIONS = {
    "box", "updiagonalstrike", "downdiagonalstrike", "horizontalstrike", "verticalstrike",
    "updiagonalstrike downdiagonalstrike", "circle", "roundedbox",
}  # fmt: skip

# Attributes whose values are words: only these values.
ATTRIBUTE_VALUES: dict[str, dict[str, set[str]]] = {
    "math": {"display": {"block", "inline"}},
    "menclose": {"notation": _NOTATIONS},
    "mi": {"mathvariant": _VARIANTS},
    "mn": {"mathvariant": _VARIANTS},
    "mtext": {"mathvariant": _VARIANTS},
    "mo": {
        "mathvariant": _VARIANTS,
        "accent": _TRUE_FALSE,
        "fence": _TRUE_FALSE,
        "movablelimits": _TRUE_FALSE,
        "separator": _TRUE_FALSE,
        "stretchy": _TRUE_FALSE,
        "form": {"prefix", "infix", "postfix"},
    },
    "mover": {"accent": _TRUE_FALSE},
    "mstyle": {"displaystyle": _TRUE_FALSE, "scriptlevel": {"0", "1", "2"}},
    "mtable": {"displaystyle": _TRUE_FALSE, "rowlines": {"none", "solid", "dashed"}},
    "mtd": {"columnalign": {"left", "center", "right"}},
    "mspace": {"linebreak": {"newline"}},
}

# Attributes whose values are lengths: checked by `length_ok`. No href, style, class, colours or
# handlers: latex2mathml writes `\href` and `\style` into mrow attributes, and those go.
LENGTH_ATTRIBUTES: dict[str, set[str]] = {
    "mfrac": {"linethickness"},
    "mo": {"lspace", "rspace", "minsize", "maxsize"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"},
    "mspace": {"width", "height", "depth"},
    "mstyle": {"mathsize"},
    "mtable": {"rowspacing", "columnspacing"},
}

# A length is small: `\hspace{900em}` or `\raisebox` tricks must not push the page wider than the
# screen or lay math over the text around it. (Units in em; pt, px and mu converted roughly.)
_LENGTH = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(em|ex|pt|px|mu)?")
_EMS = {"em": 1.0, "ex": 0.5, "pt": 1 / 12, "px": 1 / 16, "mu": 1 / 18, None: 1.0}
MAX_LENGTH_EM = 3.0


def length_ok(value: str) -> bool:
    """One length, or a short space-separated list of them (table spacings), each small."""
    parts = value.split()
    if not 1 <= len(parts) <= 20:
        return False
    for part in parts:
        match = _LENGTH.fullmatch(part)
        if not match or abs(float(match.group(1))) * _EMS[match.group(2)] > MAX_LENGTH_EM:
            return False
    return True


def attributes() -> dict[str, set[str]]:
    """The attributes nh3 keeps on MathML elements (values then go through `filter_attribute`)."""
    return {tag: set(names) for tag, names in LENGTH_ATTRIBUTES.items()}


def filter_attribute(element: str, attribute: str, value: str) -> str | None:
    if attribute in LENGTH_ATTRIBUTES.get(element, ()):
        return value if length_ok(value) else None
    return value
