"""Migrate the provider's database and add its people and the chatsite client (run once)."""

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402

from . import CLIENT_ID, CLIENT_SECRET, PASSWORD, PEOPLE  # noqa: E402

call_command("migrate", verbosity=0)
for name, (email, groups) in PEOPLE.items():
    user = User.objects.create_user(name, email=email, password=PASSWORD)
    user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
# Loopback redirect URIs match on any port (RFC 8252), so the live servers' ports need no listing.
Application.objects.create(
    name="chatsite",
    client_id=CLIENT_ID,
    client_secret=CLIENT_SECRET,
    hash_client_secret=False,
    client_type=Application.CLIENT_CONFIDENTIAL,
    authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
    redirect_uris="http://testserver/oidc/callback/ http://127.0.0.1/oidc/callback/",
    post_logout_redirect_uris="http://testserver/accounts/login/ http://127.0.0.1/accounts/login/",
    algorithm=Application.RS256_ALGORITHM,
    skip_authorization=True,
)
