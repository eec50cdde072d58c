"""Serve the media inside a turn's steps (images, audio, video, documents) to its owner, and to
reviewers who may read others' conversations (each such fetch is a logged read).

Pages never inline base64: the renderer links `/media/t/<turn_id>/<digest>/` (see
rendering/media.py), and this view finds the block again in the owner's turn by the SHA-256 of
its base64 text. The response can never script: only an allow-list of types is served as
itself, everything else is an octet-stream download, and a `sandbox` CSP covers all of it (an
SVG or HTML opened directly runs nothing and has no origin).
"""

import base64
import binascii
import re

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_safe

from .admin_views import log_read, readable_turns
from .rendering.media import (
    URL_DIGEST_CHARS,
    block_mime,
    data_digest,
    iter_media_blocks,
    serving,
)

DIGEST = re.compile(rf"[0-9a-f]{{{URL_DIGEST_CHARS}}}")
EXTENSIONS = {
    "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif",
    "image/bmp": "bmp", "image/avif": "avif", "image/heic": "heic", "image/heif": "heif",
    "image/tiff": "tiff", "audio/wav": "wav", "audio/mp3": "mp3", "audio/mpeg": "mp3",
    "audio/ogg": "ogg", "audio/flac": "flac", "audio/aac": "aac", "audio/webm": "weba",
    "video/mp4": "mp4", "video/webm": "webm", "video/quicktime": "mov", "video/mov": "mov",
    "application/pdf": "pdf", "text/csv": "csv", "text/plain": "txt",
}  # fmt: skip
CSP = "default-src 'none'; sandbox"


def _decode(data: str) -> bytes:
    data = "".join(data.split())
    data += "=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.urlsafe_b64decode(data)
    except (binascii.Error, ValueError):
        raise Http404("Not valid base64.") from None


def immutable_headers(etag: str) -> dict[str, str]:
    """Content-addressed bytes: cached for good, never sniffed, never scripted."""
    return {
        "ETag": etag,
        "Cache-Control": "private, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Referrer-Policy": "no-referrer",
    }


def _readable_turn(turns, turn_id: int, *fields: str):
    """The turn among `turns` (those this reader may see), with what log_read needs."""
    return (
        turns.filter(pk=turn_id)
        .select_related("conversation")
        .only(*fields, "conversation__owner_id", "conversation__title")
        .first()
    )


def etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


@require_safe
@login_required
def step_media(request, turn_id: int, digest: str):
    # The owner, or a reviewer allowed to read others' transcripts (the admin logs that read).
    return serve_step_media(request, readable_turns(request.user), turn_id, digest)


def serve_step_media(request, turns, turn_id: int, digest: str, *, audit: bool = True):
    """A media block of turn `turn_id`, found among `turns` (the ones this reader may see).
    A signed-in reader fetching someone else's media is logged (`audit`); a share link is not
    a reader of its own."""
    if not DIGEST.fullmatch(digest):
        raise Http404("No such media.")
    turn = _readable_turn(turns, turn_id, "steps", "user_input")
    if turn is None:
        raise Http404("No such media.")
    block = next(
        (
            b
            for b in iter_media_blocks([turn.steps, turn.user_input])
            if data_digest(b["data"]).startswith(digest)
        ),
        None,
    )
    if block is None:
        raise Http404("No such media.")
    if audit:
        log_read(request, turn.conversation, "media", f"turn {turn.pk}, item {digest}")

    full_digest = data_digest(block["data"])
    etag = f'"{full_digest}"'
    headers = immutable_headers(etag)
    if etag_matches(request.headers.get("If-None-Match", ""), etag):
        response: HttpResponse = HttpResponseNotModified()
        for name, value in headers.items():
            response[name] = value
        return response

    content_type, disposition = serving(block_mime(block))
    filename = f"{full_digest[:12]}.{EXTENSIONS.get(content_type, 'bin')}"
    response = HttpResponse(_decode(block["data"]), content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


# Google's snippet brings inline styles and may bring scripts: styles may apply, nothing runs,
# and only our own pages may frame it.
SUGGESTIONS_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
)
SUGGESTIONS_HEAD = (
    '<!doctype html><html><head><meta charset="utf-8">'
    '<meta name="referrer" content="no-referrer"><base target="_blank">'
    # The page's own scheme (steps.css gives the frame `light dark`), and no default margin of
    # canvas colour around the widget.
    '<meta name="color-scheme" content="light dark">'
    "<style>html, body { margin: 0; background: transparent; }</style></head><body>"
)


@require_safe
@login_required
@xframe_options_sameorigin
def search_suggestions(request, turn_id: int, digest: str):
    """The search-suggestions snippet of one of the owner's turns, for a sandboxed iframe."""
    return serve_suggestions(request, readable_turns(request.user), turn_id, digest)


def serve_suggestions(request, turns, turn_id: int, digest: str, *, audit: bool = True):
    if not DIGEST.fullmatch(digest):
        raise Http404("No such snippet.")
    turn = _readable_turn(turns, turn_id, "steps")
    snippet = next(
        (
            item["search_suggestions"]
            for step in (turn.steps if turn else [])
            if isinstance(step, dict) and step.get("type") == "google_search_result"
            for item in step.get("result") or []
            if isinstance(item, dict)
            and isinstance(item.get("search_suggestions"), str)
            and data_digest(item["search_suggestions"]).startswith(digest)
        ),
        None,
    )
    if snippet is None:
        raise Http404("No such snippet.")
    if audit:
        log_read(request, turn.conversation, "media", f"turn {turn.pk}, search suggestions")
    response = HttpResponse(SUGGESTIONS_HEAD + snippet, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = SUGGESTIONS_CSP
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    response["Referrer-Policy"] = "no-referrer"
    return response
