"""The provider's claims (e-mail, name, groups) and its test-only misbehaviour, through DOT's
documented hooks: get_additional_claims, get_id_token_dictionary, finalize_id_token."""

import base64
import json
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone
from jwcrypto import jwk, jwt
from oauth2_provider.oauth2_validators import OAuth2Validator

from . import mode

# A key the provider never publishes: tokens signed with it must fail verification.
_FOREIGN = jwk.JWK.from_pem(
    rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
)


def _part(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


class Validator(OAuth2Validator):
    oidc_claim_scope = None  # every claim, groups included, whatever the scopes

    def get_additional_claims(self, request):
        user = request.user
        return {
            "email": user.email,
            "email_verified": True,
            "preferred_username": user.username,
            "name": user.get_full_name() or user.username,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expires = super().get_id_token_dictionary(token, token_handler, request)
        if mode.current() == "expired":
            past = timezone.now() - timedelta(hours=1)
            claims["exp"] = int(past.timestamp())
            claims["iat"] = int((past - timedelta(minutes=5)).timestamp())
        return claims, expires

    def finalize_id_token(self, id_token, token, token_handler, request):
        if mode.current() == "wrong_audience":
            id_token["aud"] = "some-other-application"
        serialized = super().finalize_id_token(id_token, token, token_handler, request)
        if mode.current() != "foreign_key":
            return serialized
        # Same header (and so the published key's kid), same claims, another key's signature.
        header, claims, _signature = serialized.split(".")
        forged = jwt.JWT(header=_part(header), claims=json.loads(_part(claims)))
        forged.make_signed_token(_FOREIGN)
        return forged.serialize()
