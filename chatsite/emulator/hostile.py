"""``[emulator:hostile]``: hostile strings for every text field the emulator makes up.

Model output, citation titles and URLs, search suggestion HTML, file and place names and tool
results are all untrusted in a real deployment. In hostile mode the emulator fills each of them
with classic XSS payloads, URL schemes that run code, attribute breakouts, bidi overrides and
emoji (multi-byte UTF-8, which also exercises the byte offsets of annotations), so that the
app's renderer and browser tests can prove that none of it executes.

Pure functions; ``n`` picks a variant deterministically.
"""

from __future__ import annotations

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
BREAKOUT = '"><svg onload=alert(1)>'
SINGLE_BREAKOUT = "'><iframe src=javascript:alert(1)>"
JS_URL = "javascript:alert(1)"
DATA_URL = "data:text/html,<script>alert(1)</script>"
VBS_URL = "JaVaScRiPt:alert(document.domain)"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
PDF = "\u202c"  # POP DIRECTIONAL FORMATTING
EMOJI = "🔥💣🙂"
TITLE_MARK = "pwned"

# One string carrying every kind of payload (for names, titles, snippets).
PAYLOAD = f"{SCRIPT} {IMG} {BREAKOUT} {RLO}gnp.exe{PDF} {EMOJI}"

URLS = (JS_URL, DATA_URL, VBS_URL)

# Markdown that turns into dangerous HTML if a renderer trusts it.
MARKDOWN = (
    f"{SCRIPT}\n\n"
    f"{IMG}\n\n"
    f"[click me]({JS_URL}) · [open]({DATA_URL}) · ![pic]({JS_URL})\n\n"
    f'<a href="{JS_URL}">raw link</a> {BREAKOUT} {SINGLE_BREAKOUT}\n\n'
    f"{RLO}txt.exe{PDF} {EMOJI} <style>body{{display:none}}</style>"
)

# What the search-suggestions widget carries in hostile mode: a live script (alert + title).
SUGGESTIONS_SCRIPT = f"<script>alert(1);document.title='{TITLE_MARK}';</script>"


def text(value: str, n: int = 0) -> str:
    """``value`` with the payload around it (names, titles, file names, snippets)."""
    variant = (BREAKOUT, SCRIPT, IMG)[n % 3]
    return f"{variant}{value} {PAYLOAD}"


def url(n: int = 0) -> str:
    """A URL whose scheme runs code."""
    return URLS[n % len(URLS)]
