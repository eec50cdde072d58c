"""Shared fixtures: a real emulator over loopback, users, and websocket clients."""

import json
import os

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings

from chatsite.emulator.server import EmulatorServer

# The in-memory layer and SQLite are the defaults; CI also runs everything on PostgreSQL + Redis.
REQUIRE_SERVICES = os.environ.get("CHATSITE_REQUIRE_SERVICES") == "1"


def pytest_sessionstart(session):
    """The translation catalogs compiled, as `make test` does, for a bare `pytest` too."""
    from chatsite.chat.management.commands.compile_catalogs import compile_all

    compile_all()


def pytest_sessionfinish(session):
    import shutil

    from .servers import STATIC_ROOT

    shutil.rmtree(STATIC_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def emulator():
    """One emulator for the session: real HTTP on a free loopback port, no pacing."""
    server = EmulatorServer(host="127.0.0.1", port=0, pace_ms=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _upstream_is_emulator(emulator, settings):
    settings.GEMINI_API_BASE_URL = emulator.base_url
    settings.GEMINI_API_BASE_URL_SET = True
    settings.GEMINI_API_KEY = ""
    settings.GEMINI_EMULATED = True
    settings.STREAM_FLUSH_MS = 10
    # No title requests unless a test asks (tests/test_conversations.py): tests that look for
    # the emulator's last interaction find their own.
    settings.GEMINI_TITLE_MODEL = ""
    # In-process tests are one process, each test on its own event loop; the cross-process
    # relay is exercised by tests/test_scale_out.py with two real daphne processes.
    settings.CHATSITE_RELAY = False
    # Served from the source folders: in-process tests do not run collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    # Rate-limit counters live in the cache, keyed by user id, and who this process has seen
    # over the rate in memory; ids repeat between tests (rolled back).
    from django.core.cache import cache

    from chatsite.chat import branches, limits, sessions

    cache.clear()
    limits._over_until.clear()
    branches._next.clear()  # keyed by conversation id, which repeats too
    sessions._verified.clear()
    yield


@pytest.fixture
def password():
    return "correct horse battery staple 42"


@pytest.fixture
def make_user(django_user_model, password):
    def make(username="ada", **extra):
        return django_user_model.objects.create_user(username=username, password=password, **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user("ada")


@pytest.fixture
def other_user(make_user):
    return make_user("mallory")


def session_cookie_for(user) -> bytes:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return session_cookie_of(client)


def session_cookie_of(client) -> bytes:
    """A signed-in test client's session, as a browser's Cookie header."""
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


def socket_tab(path: str, cookie: bytes | None = None, *, origin=b"http://localhost") -> "Tab":
    """A tab's websocket on `path` (not yet connected), as a browser on this site opens it."""
    from chatsite.asgi import application

    headers = [(b"host", b"localhost"), (b"origin", origin)]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return Tab(WebsocketCommunicator(application, path, headers=headers))


class Tab:
    """A browser tab's socket on one conversation: collects frames, applies text deltas."""

    def __init__(self, communicator):
        self.ws = communicator
        self.frames: list[str] = []

    async def connect(self):
        connected, code = await self.ws.connect()
        return connected, code

    async def send(self, payload: dict):
        await self.ws.send_to(text_data=json.dumps(payload))

    async def receive(self, timeout=5.0) -> str:
        frame = await self.ws.receive_from(timeout=timeout)
        self.frames.append(frame)
        return frame

    async def receive_until(self, predicate, timeout=10.0):
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.receive(timeout=max(0.01, deadline - loop.time()))
            if predicate(frame):
                return frame

    async def close(self):
        await self.ws.disconnect()


@pytest.fixture
def open_tab():
    """open_tab(user, conversation_id) → a connected Tab (closed at the end of the test)."""
    from asgiref.sync import sync_to_async

    tabs = []

    async def open_(user, conversation_id, *, origin=b"http://localhost", expect_ok=True):
        cookie = None if user is None else await sync_to_async(session_cookie_for)(user)
        tab = socket_tab(f"/ws/c/{conversation_id}/", cookie, origin=origin)
        connected, _ = await tab.connect()
        assert connected is expect_ok
        if connected:
            tabs.append(tab)
        return tab

    yield open_
    # Closing is the test loop's job; communicators left open are cleaned up by channels.


@pytest.fixture
def builtin_tools_on(transactional_db):
    """The built-in function tools switched on, as migration 0005 leaves a new site (a flushed
    test database has lost the migration's rows); only tools switched on are sent and run."""
    from chatsite.chat.models import FunctionTool
    from chatsite.chat.tools import BUILTIN_TOOLS

    for name in BUILTIN_TOOLS:
        FunctionTool.objects.update_or_create(name=name, defaults={"enabled": True})
