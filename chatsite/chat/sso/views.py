"""The sign-in start and callback (the library's views, with discovery and clear refusals), and
sign-out, which ends the session (its sockets close through signals.py) and, when the provider
offers it, goes on to the provider's own sign-out (RP-initiated logout)."""

from __future__ import annotations

from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib.auth import logout
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from ..models import Invite
from . import discovery
from .backend import INVITE_SESSION_KEY
from .refusals import REPLAYED, NotVerified, SignInRefused


def refused(request, exc: SignInRefused):
    message = exc.message
    if isinstance(exc, NotVerified):
        message = _("The sign-in could not be verified: %(reason)s") % {"reason": exc.reason}
    return render(request, "registration/sso_refused.html", {"message": message}, status=exc.status)


class Start(OIDCAuthenticationRequestView):
    """/oidc/authenticate/[?invite=<token>][&next=<path>]: off to the provider."""

    def __init__(self, *args, **kwargs):
        # The library reads the authorisation endpoint here; ours comes from discovery in get().
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not set up here.")
        token = request.GET.get("invite", "")
        if token:
            invite = Invite.objects.filter(token=token[:64]).first()
            if invite is None or not invite.usable:
                return render(request, "registration/invite_invalid.html", status=410)
            request.session[INVITE_SESSION_KEY] = invite.token  # read when the account is made
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discovery.configuration()["authorization_endpoint"]
        except SignInRefused as exc:
            return refused(request, exc)
        return super().get(request)


class Callback(OIDCAuthenticationCallbackView):
    """/oidc/callback/: the provider's answer, checked (state, then the library's token
    exchange and our backend's verification); every refusal is a page that says why."""

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not set up here.")
        if "error" in request.GET:
            super().get(request)  # forgets the state; signs nobody in
            error = request.GET.get("error", "")[:60]
            return refused(
                request,
                SignInRefused(
                    _("The provider did not sign you in (%(error)s).") % {"error": error}
                ),
            )
        state = request.GET.get("state")
        if not state or state not in request.session.get("oidc_states", {}):
            # Each state is used once: a replayed or forged callback ends here.
            return refused(request, NotVerified(REPLAYED))
        try:
            return super().get(request)
        except SignInRefused as exc:
            return refused(request, exc)
        except requests.RequestException:  # the library's token request
            return refused(
                request, SignInRefused(_("The provider refused to complete the sign-in."))
            )

    def login_failure(self):
        return refused(self.request, SignInRefused(_("The sign-in did not complete.")))

    def login_success(self):
        response = super().login_success()
        self.request.session.pop(INVITE_SESSION_KEY, None)
        return response


@require_POST
def sign_out(request):
    """End this sign-in; then the provider's too, where it has an end_session_endpoint."""
    id_token = request.session.get("oidc_id_token")
    logout(request)  # user_logged_out: this session's sockets close (signals.py)
    target = reverse(settings.LOGOUT_REDIRECT_URL)
    if not (id_token and settings.OIDC_ENABLED):
        return redirect(target)
    try:
        end_session = discovery.endpoint("end_session_endpoint")
    except SignInRefused:
        end_session = None  # signed out here; the provider can't be told now
    if not end_session:
        return redirect(target)
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": request.build_absolute_uri(target),
            "client_id": settings.OIDC_RP_CLIENT_ID,
        }
    )
    return redirect(f"{end_session}?{query}")
