"""Single sign-on in a real browser: chatsite started with OIDC_* in its environment (and
PASSWORD_LOGIN=false), the real provider of tests/oidc_provider/ beside it. Screenshots of the
sign-in page with the provider's button: test-artifacts/sso-signin-<desktop|phone>-<scheme>.png."""

import pytest
from playwright.sync_api import expect

from ..oidc_provider import CLIENT_ID, CLIENT_SECRET, PASSWORD, ProviderProcess
from ..servers import PASSWORD as ADMIN_PASSWORD
from ..servers import AppProcess, app_env, fresh_postgres_database, set_up_site
from .conftest import screenshot

LABEL = "Sign in with Example ID"
WIDTHS = [("desktop", 1280, 860), ("phone", 390, 844)]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    process = ProviderProcess(tmp_path_factory.mktemp("provider"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory, browser_emulator, provider):
    """chatsite as an operator would run it with single sign-on, passwords for admins only."""
    var = tmp_path_factory.mktemp("sso-var")
    extra = {
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_BUTTON_LABEL": LABEL,
        "OIDC_ALLOWED_DOMAINS": "example.com",
        "OIDC_ADMIN_GROUP": "chat-admins",
        "PASSWORD_LOGIN": "false",
        "ALLOW_SIGNUP": "true",
    }
    database = fresh_postgres_database("chatsite_oidc")
    if database:
        extra["DATABASE_URL"] = database
    env = app_env(var, browser_emulator.base_url, **extra)
    if not database:
        env.pop("DATABASE_URL", None)
    set_up_site(env, users=())
    app = AppProcess(env, var / "daphne.log")
    yield app
    app.stop()


def sign_in_at_provider(page, name):
    page.get_by_role("link", name=LABEL).click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Provider username").fill(name)
    page.get_by_label("Provider password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()


def test_a_person_signs_in_through_the_provider_and_out_again(new_blank_page, sso_server):
    page = new_blank_page()
    page.goto(f"{sso_server.url}/accounts/login/")
    sign_in_at_provider(page, "grace")
    page.wait_for_url(f"{sso_server.url}/")
    expect(page.locator("#composer")).to_be_visible()
    expect(page.get_by_text("grace", exact=True).first).to_be_attached()

    page.get_by_role("button", name="Sign out").first.click()
    # Out here, then out at the provider (RP-initiated logout), then back to our sign-in page.
    page.wait_for_url(f"{sso_server.url}/accounts/login/")
    expect(page.get_by_role("link", name=LABEL)).to_be_visible()
    page.goto(f"{sso_server.url}/")
    page.wait_for_url(f"{sso_server.url}/accounts/login/?next=/")


def test_a_person_from_another_domain_is_told_why(new_blank_page, sso_server):
    page = new_blank_page()
    page.goto(f"{sso_server.url}/accounts/login/")
    sign_in_at_provider(page, "eve")
    expect(page.get_by_role("alert")).to_have_text("Your e-mail domain is not allowed here.")
    screenshot(page, "sso-refused-domain")
    page.get_by_role("link", name="Back to sign-in").click()
    expect(page.get_by_role("link", name=LABEL)).to_be_visible()


def test_with_passwords_off_an_administrator_still_signs_in_with_one(new_blank_page, sso_server):
    page = new_blank_page()
    page.goto(f"{sso_server.url}/accounts/login/")
    expect(page.locator("input[name=password]")).to_be_hidden()  # behind the disclosure
    page.get_by_text("Administrator sign-in").click()
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{sso_server.url}/")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("label", "width", "height"), WIDTHS, ids=[w[0] for w in WIDTHS])
def test_screenshots_of_the_sign_in_page_with_the_providers_button(
    new_blank_page, sso_server, label, width, height, scheme
):
    page = new_blank_page(width=width, height=height, color_scheme=scheme)
    page.goto(f"{sso_server.url}/accounts/login/")
    button = page.get_by_role("link", name=LABEL)
    expect(button).to_be_visible()
    disclosure = page.get_by_text("Administrator sign-in")
    # The provider's button comes first, above the (folded) password form.
    assert button.bounding_box()["y"] < disclosure.bounding_box()["y"]
    screenshot(page, f"sso-signin-{label}-{scheme}")
    disclosure.click()
    expect(page.locator("input[name=password]")).to_be_visible()
    screenshot(page, f"sso-signin-admin-{label}-{scheme}")
