"""Websockets are accepted only from the app's own origin (or a CSRF_TRUSTED_ORIGINS entry).

Channels' AllowedHostsOriginValidator accepts any scheme and port of an allowed host, and the
SameSite=Lax session cookie rides along with a socket opened by a page on another port of the
same host: that page could read every transcript. Here the origin must be exactly the socket's
own (scheme from ws/wss, host and port from the Host header, which must be an allowed host),
as Django's CSRF check demands of a form post.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the default port filled in, or None if it does not parse."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return scheme, parts.hostname.lower(), port


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def own_origin(scope) -> tuple[str, str, int] | None:
    """The app's origin as this socket reached it: ws → http, wss → https, and its Host."""
    host = _header(scope, b"host")
    if settings.USE_X_FORWARDED_HOST:
        host = (_header(scope, b"x-forwarded-host") or "").split(",")[0].strip() or host
    if not host or not validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme", "ws") in ("wss", "https") else "http"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:  # the proxy terminates TLS and says so, as Django's request.is_secure() trusts
        header, secure_value = proxy
        name = header.removeprefix("HTTP_").replace("_", "-").lower().encode()
        value = _header(scope, name)
        if value is not None:
            scheme = "https" if value.split(",")[0].strip() == secure_value else "http"
    return _origin(scheme, host)


def trusted(origin: tuple[str, str, int]) -> bool:
    """Whether a CSRF_TRUSTED_ORIGINS entry names this origin (with Django's `*.` wildcards)."""
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        try:
            parts = urlsplit(entry)
            entry_port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError:
            continue
        pattern = (parts.hostname or "").lower()
        if pattern.startswith("*."):
            pattern = pattern[1:]  # Django's ".example.com": the domain and its subdomains
        if parts.scheme.lower() == scheme and entry_port == port and is_same_domain(host, pattern):
            return True
    return False


def allowed(scope) -> bool:
    header = _header(scope, b"origin")
    if not header:
        return False  # browsers always send one on a websocket
    parts = urlsplit(header)
    origin = _origin(parts.scheme.lower(), parts.netloc) if parts.scheme in DEFAULT_PORTS else None
    if origin is None:
        return False
    return origin == own_origin(scope) or trusted(origin)


class SameOriginValidator:
    """ASGI middleware for websockets: deny (403 on the handshake) any other origin."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
