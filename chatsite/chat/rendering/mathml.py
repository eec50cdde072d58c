"""LaTeX from the model → MathML, which Chromium and Firefox render natively (no script ships).

latex2mathml does the conversion; this module bounds its cost and says which of its elements and
attributes the sanitiser keeps. Its output is never trusted as is: markdown.py runs everything
through nh3 with the allow-list below.
"""

import re
from contextvars import ContextVar, Token
from xml.etree.ElementTree import tostring

from latex2mathml import commands
from latex2mathml.converter import convert_to_element
from latex2mathml.tokenizer import tokenize

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
