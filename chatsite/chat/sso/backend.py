"""The single sign-on backend: mozilla-django-oidc's code flow (PKCE, state, nonce, the token
request) with our own ID token verification and our own way of finding people.

The library checks the signature and `exp` but not `aud` or `iss` (it decodes with
verify_aud off), so `verify_token` is ours: PyJWT against the provider's JWKS, with the
audience, issuer, expiry and nonce all required. People are found by (issuer, sub) through
SignInIdentity, never by e-mail.
"""

from __future__ import annotations

import re

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from ..models import Invite, SignInIdentity
from . import discovery
from .refusals import (
    BAD_NONCE,
    BAD_SIGNATURE,
    EXPIRED,
    MALFORMED,
    UNKNOWN_KEY,
    WRONG_AUDIENCE,
    WRONG_ISSUER,
    WRONG_SUBJECT,
    NotVerified,
    SignInRefused,
)

INVITE_SESSION_KEY = "sso_invite"
LEEWAY_SECONDS = 30  # clocks drift a little between us and the provider


class SignInBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs):
        # Not the library's __init__: Django builds backends for every request's get_user, and
        # endpoints come from discovery, which is fetched only when someone signs in.
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO

    def authenticate(self, request, **kwargs):
        # Only the callback (which passes the nonce) signs in here; a password form never does.
        if request is None or "nonce" not in kwargs or not settings.OIDC_ENABLED:
            return None
        self.OIDC_OP_TOKEN_ENDPOINT = discovery.configuration()["token_endpoint"]
        self.OIDC_OP_USER_ENDPOINT = discovery.endpoint("userinfo_endpoint")
        return super().authenticate(request, **kwargs)

    # --- the ID token ----------------------------------------------------------------------

    def verify_token(self, token, **kwargs):
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise NotVerified(MALFORMED)
        algorithm = header.get("alg")
        if algorithm != self.OIDC_RP_SIGN_ALGO:  # never "none", never an HMAC of a public key
            raise NotVerified(MALFORMED)
        try:
            claims = jwt.decode(
                token,
                self._public_key(header),
                algorithms=[algorithm],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise NotVerified(EXPIRED)
        except jwt.InvalidAudienceError:
            raise NotVerified(WRONG_AUDIENCE)
        except jwt.InvalidIssuerError:
            raise NotVerified(WRONG_ISSUER)
        except jwt.InvalidSignatureError:
            raise NotVerified(BAD_SIGNATURE)
        except jwt.PyJWTError:
            raise NotVerified(MALFORMED)
        audience = claims["aud"]
        several = isinstance(audience, list) and len(audience) > 1
        if several and claims.get("azp") != self.OIDC_RP_CLIENT_ID:  # OIDC Core 3.1.3.7
            raise NotVerified(WRONG_AUDIENCE)
        nonce = kwargs.get("nonce")
        if settings.OIDC_USE_NONCE and not (
            isinstance(nonce, str) and constant_time_compare(str(claims.get("nonce", "")), nonce)
        ):
            raise NotVerified(BAD_NONCE)
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise NotVerified(MALFORMED)
        return claims

    def _public_key(self, header: dict):
        kid = header.get("kid")
        for fresh in (False, True):  # once more after a key rotation
            keys = [k for k in discovery.signing_keys(fresh=fresh) if isinstance(k, dict)]
            usable = [k for k in keys if k.get("use", "sig") == "sig"]
            found = [k for k in usable if k.get("kid") == kid] if kid else usable[:1]
            if found:
                try:
                    return jwt.PyJWK(found[0], algorithm=header["alg"]).key
                except jwt.PyJWTError:
                    raise NotVerified(MALFORMED)
        raise NotVerified(UNKNOWN_KEY)

    # --- who it is -------------------------------------------------------------------------

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, completed by the userinfo endpoint (groups often live there)."""
        claims = dict(payload)
        if not self.OIDC_OP_USER_ENDPOINT or not access_token:
            return claims
        info = discovery.get_json(
            self.OIDC_OP_USER_ENDPOINT, headers={"Authorization": f"Bearer {access_token}"}
        )
        if info.get("sub") != payload["sub"]:
            raise NotVerified(WRONG_SUBJECT)  # OIDC Core 5.3.2: it must be the same person
        return {**info, **payload}  # the signed token wins where both speak

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        email = _verified_email(claims)
        check_domain(email)
        identity = (
            SignInIdentity.objects.select_related("user")
            .filter(issuer=settings.OIDC_ISSUER, subject=payload["sub"])
            .first()
        )
        if identity is None:
            identity = self._new_person(claims, email)
        user = identity.user
        if not user.is_active:
            raise SignInRefused(_("This account is turned off. Ask an admin."))
        apply_groups(user, claims)
        identity.email = email
        identity.last_sign_in = timezone.now()
        identity.save(update_fields=["email", "last_sign_in"])
        return user

    def _new_person(self, claims: dict, email: str) -> SignInIdentity:
        """A new account, when open sign-up is on or this browser came through an invite link."""
        token = self.request.session.get(INVITE_SESSION_KEY)
        invite = Invite.objects.filter(token=token).first() if token else None
        if invite is not None and not invite.usable:
            invite = None
        if invite is None and not settings.ALLOW_SIGNUP:
            raise SignInRefused(
                _("There is no account here for you yet. Ask an admin for an invite link.")
            )
        try:
            with transaction.atomic():
                user = self.UserModel.objects.create_user(
                    unique_username(claims, email),
                    email=email,
                    first_name=str(claims.get("given_name", ""))[:150],
                    last_name=str(claims.get("family_name", ""))[:150],
                )  # no password: an unusable one, so only the provider signs this person in
                identity = SignInIdentity.objects.create(
                    user=user, issuer=settings.OIDC_ISSUER, subject=claims["sub"], email=email
                )
                if invite is not None:
                    claimed = Invite.objects.filter(pk=invite.pk, used_by=None).update(used_by=user)
                    if not claimed:
                        raise SignInRefused(_("This invite link was already used."))
        except IntegrityError:  # the same person's first sign-in, twice at once
            identity = SignInIdentity.objects.select_related("user").get(
                issuer=settings.OIDC_ISSUER, subject=claims["sub"]
            )
        self.request.session.pop(INVITE_SESSION_KEY, None)
        return identity


def _verified_email(claims: dict) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return ""
    if claims.get("email_verified") is False:  # unverified: not proof of the domain
        return ""
    return email.strip()


def check_domain(email: str) -> None:
    allowed = settings.OIDC_ALLOWED_DOMAINS
    if not allowed:
        return
    domain = email.rpartition("@")[2].lower()
    if not email or domain not in allowed:
        raise SignInRefused(_("Your e-mail domain is not allowed here."))


def _groups(claims: dict) -> set[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return set()
    # Keycloak may send full paths ("/chat-admins").
    return {str(group).strip("/") for group in value}


def apply_groups(user, claims: dict) -> None:
    """Staff and superuser follow the provider's groups, looked at on every sign-in."""
    admin_group, staff_group = settings.OIDC_ADMIN_GROUP, settings.OIDC_STAFF_GROUP
    if not admin_group and not staff_group:
        return  # left to the admins of this site
    groups = _groups(claims)
    admin = bool(admin_group) and admin_group.strip("/") in groups
    staff = admin or (bool(staff_group) and staff_group.strip("/") in groups)
    if (user.is_superuser, user.is_staff) != (admin, staff):
        user.is_superuser, user.is_staff = admin, staff
        user.save(update_fields=["is_superuser", "is_staff"])


def unique_username(claims: dict, email: str) -> str:
    """From preferred_username or the e-mail's local part; "-2", "-3"... when taken."""
    raw = str(claims.get("preferred_username") or email).partition("@")[0]  # UPNs are e-mails
    base = re.sub(r"[^\w.+-]", "", raw)[:140] or "member"
    users = get_user_model().objects
    name, n = base, 1
    while users.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name
