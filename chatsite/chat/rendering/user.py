"""The files in the user's bubble: a thumbnail, a player, or a file chip per attachment.

`Turn.user_input` holds references to the owner's stored files (chatsite/chat/attachments.py);
each links `/a/<sha256>/`, which serves the file to its owner only. Names are the person's
input: the template escapes them and wraps them in <bdi>.
"""

from __future__ import annotations

import re

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from ..attachments import human_size, is_ref
from .citations import short
from .media import DOCUMENT_TYPES, normalise_mime, reverse_media

SHA256 = re.compile(r"[0-9a-f]{64}")
# What a browser shows in <img>, <audio>, <video>; other types (HEIC, TIFF, AVI…) get a chip.
SHOWN = {
    "image": {"image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/avif"},
    "audio": {
        "audio/wav", "audio/x-wav", "audio/mp3", "audio/mpeg", "audio/ogg", "audio/opus",
        "audio/flac", "audio/aac", "audio/m4a", "audio/mp4", "audio/webm",
    },
    "video": {"video/mp4", "video/webm", "video/quicktime", "video/mov"},
}  # fmt: skip
LABELS = {
    "text/markdown": "Markdown",
    "application/json": "JSON",
    "image": "Image",
    "audio": "Audio",
    "video": "Video",
}


def attachment_view(block: dict, *, linked: bool = True) -> dict | None:
    """One reference block, ready for the `user-attachments` partial (None: not a file).
    `linked=False` (someone else reads the transcript, e.g. in the admin): a name-only chip,
    since the file is served to its owner only."""
    if not is_ref(block) or not SHA256.fullmatch(block["attachment"]):
        return None
    src = reverse_media("attachment", sha256=block["attachment"])
    if src is None:
        return None
    kind = t if isinstance(t := block.get("type"), str) else "document"
    mime = normalise_mime(block.get("mime_type"))
    size = block.get("size")
    shows_as = kind if mime in SHOWN.get(kind, ()) else "file"
    return {
        "shows_as": shows_as if linked else "name",
        "src": src,
        "name": short(block.get("name"), 200) or "file",
        "size": human_size(size) if isinstance(size, int) and size >= 0 else "",
        "label": DOCUMENT_TYPES.get(mime) or LABELS.get(mime) or LABELS.get(kind, "File"),
    }


def other_block(block) -> dict:
    """A part of the message that is not a stored file (media carried inline, as an imported
    conversation's are): named by its kind."""
    kind = block.get("type") if isinstance(block, dict) else None
    name = block.get("name") if isinstance(block, dict) else None
    label = LABELS.get(kind, "File") if isinstance(kind, str) else "File"
    return {"shows_as": "file", "name": short(name, 200) if name else label, "size": ""}


def render_user_input(turn, *, linked: bool = True) -> SafeString:
    """The attachments of a turn's user input as HTML ("" when there are none)."""
    blocks = getattr(turn, "user_input", None)
    blocks = blocks if isinstance(blocks, list) else []
    items = [v for v in (attachment_view(b, linked=linked) for b in blocks) if v]
    if not items:
        return mark_safe("")
    html = render_to_string("chat/steps.html#user-attachments", {"items": items})
    return mark_safe(html)  # noqa: S308 - rendered by an autoescaping template
