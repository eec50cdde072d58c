"""Content blocks (text, image, audio, video, document, unknown) → what the `block` partial
shows."""

from __future__ import annotations

import json

from django.utils.translation import gettext, gettext_noop

from .citations import Citations, render_cited_markdown, short
from .links import https_url
from .markdown import render_markdown
from .media import DOCUMENT_TYPES, block_mime, media_url, shows_inline

# A JSON view never prints more than this; the admin offers the raw steps whole.
MAX_JSON_CHARS = 20_000
# Plain text (tool output) is cut here too: a page must stay a page.
MAX_TEXT_CHARS = 100_000
# Long opaque strings inside JSON views (base64 data, signatures) are summarised.
_OPAQUE_KEYS = {"data", "signature", "thought_signature"}

KIND_LABELS = {"image": "Image", "audio": "Audio", "video": "Video", "document": "Document"}
# Image alt texts, one whole sentence per kind and source so each language words it its own way.
# The callers pass the English `where`; these marks put every pair in the catalogs.
ALTS = {
    ("image", "from the model"): gettext_noop("Image from the model"),
    ("audio", "from the model"): gettext_noop("Audio from the model"),
    ("video", "from the model"): gettext_noop("Video from the model"),
    ("document", "from the model"): gettext_noop("Document from the model"),
    ("image", "returned by the tool"): gettext_noop("Image returned by the tool"),
    ("audio", "returned by the tool"): gettext_noop("Audio returned by the tool"),
    ("video", "returned by the tool"): gettext_noop("Video returned by the tool"),
    ("document", "returned by the tool"): gettext_noop("Document returned by the tool"),
    ("image", "you sent"): gettext_noop("Image you sent"),
    ("audio", "you sent"): gettext_noop("Audio you sent"),
    ("video", "you sent"): gettext_noop("Video you sent"),
    ("document", "you sent"): gettext_noop("Document you sent"),
    ("image", "in the model's thinking"): gettext_noop("Image in the model's thinking"),
    ("audio", "in the model's thinking"): gettext_noop("Audio in the model's thinking"),
    ("video", "in the model's thinking"): gettext_noop("Video in the model's thinking"),
    ("document", "in the model's thinking"): gettext_noop("Document in the model's thinking"),
}


def _redacted(value, depth=0):
    if depth > 40:
        return "…"
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _OPAQUE_KEYS and isinstance(item, str) and len(item) > 64:
                out[key] = f"<{len(item):,} characters of base64>"
            else:
                out[key] = _redacted(item, depth + 1)
        return out
    if isinstance(value, list):
        return [_redacted(item, depth + 1) for item in value]
    return value


def pretty_json(value) -> str:
    """Pretty JSON for people: indented, non-ASCII kept, base64 summarised, truncated."""
    try:
        text = json.dumps(_redacted(value), indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    if len(text) > MAX_JSON_CHARS:
        text = text[:MAX_JSON_CHARS] + "\n… (truncated)"
    return text


def plain_text(value) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + "\n… (truncated)"
    return text


def _speakers(annotations) -> list[str]:
    out = []
    for annotation in annotations if isinstance(annotations, list) else []:
        if isinstance(annotation, dict) and annotation.get("type") == "speech_metadata":
            label = " · ".join(
                str(annotation[k]) for k in ("speaker", "style") if annotation.get(k)
            )
            label = short(label, 200)
            if label and label not in out:
                out.append(label)
    return out


def block_view(
    block,
    *,
    turn_id,
    text: str = "markdown",
    citations: Citations | None = None,
    where: str = "from the model",
) -> dict:
    """One content block, ready for the `block` partial.

    text="markdown": text blocks are sanitised markdown (with citation markers when
    `citations` is given); text="plain": shown verbatim in a <pre> (tool output)."""
    if not isinstance(block, dict):
        return {"kind": "unknown", "type": type(block).__name__, "json": pretty_json(block)}
    kind = block.get("type")
    if kind == "text":
        value = block.get("text")
        value = value if isinstance(value, str) else ("" if value is None else str(value))
        if text == "plain":
            return {"kind": "plain", "text": plain_text(value)}
        if citations is not None:
            html = render_cited_markdown(value, block.get("annotations"), citations)
        else:
            html = render_markdown(value)
        return {"kind": "markdown", "html": html, "speakers": _speakers(block.get("annotations"))}
    if kind in KIND_LABELS:
        return _media_view(block, kind, turn_id=turn_id, where=where)
    label = kind if isinstance(kind, str) and kind else "unknown"
    return {"kind": "unknown", "type": label[:80], "json": pretty_json(block)}


def _alt(kind: str, where: str) -> str:
    known = ALTS.get((kind, where))
    return gettext(known) if known else f"{KIND_LABELS[kind]} {where}"


def _media_view(block: dict, kind: str, *, turn_id, where: str) -> dict:
    mime = block_mime(block)
    view = {
        "kind": kind,
        "mime": mime,
        "label": DOCUMENT_TYPES.get(mime) or KIND_LABELS[kind],
        "name": short(block.get("name"), 200),
        "alt": _alt(kind, where),
        "remote": False,
    }
    src = media_url(turn_id, block)
    if src is None:
        src = https_url(block.get("uri"))
        view["remote"] = src is not None
    if src is None:
        uri = block.get("uri")
        view.update(kind="unlinked", uri=str(uri)[:2000] if uri else "")
        return view
    view["src"] = src
    if kind != "document" and not (view["remote"] or shows_inline(mime, kind)):
        view["kind"] = "document"  # e.g. an "image" that is SVG: a download, never an <img>
        view["label"] = mime or KIND_LABELS[kind]
    return view


def blocks_view(blocks, **kwargs) -> list[dict]:
    if not isinstance(blocks, list):
        return []
    return [block_view(b, **kwargs) for b in blocks]
