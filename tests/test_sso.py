"""Single sign-on against a real OpenID Connect provider (django-oauth-toolkit in a second Django
process on loopback, tests/oidc_provider/): the code flow with PKCE end to end, and each refusal
with the words a person sees. The provider's tokens are real; where it misbehaves (a wrong
audience, a foreign key, an expired token) it was told to through its test-only switch."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from chatsite.chat.models import Invite, SignInIdentity

from .conftest import session_cookie_of, socket_tab
from .helpers import make_conversation
from .oidc_provider import CLIENT_ID, CLIENT_SECRET, PASSWORD, ProviderProcess
from .servers import free_port
from .test_hardening_sockets import WITHIN, closed_with

BACKENDS = [
    "chatsite.security.auth.ThrottledModelBackend",
    "chatsite.chat.sso.backend.SignInBackend",
]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    process = ProviderProcess(tmp_path_factory.mktemp("provider"))
    yield process
    process.stop()


@pytest.fixture
def sso(provider, settings):
    """Single sign-on on, as OIDC_* in the environment would set it."""
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    settings.OIDC_ALLOWED_DOMAINS = ["example.com"]
    settings.OIDC_ADMIN_GROUP = "chat-admins"
    settings.OIDC_STAFF_GROUP = ""
    settings.ALLOW_SIGNUP = True
    settings.PASSWORD_LOGIN = True
    cache.clear()
    yield provider
    provider.misbehave("normal")


def to_provider(client: Client, provider, name: str, start="/oidc/authenticate/") -> str:
    """Start at chatsite, sign in on the provider's own page as `name` (a browser of its own),
    and return the callback URL the provider sends the browser back with."""
    started = client.get(start)
    assert started.status_code == 302, started.content
    authorize = started["Location"]
    assert authorize.startswith(f"{provider.issuer}/authorize/")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    with httpx.Client(base_url=provider.url) as browser:
        login_page = browser.get(authorize, follow_redirects=True)
        assert "Test identity provider" in login_page.text
        answer = browser.post(
            str(login_page.url),
            data={
                "username": name,
                "password": PASSWORD,
                "csrfmiddlewaretoken": browser.cookies["provider_csrftoken"],
                "next": parse_qs(urlsplit(str(login_page.url)).query)["next"][0],
            },
        )
        assert answer.status_code == 302, answer.text
        back = browser.get(answer.headers["location"])
        assert back.status_code == 302, back.text
        callback = back.headers["location"]
    assert callback.startswith("http://testserver/oidc/callback/?")
    return callback.removeprefix("http://testserver")


def sign_in(client: Client, provider, name: str, **kwargs):
    callback = to_provider(client, provider, name, **kwargs)
    return client.get(callback), callback


def signed_in_as(client: Client):
    page = client.get("/")
    return page.wsgi_request.user if page.status_code == 200 else None


def refusal(response) -> str:
    return response.content.decode()


# --- signing in ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_person_signs_in_through_the_provider_and_their_account_is_made_once(sso):
    client = Client()
    response, _ = sign_in(client, sso, "grace")
    assert response.status_code == 302 and response["Location"] == "/"
    user = signed_in_as(client)
    assert user.username == "grace" and user.email == "grace@example.com"
    assert not user.has_usable_password()  # only the provider signs this person in
    identity = SignInIdentity.objects.get(user=user)
    assert identity.issuer == sso.issuer and identity.subject
    assert client.get("/accounts/settings/").status_code == 200

    again = Client()
    sign_in(again, sso, "grace")
    assert signed_in_as(again) == user
    assert User.objects.filter(email="grace@example.com").count() == 1


@pytest.mark.django_db
def test_people_are_matched_by_the_providers_subject_never_by_email(sso):
    local = User.objects.create_user("grace", email="grace@example.com", password="x-long-pass-1")
    client = Client()
    sign_in(client, sso, "grace")
    user = signed_in_as(client)
    assert user != local and user.username == "grace-2"
    assert not user.is_superuser


@pytest.mark.django_db
def test_the_sign_in_returns_to_the_page_that_asked_for_it(sso):
    client = Client()
    response, _ = sign_in(client, sso, "grace", start="/oidc/authenticate/?next=/c/")
    assert response["Location"] == "/c/"


@pytest.mark.django_db
def test_a_member_of_the_admin_group_is_made_superuser_and_that_is_looked_at_each_sign_in(
    sso, settings
):
    client = Client()
    sign_in(client, sso, "linus")
    linus = signed_in_as(client)
    assert linus.is_superuser and linus.is_staff
    assert client.get("/admin/").status_code == 200
    assert "linus@example.com" in client.get("/admin/chat/signinidentity/").content.decode()

    plain = Client()
    sign_in(plain, sso, "grace")
    grace = signed_in_as(plain)
    assert not grace.is_superuser and not grace.is_staff

    settings.OIDC_ADMIN_GROUP = "some-other-group"  # the provider's groups changed
    sign_in(Client(), sso, "linus")
    linus.refresh_from_db()
    assert not linus.is_superuser and not linus.is_staff


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("wrong_audience", "the token was issued for another application."),
        ("foreign_key", "its signature does not match the provider&#x27;s published keys."),
        ("expired", "the token has expired."),
    ],
)
def test_an_id_token_that_does_not_verify_is_refused_and_signs_nobody_in(sso, mode, reason):
    sso.misbehave(mode)
    client = Client()
    response, _ = sign_in(client, sso, "grace")
    assert response.status_code == 403
    assert f"The sign-in could not be verified: {reason}" in refusal(response)
    assert signed_in_as(client) is None
    assert not User.objects.filter(email="grace@example.com").exists()


@pytest.mark.django_db
def test_a_replayed_callback_is_refused(sso):
    client = Client()
    first, callback = sign_in(client, sso, "grace")
    assert first.status_code == 302
    again = client.get(callback)
    assert again.status_code == 403
    assert "this sign-in link was already used or has expired" in refusal(again)

    stranger = Client()  # someone who caught the URL, in a browser of their own
    stolen = stranger.get(callback)
    assert stolen.status_code == 403
    assert signed_in_as(stranger) is None


@pytest.mark.django_db
def test_a_disallowed_email_domain_is_refused(sso):
    client = Client()
    response, _ = sign_in(client, sso, "eve")
    assert response.status_code == 403
    assert "Your e-mail domain is not allowed here." in refusal(response)
    assert signed_in_as(client) is None
    assert not SignInIdentity.objects.exists()


@pytest.mark.django_db
def test_an_unreachable_provider_is_said_so(sso, settings):
    settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}/o"
    response = Client().get("/oidc/authenticate/")
    assert response.status_code == 503
    assert "The single sign-on provider cannot be reached right now" in refusal(response)


@pytest.mark.django_db
def test_a_provider_that_names_another_issuer_is_not_trusted(sso, settings):
    # The same provider reached by another name: its discovery document names 127.0.0.1.
    settings.OIDC_ISSUER = sso.issuer.replace("127.0.0.1", "localhost")
    response = Client().get("/oidc/authenticate/")
    assert response.status_code == 503
    assert "configuration does not match OIDC_ISSUER" in refusal(response)


@pytest.mark.django_db
def test_without_open_sign_up_only_an_invite_makes_an_account(sso, settings, user):
    settings.ALLOW_SIGNUP = False
    refused, _ = sign_in(Client(), sso, "ken")
    assert refused.status_code == 403
    assert "There is no account here for you yet. Ask an admin for an invite link." in refusal(
        refused
    )
    assert not User.objects.filter(username="ken").exists()

    invite = Invite.objects.create(created_by=user, expires_at="2999-01-01T00:00Z")
    client = Client()
    page = client.get(invite.get_absolute_url())
    start = f"/oidc/authenticate/?invite={invite.token}"
    assert start in page.content.decode().replace("&amp;", "&")
    response, _ = sign_in(client, sso, "ken", start=start)
    assert response.status_code == 302
    ken = signed_in_as(client)
    assert ken.username == "ken"
    invite.refresh_from_db()
    assert invite.used_by == ken

    used = Client()  # the link is spent
    assert used.get(start).status_code == 410


@pytest.mark.django_db
def test_a_provider_that_says_no_is_reported_and_signs_nobody_in(sso):
    client = Client()
    started = client.get("/oidc/authenticate/")
    state = parse_qs(urlsplit(started["Location"]).query)["state"][0]
    # What a provider sends back when the person declines (RFC 6749 4.1.2.1).
    response = client.get(f"/oidc/callback/?error=access_denied&state={state}")
    assert response.status_code == 403
    assert "The provider did not sign you in (access_denied)." in refusal(response)
    assert signed_in_as(client) is None


# --- the sign-in page and passwords -------------------------------------------------------


@pytest.mark.django_db
def test_the_sign_in_page_offers_the_provider_first(sso, settings):
    settings.OIDC_BUTTON_LABEL = "Sign in with Example SSO"
    page = Client().get("/accounts/login/").content.decode()
    assert 'href="/oidc/authenticate/"' in page
    assert page.index("Sign in with Example SSO") < page.index('name="password"')


@pytest.mark.django_db
def test_without_single_sign_on_the_page_has_no_provider_button(settings):
    settings.OIDC_ENABLED = False
    page = Client().get("/accounts/login/").content.decode()
    assert "/oidc/authenticate/" not in page and 'name="password"' in page
    assert Client().get("/oidc/authenticate/").status_code == 404


@pytest.mark.django_db
def test_with_password_login_off_only_a_superuser_signs_in_with_a_password(
    sso, settings, make_user, password
):
    settings.PASSWORD_LOGIN = False
    make_user("ada")
    make_user("root", is_superuser=True, is_staff=True)

    client = Client()
    page = client.get("/accounts/login/").content.decode()
    assert "Administrator sign-in" in page
    refused = client.post("/accounts/login/", {"username": "ada", "password": password})
    assert refused.status_code == 200
    assert "Password sign-in is only for administrators here" in refused.content.decode()
    assert signed_in_as(client) is None

    signed = client.post("/accounts/login/", {"username": "root", "password": password})
    assert signed.status_code == 302
    assert signed_in_as(client).username == "root"

    assert Client().get("/accounts/signup/").status_code == 404
    invite = Invite.objects.create(created_by=User.objects.get(username="root"),
                                   expires_at="2999-01-01T00:00Z")  # fmt: skip
    by_invite = Client().get(invite.get_absolute_url()).content.decode()
    assert f"/oidc/authenticate/?invite={invite.token}" in by_invite
    assert 'name="password1"' not in by_invite  # the invite is taken up through the provider


@pytest.mark.django_db
def test_a_password_sign_in_signs_out_here_only(sso, user, password):
    client = Client()
    assert (
        client.post("/accounts/login/", {"username": "ada", "password": password}).status_code
        == 302
    )
    out = client.post("/accounts/logout/")
    assert out["Location"] == "/accounts/login/"
    assert signed_in_as(client) is None


# --- signing out --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_signing_out_closes_the_sockets_and_signs_out_at_the_provider(sso):
    client = Client()
    await sync_to_async(sign_in)(client, sso, "grace")
    user = await sync_to_async(signed_in_as)(client)
    convo = await make_conversation(user)
    tab = socket_tab(f"/ws/c/{convo.pk}/", session_cookie_of(client))
    assert (await tab.connect())[0]

    out = await sync_to_async(client.post)("/accounts/logout/")
    assert await closed_with(tab, WITHIN) == 4401
    end_session = out["Location"]
    assert end_session.startswith(f"{sso.issuer}/logout/?")
    query = parse_qs(urlsplit(end_session).query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert query["id_token_hint"][0].count(".") == 2
    # The provider takes the hint and sends the browser back to our sign-in page.
    back = await sync_to_async(httpx.get)(end_session)
    assert back.status_code == 302
    assert back.headers["location"] == "http://testserver/accounts/login/"
    assert await sync_to_async(signed_in_as)(client) is None


@pytest.mark.django_db
def test_refusals_speak_the_browsers_language(sso):
    sso.misbehave("expired")
    client = Client(headers={"Accept-Language": "it"})
    response, _ = sign_in(client, sso, "grace")
    assert response.status_code == 403
    assert "Non è stato possibile verificare l&#x27;accesso: il token è scaduto." in refusal(
        response
    )


def test_logs_never_carry_the_client_secret(settings):
    import logging

    from chatsite.logs import RedactSecrets

    settings.OIDC_RP_CLIENT_SECRET = "the-sso-client-secret-42"
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "token request %s", ("the-sso-client-secret-42",), None
    )
    RedactSecrets().filter(record)
    assert "the-sso-client-secret" not in record.getMessage()


@pytest.mark.django_db
def test_password_sign_up_still_signs_in_beside_single_sign_on(sso):
    # Two backends now: sign-up must name the one it signed the person in with.
    client = Client()
    new = "a pass phrase long enough 31"
    response = client.post(
        "/accounts/signup/", {"username": "newcomer", "password1": new, "password2": new}
    )
    assert response.status_code == 302
    assert signed_in_as(client).username == "newcomer"
