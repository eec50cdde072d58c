"""The one authentication backend: django-axes' lockout check, then Django's password check.

One backend (not axes' plus ModelBackend) so that `login(request, user)` after sign-up needs no
backend argument. Sign-in forms (the site's and the admin's) always pass the request; code
that authenticates without one (a test client's login, a management command) is not a client
to throttle, so it skips the lockout check instead of failing. (With single sign-on on, the
SSO backend comes second and sign-up passes this one to `login` by name.)
"""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class ThrottledModelBackend(AxesStandaloneBackend, ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is not None:
            # Raises (and so refuses the sign-in) when this username or client is locked out.
            AxesStandaloneBackend.authenticate(self, request, username, password, **kwargs)
        user = ModelBackend.authenticate(self, request, username, password, **kwargs)
        if user is not None and not (settings.PASSWORD_LOGIN or user.is_superuser):
            return None  # PASSWORD_LOGIN=false: passwords only for superusers (break glass)
        return user


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets (AXES_LOCKOUT_CALLABLE): what happened, how long."""
    from django.conf import settings
    from django.shortcuts import render

    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
