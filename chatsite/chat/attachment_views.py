"""Serve a person's attached files back to them, and to no one else.

`/a/<sha256>/` finds the file among the signed-in person's own attachments; anyone else gets
404 (an anonymous visitor is sent to sign in). The bytes never change for a hash, so they are
cached for a year. As with step media (media.py), nothing served here can script: only
images, audio and video a browser shows are served inline as their own type, everything else
downloads, and a `sandbox` CSP with `nosniff` covers all of it.
"""

import re

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponseNotModified
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from .media import etag_matches, immutable_headers
from .models import Attachment
from .rendering.media import serving

SHA256 = re.compile(r"[0-9a-f]{64}")


@require_safe
@login_required
def attachment(request, sha256: str):
    if not SHA256.fullmatch(sha256):
        raise Http404("No such file.")
    return serve_attachment(request, Attachment.objects.filter(owner=request.user, sha256=sha256))


def serve_attachment(request, rows):
    """The one file among `rows` (the ones this reader may have), or 404."""
    row = rows.first()
    if row is None:
        raise Http404("No such file.")
    headers = immutable_headers(f'"{row.sha256}"')
    if etag_matches(request.headers.get("If-None-Match", ""), headers["ETag"]):
        response: HttpResponseBase = HttpResponseNotModified()
    else:
        try:
            handle = row.file.open("rb")
        except (OSError, ValueError):
            raise Http404("This file is no longer stored.") from None
        content_type, disposition = serving(row.mime_type)
        response = FileResponse(handle, content_type=content_type)
        # str(): None (inline and nameless) was always sent as the text "None"
        response["Content-Disposition"] = str(
            content_disposition_header(disposition == "attachment", row.name)
        )
    for name, value in headers.items():
        response[name] = value
    return response
