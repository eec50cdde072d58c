"""Browser tests: the real app under daphne (a subprocess with its own database), the real
emulator, and Debian's chromium driven by Playwright. Screenshots go to test-artifacts/."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatsite.emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
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
PASSWORD = "browser-pass-phrase-7"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if not os.path.exists(CHROMIUM):
                item.add_marker(pytest.mark.skip(reason="Debian's chromium is not installed"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _e2e_database_url() -> str | None:
    """With DATABASE_URL set (CI's PostgreSQL run), the server gets a database of its own."""
    url = os.environ.get("DATABASE_URL")
    if not url or not url.startswith("postgres"):
        return None
    import psycopg

    base, _, _ = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS chatsite_e2e WITH (FORCE)")
        conn.execute("CREATE DATABASE chatsite_e2e")
    return f"{base}/chatsite_e2e"


@pytest.fixture(scope="package")
def browser_emulator():
    # Paced like the real thing, so a person (and a test) can see the reply grow.
    with EmulatorServer(host="127.0.0.1", port=0, pace_ms=25) as server:
        yield server


@pytest.fixture(scope="package")
def server(tmp_path_factory, browser_emulator):
    """The app as `make run` serves it, on a free port."""
    var = tmp_path_factory.mktemp("var")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        CHATSITE_VAR_DIR=str(var),
        GEMINI_API_BASE_URL=browser_emulator.base_url,
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )
    env.pop("GEMINI_API_KEY", None)
    database = _e2e_database_url()
    if database:
        env["DATABASE_URL"] = database
    else:
        env.pop("DATABASE_URL", None)

    def manage(*args):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip

    manage("migrate", "--noinput")
    manage("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com")
    for name in ("ada", "mallory"):
        manage("shell", "-c",
               f"from django.contrib.auth.models import User; "
               f"User.objects.create_user({name!r}, password={PASSWORD!r})")  # fmt: skip

    port = _free_port()
    log = open(var / "daphne.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "chatsite.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((var / "daphne.log").read_text()) from None
            time.sleep(0.1)
    yield type("Server", (), {"url": url, "env": env, "manage": staticmethod(manage)})
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser, server):
    """new_page(user="ada", width=1280) → a signed-in page; dialogs and page errors are recorded
    (`page.problems`) and fail the test."""
    contexts = []

    def make(user="ada", width=1280, height=860):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
        page.on("dialog", lambda dialog: (page.problems.append(f"dialog: {dialog.message}"),
                                          dialog.dismiss()))  # fmt: skip
        if user:
            page.goto(f"{server.url}/accounts/login/")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/")
        return page

    yield make
    for context in contexts:
        for page in context.pages:
            assert not page.problems, page.problems
        context.close()


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
