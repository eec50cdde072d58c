"""Media in steps (images, audio, video, documents): never inlined as base64 in a page.

A block with base64 `data` is served by the `step-media` view (chatsite/chat/media.py) at
`/media/t/<turn_id>/<digest>/`, where digest is the first 32 hex characters of the SHA-256 of the
block's base64 text. The view finds the block again in the owner's turn, so a URL is useless to
anyone else. This module is shared by the renderer (URLs, how to show a block) and the view
(which blocks exist, what Content-Type they may be served as).
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar

from django.urls import NoReverseMatch, reverse

URL_DIGEST_CHARS = 32
MEDIA_TYPES = {"image", "audio", "video", "document"}

# Served inline with their own type (browsers show them in <img>/<audio>/<video>).
INLINE_TYPES = {
    # images
    "image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/avif",
    "image/heic", "image/heif", "image/tiff",
    # audio
    "audio/wav", "audio/x-wav", "audio/wave", "audio/mp3", "audio/mpeg", "audio/aiff",
    "audio/x-aiff", "audio/aac", "audio/ogg", "audio/flac", "audio/x-flac", "audio/m4a",
    "audio/x-m4a", "audio/mp4", "audio/opus", "audio/webm", "audio/l16", "audio/alaw",
    "audio/mulaw", "audio/basic",
    # video
    "video/mp4", "video/mpeg", "video/mpg", "video/mov", "video/quicktime", "video/avi",
    "video/x-msvideo", "video/x-flv", "video/webm", "video/wmv", "video/x-ms-wmv", "video/3gpp",
    "video/ogg",
}  # fmt: skip
# Served with their own type but always as a download.
DOCUMENT_TYPES = {
    "application/pdf": "PDF",
    "text/csv": "CSV",
    "text/plain": "Text",
    "application/msword": "Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template": "Word template",
    "application/vnd.oasis.opendocument.text": "OpenDocument text",
    "application/vnd.ms-excel": "Excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument spreadsheet",
    "application/vnd.ms-powerpoint": "PowerPoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    "application/vnd.oasis.opendocument.presentation": "OpenDocument presentation",
}
# Anything else (text/html, image/svg+xml, application/xhtml+xml, unknown): octet-stream download.
FALLBACK_TYPE = "application/octet-stream"

_ALIASES = {"image/jpg": "image/jpeg", "image/x-png": "image/png", "audio/x-mp3": "audio/mp3"}
# Magic prefixes of base64 text, for image blocks that arrive without a mime_type.
_SNIFF = {
    "iVBORw0KGgo": "image/png",
    "/9j/": "image/jpeg",
    "R0lGOD": "image/gif",
    "UklGR": "image/webp",
}


def normalise_mime(value) -> str:
    if not isinstance(value, str):
        return ""
    mime = value.split(";", 1)[0].strip().lower()
    return _ALIASES.get(mime, mime)


def block_mime(block: dict) -> str:
    """The block's declared type; for an undeclared image, what its first bytes say."""
    mime = normalise_mime(block.get("mime_type"))
    if not mime and block.get("type") == "image" and isinstance(block.get("data"), str):
        head = block["data"][:16]
        mime = next((m for prefix, m in _SNIFF.items() if head.startswith(prefix)), "")
    return mime


def serving(mime: str) -> tuple[str, str]:
    """(Content-Type, disposition) the view may use for a block of this type."""
    if mime in INLINE_TYPES:
        return mime, "inline"
    if mime in DOCUMENT_TYPES:
        return mime, "attachment"
    return FALLBACK_TYPE, "attachment"


def shows_inline(mime: str, kind: str) -> bool:
    """Whether a page may put this block in an <img>/<audio>/<video> of that kind."""
    return mime in INLINE_TYPES and mime.startswith(f"{kind}/")


_digests: dict[tuple[int, int], str] = {}
_MAX_CACHED = 4096


def data_digest(data: str) -> str:
    """SHA-256 hex of a block's base64 text. Cached by (length, hash): Python caches a string's
    hash on the object, so a page re-rendering the same steps hashes each image once. A
    collision would only give a wrong URL, which the view (hashing for real) answers with 404."""
    key = (len(data), hash(data))
    digest = _digests.get(key)
    if digest is None:
        digest = hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()
        if len(_digests) >= _MAX_CACHED:
            _digests.clear()
        _digests[key] = digest
    return digest


def is_media_block(value) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("data"), str)
        and bool(value["data"])
        and (value.get("type") in MEDIA_TYPES or isinstance(value.get("mime_type"), str))
    )


def iter_media_blocks(value, _depth: int = 0):
    """Every block with base64 data anywhere in steps: output content, thought summaries,
    function / code / MCP results, echoed input."""
    if _depth > 16:
        return
    if isinstance(value, dict):
        if is_media_block(value):
            yield value
        for child in value.values():
            if isinstance(child, (dict, list)):
                yield from iter_media_blocks(child, _depth + 1)
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, (dict, list)):
                yield from iter_media_blocks(child, _depth + 1)


# Set while a shared snapshot renders (share_views.py): its media links go through the
# share token, never the owner's URLs.
share_token: ContextVar[str | None] = ContextVar("share_token", default=None)


def reverse_media(name: str, **kwargs) -> str | None:
    token = share_token.get()
    if token is not None:
        name, kwargs = f"shared-{name}", {"token": token, **kwargs}
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def media_url(turn_id, block) -> str | None:
    """The URL that serves this block's data to the turn's owner, or None (no data, no turn)."""
    if turn_id is None or not is_media_block(block):
        return None
    digest = data_digest(block["data"])[:URL_DIGEST_CHARS]
    return reverse_media("step-media", turn_id=turn_id, digest=digest)


def suggestions_url(turn_id, snippet: str) -> str | None:
    """Where the owner's browser frames this Google search-suggestions snippet from."""
    if turn_id is None or not isinstance(snippet, str):
        return None
    digest = data_digest(snippet)[:URL_DIGEST_CHARS]
    return reverse_media("search-suggestions", turn_id=turn_id, digest=digest)
