"""Several daphne processes of one site on PostgreSQL and Redis, as a team runs it (used by
tests/test_scale_out.py and tests/browser/test_scale_out_browser.py).

Without PostgreSQL and Redis (DATABASE_URL=postgres://…, REDIS_URL=redis://…, both answering)
the tests that need them skip and say why — unless CHATSITE_REQUIRE_SERVICES=1 (CI's
PostgreSQL + Redis leg), where a missing service is an error.
"""

import asyncio
import functools
import os
import re
import socket
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from .servers import PASSWORD, AppProcess, app_env, fresh_postgres_database, manage

REQUIRE = os.environ.get("CHATSITE_REQUIRE_SERVICES") == "1"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port), 1).close()
        return True
    except OSError:
        return False


def services_or_skip() -> tuple[str, str]:
    """(DATABASE_URL, REDIS_URL) of the PostgreSQL and Redis these tests run on, or skip."""
    database = os.environ.get("DATABASE_URL", "")
    redis = os.environ.get("REDIS_URL", "")
    reason = None
    if not database.startswith("postgres") or not redis.startswith("redis"):
        reason = (
            "needs DATABASE_URL=postgres://… and REDIS_URL=redis://… (CI's second leg sets them)"
        )
    elif not _answers(database):
        reason = f"PostgreSQL at {urlsplit(database).netloc} does not answer"
    elif not _answers(redis):
        reason = f"Redis at {urlsplit(redis).netloc} does not answer"
    if reason:
        if REQUIRE:
            raise RuntimeError(f"CHATSITE_REQUIRE_SERVICES=1, but this {reason}")
        pytest.skip(reason, allow_module_level=True)
    return database, redis


def redis_db(redis_url: str, number: int) -> str:
    """A Redis database of this test module's own, emptied first."""
    import redis as redis_py

    url = f"{redis_url.rsplit('/', 1)[0]}/{number}"
    client = redis_py.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


PEOPLE = tuple(f"person{n:02d}" for n in range(30))


@functools.cache
def _template(database_url: str) -> str:
    """A migrated database with PEOPLE in it (password PASSWORD), made once per run; each site
    starts from a copy, which takes a fraction of what migrating does."""
    import psycopg

    # Its own name when several checkouts run these tests on one PostgreSQL at once.
    name = os.environ.get("CHATSITE_SCALE_TEMPLATE", "chatsite_scale_template")
    env = app_env(Path(tempfile.mkdtemp()), "http://unused.invalid")
    env["DATABASE_URL"] = fresh_postgres_database(name)
    env.pop("REDIS_URL", None)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "-v0")
    script = (
        "from django.contrib.auth.hashers import make_password\n"
        "from django.contrib.auth.models import User\n"
        f"digest = make_password({PASSWORD!r})\n"
        f"User.objects.bulk_create([User(username=n, password=digest) for n in {PEOPLE!r}])"
    )
    manage(env, "shell", "-c", script)
    with psycopg.connect(f"{database_url.rpartition('/')[0]}/postgres", autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    return name


def _copy_of_template(name: str) -> str:
    import psycopg

    database_url, _ = services_or_skip()
    template = _template(database_url)
    base = database_url.rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"{base}/{name}"


@contextmanager
def site(var: Path, name: str, redis_number: int, *, processes: int, upstream=None, **extra):
    """`processes` daphne processes of one site (its own PostgreSQL database and Redis db;
    people PEOPLE). With no `upstream` each process starts its own embedded emulator, as
    `make run` does with no GEMINI_API_KEY; else they share the emulator at that URL."""
    _, redis = services_or_skip()
    env = app_env(
        var,
        upstream or "http://unused.invalid",
        DATABASE_URL=_copy_of_template(name),
        REDIS_URL=redis_db(redis, redis_number),
        **extra,
    )
    if upstream is None:
        env.pop("GEMINI_API_BASE_URL")
    logs = [var / f"{chr(ord('a') + n)}.log" for n in range(processes)]
    with ThreadPoolExecutor(processes) as pool:  # they start side by side
        starting = [pool.submit(AppProcess, env, log) for log in logs]
    apps = [f.result() for f in starting if f.exception() is None]
    try:
        if len(apps) < processes:
            raise next(f.exception() for f in starting if f.exception() is not None)
        yield apps
    finally:
        for app in apps:
            app.stop()


class Person:
    """One person signed in on one process, over HTTP (cookies of their own)."""

    def __init__(self, app, username):
        self.app = app
        self.username = username
        self.http = httpx.AsyncClient(base_url=app.url, follow_redirects=False, timeout=30)

    async def sign_in(self):
        page = await self.http.get("/accounts/login/")
        response = await self.http.post(
            "/accounts/login/",
            data={"username": self.username, "password": PASSWORD, **self._csrf(page)},
            headers={"Referer": f"{self.app.url}/accounts/login/"},
        )
        assert response.status_code == 302, response.text
        return self

    def on(self, app) -> "Person":
        """The same session, talking to another process (the cookie is the site's)."""
        other = Person(app, self.username)
        other.http.cookies = self.http.cookies
        return other

    @staticmethod
    def _csrf(page) -> dict:
        return {"csrfmiddlewaretoken": CSRF.search(page.text).group(1)}

    async def new_conversation(self, text) -> int:
        page = await self.http.get("/")
        response = await self.http.post(
            "/c/new/", data={"message": text, **self._csrf(page)},
            headers={"Referer": f"{self.app.url}/"},
        )  # fmt: skip
        assert response.status_code == 302, response.text
        return int(response.headers["Location"].strip("/").rsplit("/", 1)[1])

    async def send(self, conversation_id, text) -> httpx.Response:
        page = await self.http.get(f"/c/{conversation_id}/")
        return await self.http.post(
            f"/c/{conversation_id}/send/", data={"message": text, **self._csrf(page)},
            headers={"Referer": f"{self.app.url}/c/{conversation_id}/"},
        )  # fmt: skip

    async def post(self, path, referer="/") -> httpx.Response:
        page = await self.http.get(referer)
        return await self.http.post(
            path, data=self._csrf(page), headers={"Referer": f"{self.app.url}{referer}"}
        )

    async def tab(self, conversation_id, *, turns=(), after=0) -> "Tab":
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        ws = await websockets.connect(
            f"ws://127.0.0.1:{self.app.port}/ws/c/{conversation_id}/",
            additional_headers={"Cookie": cookie, "Origin": self.app.url},
            max_queue=None,  # frames a test does not read must not hold up the close
        )
        tab = Tab(ws)
        await tab.send({"action": "resume", "turns": list(turns), "after": after})
        return tab

    async def close(self):
        await self.http.aclose()


class Tab:
    """A websocket the way the page uses it: every frame kept, in order."""

    def __init__(self, ws):
        self.ws = ws
        self.frames: list[str] = []

    async def send(self, payload: dict):
        import json

        await self.ws.send(json.dumps(payload))

    async def read_until(self, predicate, timeout=30.0) -> str:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.ws.recv()
                self.frames.append(frame)
                if predicate(frame):
                    return frame

    async def close(self):
        await self.ws.close()
