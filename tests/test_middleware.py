"""The middleware stack runs on the async path: a sync-only middleware makes Django run it in a
thread and the rest of the stack back on the loop, two thread hops each way on every request
(issue 16: a message posted from the page waited for them before its request left)."""

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", settings.MIDDLEWARE)
def test_every_middleware_runs_on_the_async_path(path):
    middleware = import_string(path)
    assert getattr(middleware, "async_capable", False), f"{path} is sync only"


async def test_static_files_are_still_served_with_their_headers(async_client):
    response = await async_client.get("/static/chatsite/app.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    body = b"".join(response.streaming_content)  # a file's: a sync iterator
    assert b"{" in body and len(body) == int(response["Content-Length"])


async def test_a_path_that_is_not_a_static_file_goes_on_to_the_app(async_client):
    response = await async_client.get("/static/chatsite/no-such-file.css")
    assert response.status_code == 404
    assert (await async_client.get("/healthz")).status_code == 200


@pytest.fixture
def hops(monkeypatch):
    """What each request sends to the thread: (class, method) of every sync_to_async call."""
    from asgiref.sync import SyncToAsync

    seen: list[tuple[str, str]] = []
    call = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        func = self.func
        owner = getattr(func, "__self__", None)
        seen.append(
            (type(owner).__name__ if owner is not None else "", getattr(func, "__name__", ""))
        )
        return await call(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    return seen


@pytest.mark.django_db(transaction=True)
async def test_hooks_that_do_no_io_run_on_the_loop(async_client, user, hops):
    await async_client.aforce_login(user)
    hops.clear()
    assert (await async_client.get("/healthz")).status_code == 200
    inline = {"CSPMiddleware", "LocaleMiddleware", "CommonMiddleware", "AuthenticationMiddleware"}
    assert [h for h in hops if h[0] in inline] == [], hops
    assert ("SessionMiddleware", "process_request") not in hops, hops
    # Django's own middleware kept as it is still goes to the thread: the count is real.
    assert ("SecurityMiddleware", "process_request") in hops, hops
