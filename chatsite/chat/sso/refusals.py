"""Why a single sign-on was refused, in words the person can act on."""

from django.utils.translation import gettext_lazy as _


class SignInRefused(Exception):
    """The sign-in stops here; `message` is shown on the refusal page."""

    status = 403

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class NotVerified(SignInRefused):
    """The provider's answer could not be trusted (signature, audience, expiry, state...)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class ProviderUnreachable(SignInRefused):
    status = 503


# Why a token is not trusted: the reasons the refusal page names.
WRONG_AUDIENCE = _("the token was issued for another application.")
BAD_SIGNATURE = _("its signature does not match the provider's published keys.")
UNKNOWN_KEY = _("it is signed with a key the provider does not publish.")
EXPIRED = _("the token has expired.")
WRONG_ISSUER = _("the token comes from another issuer.")
BAD_NONCE = _("the token does not belong to this sign-in.")
MALFORMED = _("the token is malformed or incomplete.")
REPLAYED = _("this sign-in link was already used or has expired. Please sign in again.")
WRONG_SUBJECT = _("the provider's profile does not match its token.")
