"""Browser tests: the real app under daphne (a subprocess with its own database), the real
emulator, and Debian's chromium driven by Playwright. Screenshots go to test-artifacts/."""

import os
import shutil

import pytest

from chatsite.emulator.server import EmulatorServer

from ..servers import (
    PASSWORD,
    ROOT,
    AppProcess,
    app_env,
    fresh_postgres_database,
    manage,
    set_up_site,
)

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if not os.path.exists(CHROMIUM):
                item.add_marker(pytest.mark.skip(reason="Debian's chromium is not installed"))


@pytest.fixture(scope="package")
def browser_emulator():
    # Paced like the real thing, so a person (and a test) can see the reply grow.
    with EmulatorServer(host="127.0.0.1", port=0, pace_ms=25) as server:
        yield server


@pytest.fixture(scope="package")
def server(tmp_path_factory, browser_emulator):
    """The app as `make run` serves it, on a free port, with a database of its own."""
    var = tmp_path_factory.mktemp("var")
    extra = {}
    database = fresh_postgres_database("chatsite_e2e")
    if database:
        extra["DATABASE_URL"] = database
    env = app_env(var, browser_emulator.base_url, **extra)
    if not database:
        env.pop("DATABASE_URL", None)
    set_up_site(env)
    app = AppProcess(env, var / "daphne.log")
    yield app
    app.stop()


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_blank_page(browser):
    """new_blank_page(width=1280) → a page on no site yet, in a browser context of its own;
    dialogs and page errors are recorded (`page.problems`) and fail the test. Other keywords go
    to the browser context (e.g. `has_touch=True, is_mobile=True`, `color_scheme="dark"`)."""
    contexts = []

    def make(width=1280, height=860, **options):
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                "Content Security Policy" in msg.text
                and page.problems.append(f"CSP violation: {msg.text}")
            ),
        )
        page.on("dialog", lambda dialog: (page.problems.append(f"dialog: {dialog.message}"),
                                          dialog.dismiss()))  # fmt: skip
        return page

    yield make
    for context in contexts:
        for page in context.pages:
            assert not page.problems, page.problems
        context.close()


@pytest.fixture
def new_page(new_blank_page, server):
    """new_page(user="ada", width=1280) → a signed-in page (see new_blank_page)."""

    def make(user="ada", width=1280, height=860, **options):
        page = new_blank_page(width=width, height=height, **options)
        if user:
            sign_in(page, server, user)
        return page

    return make


def sign_in(page, server, user):
    """Signs `user` in with the password form (in whatever language the page speaks)."""
    page.goto(f"{server.url}/accounts/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{server.url}/")


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


USER_POOL_SIZE = 400


@pytest.fixture(scope="package")
def user_pool(server):
    """People made once per run, in one go (one password hash for all), handed out one per
    test by `fresh_user`: each test gets its own rate limit, sidebar and conversation list."""
    names = [f"tester{n:03d}" for n in range(USER_POOL_SIZE)]
    script = (
        "from django.contrib.auth.hashers import make_password\n"
        "from django.contrib.auth.models import User\n"
        f"digest = make_password({PASSWORD!r})\n"
        f"User.objects.bulk_create([User(username=n, password=digest) for n in {names!r}])"
    )
    manage(server.env, "shell", "-c", script)
    return iter(names)


@pytest.fixture
def fresh_user(user_pool):
    """The name of a person no other test has used (password PASSWORD)."""
    name = next(user_pool, None)
    assert name, "the pool of test users is used up: raise USER_POOL_SIZE"
    return name
