"""The provider's endpoints and signing keys, from `<OIDC_ISSUER>/.well-known/openid-configuration`.

Fetched with a timeout and cached (an hour) so a sign-in costs no extra round trips; the keys
are fetched again once when a token names a key we have not seen (the provider rotated them).
"""

from __future__ import annotations

import httpx
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from .refusals import ProviderUnreachable

CACHE_SECONDS = 3600
REQUIRED = ("authorization_endpoint", "token_endpoint", "jwks_uri")


def get_json(url: str, headers: dict[str, str] | None = None) -> dict:
    """A JSON object from the provider, or ProviderUnreachable saying why not."""
    try:
        response = httpx.get(
            url, headers=headers, timeout=settings.OIDC_TIMEOUT, follow_redirects=False
        )
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnreachable(
            _("The single sign-on provider cannot be reached right now (%(error)s).")
            % {"error": type(exc).__name__}
        )
    if not isinstance(data, dict):
        raise ProviderUnreachable(_("The single sign-on provider sent an unreadable answer."))
    return data


def configuration() -> dict:
    """The discovery document, checked: its issuer must be ours, its endpoints present."""
    issuer = settings.OIDC_ISSUER
    key = f"oidc:discovery:{issuer}"
    doc = cache.get(key)
    if doc is None:
        doc = get_json(f"{issuer}/.well-known/openid-configuration")
        if str(doc.get("issuer", "")).rstrip("/") != issuer or not all(
            isinstance(doc.get(name), str) for name in REQUIRED
        ):
            raise ProviderUnreachable(
                _("The single sign-on provider's configuration does not match OIDC_ISSUER.")
            )
        cache.set(key, doc, CACHE_SECONDS)
    return doc


def endpoint(name: str) -> str | None:
    value = configuration().get(name)
    return value if isinstance(value, str) else None


def signing_keys(*, fresh: bool = False) -> list[dict]:
    """The provider's published keys (JWKS)."""
    key = f"oidc:jwks:{settings.OIDC_ISSUER}"
    keys = None if fresh else cache.get(key)
    if keys is None:
        keys = get_json(configuration()["jwks_uri"]).get("keys")
        if not isinstance(keys, list):
            raise ProviderUnreachable(_("The single sign-on provider sent an unreadable answer."))
        cache.set(key, keys, CACHE_SECONDS)
    return keys
