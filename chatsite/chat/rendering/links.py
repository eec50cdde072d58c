"""URLs and short labels from the model or upstream: only plain http(s) ever becomes a link or
an embed, and labels lose the bidi controls that could disguise them."""

from urllib.parse import urlsplit

# Every link to somewhere else opens in a new tab and tells that page nothing about us.
LINK_REL = "noopener noreferrer nofollow"
MAX_URL_CHARS = 8_000


def safe_url(value, *, schemes=("http", "https")) -> str | None:
    """The URL if it is an absolute http(s) URL with a host, else None.

    `javascript:`, `data:`, `vbscript:`, relative and protocol-relative URLs, URLs with spaces or
    control characters (which browsers strip, so `java\\tscript:` would run) are all refused.
    """
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > MAX_URL_CHARS:
        return None
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in schemes or not parts.hostname:
        return None
    return url


def https_url(value) -> str | None:
    return safe_url(value, schemes=("https",))


def domain_of(url: str | None) -> str:
    """`www.example.com` → `example.com`; empty when there is no host."""
    if not url:
        return ""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


# Explicit bidi embeddings, overrides and isolates: "invoice\u202efdp.exe" shows as
# "invoiceexe.pdf". Real right-to-left text never needs them, so short labels drop them.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def plain_label(text: str) -> str:
    return text.translate(_BIDI_CONTROLS)
