"""Request bodies over the documented limits are refused with 413 while they arrive.

The limit depends on the path: the composer's two upload endpoints take a message with its
attachments (settings.UPLOAD_BODY_MAX_BYTES); everything else takes a form at most
(settings.REQUEST_BODY_MAX_BYTES). `BodyLimit` is the ASGI middleware around the http app:
it refuses a declared Content-Length over the limit before the app runs, and counts the bytes
of every body (chunked too) as the app reads them, so the app never buffers more than the limit.
Daphne reads a whole body before it calls the app; daphne_guard.py applies the same limit there.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve

# URL names of the views that take attachments (chatsite/chat/urls.py).
UPLOAD_VIEWS = frozenset({"new", "send"})


def limit_for(path: str) -> int:
    """The most bytes a request body to `path` may have."""
    try:
        name = resolve(path).url_name
    except Resolver404:
        name = None
    if name in UPLOAD_VIEWS:
        return settings.UPLOAD_BODY_MAX_BYTES
    return settings.REQUEST_BODY_MAX_BYTES


def path_of(target: bytes | str) -> str:
    """The decoded path of a request target (origin-form or absolute-form, with a query)."""
    if isinstance(target, bytes):
        target = target.decode("latin-1")
    return unquote(urlsplit(target).path or "/")


def message(limit: int) -> bytes:
    return f"Request body too large: the limit here is {limit} bytes.\n".encode()


class BodyTooLarge(Exception):
    pass


def declared_length(headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def send_413(send, limit: int) -> None:
    body = message(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: 413 for a body over the limit of its path, before or while it arrives."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = limit_for(scope.get("path", "/"))
        length = declared_length(scope.get("headers", []))
        if length is not None and length > limit:
            return await send_413(send, limit)

        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return event

        async def watched_send(event):
            nonlocal started
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await send_413(send, limit)
