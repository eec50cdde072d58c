"""The app's icons: symbols of one SVG sprite, static/chatsite/icons.svg (Lucide, ISC), drawn in
the text's colour with `<svg><use href="…#name"></svg>`. Icons are decoration: the button or link
around one carries the accessible name, so the icon itself is hidden from screen readers."""

import functools
import re

from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

SPRITE = "chatsite/icons.svg"
FALLBACK = "unknown"

# The step cards' former emoji (rendering/cards.py), so a card's icon can be either.
EMOJI = {
    "🔎": "search-tool",
    "💻": "code",
    "🔗": "link",
    "📍": "map",
    "📁": "folder",
    "ƒ": "function",
    "🔌": "plug",
    "📚": "library",
    "⚙": "cog",
    "✎": "message",
    "❔": "unknown",
    "📄": "file",
    "📌": "pin",
    "📎": "attach",
    "🖼": "image",
    "🎵": "audio",
    "🎬": "video",
    "✓": "check",
    "✗": "close",
    "✕": "close",
    "☰": "menu",
    "⚑": "flag",
}


@functools.cache
def names() -> frozenset[str]:
    """Every symbol id in the sprite (read once)."""
    path = finders.find(SPRITE)
    if not path:
        return frozenset()
    with open(path, encoding="utf-8") as f:
        return frozenset(re.findall(r'<symbol id="([^"]+)"', f.read()))


def icon(name: str, css_class: str = "") -> SafeString:
    """The icon called `name` (a symbol id, or one of the old emoji); an unknown name draws the
    "unknown" icon rather than failing the page."""
    name = EMOJI.get(name, name)
    if name not in names():
        name = FALLBACK
    classes = f"icon icon-{name} {css_class}".strip()
    return format_html(
        '<svg class="{}" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>',
        classes,
        static(SPRITE),
        name,
    )
