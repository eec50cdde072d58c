"""The app's edge: request bodies over the limit are refused while they arrive, websockets come
only from the app's own origin, sign-in is throttled, and pages with conversations are not
stored by browsers or proxies."""

import select
import socket
from datetime import timedelta

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator

from chatsite.chat.models import Conversation

from .servers import AppProcess, app_env

MiB = 1024 * 1024


# -- request bodies ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daphne_app(tmp_path_factory, emulator):
    """The real app under daphne (as make run serves it), on SQLite in a folder of its own."""
    var = tmp_path_factory.mktemp("edge")
    env = app_env(var, emulator.base_url, STATIC_MANIFEST="false")
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    app = AppProcess(env, var / "daphne.log")
    post_chunked(app.port, "/accounts/login/", 4096, chunk=4096)  # warm up: Django loads its views
    yield app
    app.stop()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak since start) of a process, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields


def post_chunked(port: int, path: str, total: int, chunk: int = MiB) -> tuple[bytes, int]:
    """Send a chunked POST of `total` bytes, reading as we go. Returns (what the server
    answered, how many body bytes had been sent when the answer's status line arrived)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    sock.sendall(head.encode())
    piece = f"{chunk:x}\r\n".encode() + b"a" * chunk + b"\r\n"
    answer, sent, sent_at_answer = b"", 0, None
    try:
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if sent_at_answer is None and b"\r\n" in answer:
                    sent_at_answer = sent
                    break
            elif writable:
                sock.sendall(piece)
                sent += chunk
        else:
            sock.sendall(b"0\r\n\r\n")
        sock.settimeout(30)
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        if sent_at_answer is None:
            sent_at_answer = sent
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    return answer, sent if sent_at_answer is None else sent_at_answer


def test_a_chunked_body_over_the_limit_gets_413_before_it_is_all_sent(daphne_app):
    """300 MiB to the sign-in page, no cookie: refused early, never held in memory."""
    pid = daphne_app.proc.pid
    before = memory_kib(pid)
    body = 300 * MiB
    answer, sent = post_chunked(daphne_app.port, "/accounts/login/", body)
    after = memory_kib(pid)

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < body // 2, f"the 413 came only after {sent} of {body} bytes"
    # The peak resident size grew by far less than the body (the limit here is 5 MiB).
    grew = (after["VmHWM"] - before["VmHWM"]) * 1024
    assert grew < 64 * MiB, f"the server grew by {grew / MiB:.0f} MiB"
    assert (after["VmRSS"] - before["VmRSS"]) * 1024 < 64 * MiB


def test_a_declared_length_over_the_limit_is_refused_before_the_body(daphne_app):
    with socket.create_connection(("127.0.0.1", daphne_app.port), timeout=30) as sock:
        sock.sendall(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 1073741824\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer


def test_the_composer_takes_a_body_over_the_form_limit_within_the_upload_limit(
    daphne_app, settings
):
    """The upload path's limit is the attachments' total plus overhead, not the form limit."""
    size = settings.REQUEST_BODY_MAX_BYTES + MiB
    assert size < settings.UPLOAD_BODY_MAX_BYTES
    answer, _ = post_chunked(daphne_app.port, "/c/new/", size)
    assert answer.startswith(b"HTTP/1.1 ") and b" 413 " not in answer.split(b"\r\n")[0], answer
    answer, sent = post_chunked(daphne_app.port, "/c/new/", 4 * settings.UPLOAD_BODY_MAX_BYTES)
    assert answer.startswith(b"HTTP/1.1 413") and sent < 2 * settings.UPLOAD_BODY_MAX_BYTES


async def asgi_post(path: str, chunks: list[bytes], headers=()):
    """Drive the ASGI app itself (as any ASGI server would) with a chunked body."""
    from chatsite.asgi import application

    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
        "headers": [(b"host", b"localhost"), *headers], "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip
    app = ApplicationCommunicator(application, scope)
    for i, chunk in enumerate(chunks):
        await app.send_input(
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        )
    start = await app.receive_output(10)
    body = await app.receive_output(10)
    return start, body


@pytest.mark.django_db
async def test_the_asgi_middleware_counts_chunked_bodies_for_any_server(settings):
    settings.REQUEST_BODY_MAX_BYTES = 1000
    start, body = await asgi_post("/accounts/login/", [b"a" * 600, b"a" * 600, b"a" * 600])
    assert start["status"] == 413 and b"limit here is 1000 bytes" in body["body"]
    start, _ = await asgi_post("/accounts/login/", [b"a"], headers=[(b"content-length", b"5000")])
    assert start["status"] == 413
    start, _ = await asgi_post("/accounts/login/", [b"a" * 500, b"a" * 400])
    assert start["status"] == 403  # within the limit: Django's CSRF check answers


# -- websocket origins ---------------------------------------------------------------------


async def socket_connects(user, conversation_id, origin: bytes, host=b"localhost", scheme=None):
    from asgiref.sync import sync_to_async

    from chatsite.asgi import application

    from .conftest import session_cookie_for

    cookie = await sync_to_async(session_cookie_for)(user)
    headers = [(b"host", host), (b"origin", origin), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, f"/ws/c/{conversation_id}/", headers)
    if scheme:
        communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
async def test_sockets_from_another_port_or_scheme_of_the_same_host_are_refused(user):
    convo = await Conversation.objects.acreate(owner=user, title="Mine", model="m")
    host = b"localhost:8000"
    assert await socket_connects(user, convo.pk, b"http://localhost:8000", host)
    assert not await socket_connects(user, convo.pk, b"http://localhost:8001", host)
    assert not await socket_connects(user, convo.pk, b"https://localhost:8000", host)
    assert not await socket_connects(user, convo.pk, b"http://localhost", host)
    assert not await socket_connects(user, convo.pk, b"null", host)
    # Over TLS the socket's scheme is wss: the page's origin is https, not http.
    assert await socket_connects(user, convo.pk, b"https://localhost:8000", host, "wss")
    assert not await socket_connects(user, convo.pk, b"http://localhost:8000", host, "wss")
    # A Host that is not an allowed host never makes its own origin acceptable.
    assert not await socket_connects(user, convo.pk, b"http://evil.test", b"evil.test")


@pytest.mark.django_db(transaction=True)
async def test_a_csrf_trusted_origin_may_open_sockets(user, settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.example.org"]
    convo = await Conversation.objects.acreate(owner=user, title="Mine", model="m")
    # Behind a TLS proxy the app sees ws://chat.example.com; the page is https://chat.example.com.
    host = b"chat.example.com"
    assert await socket_connects(user, convo.pk, b"https://chat.example.com", host)
    assert await socket_connects(user, convo.pk, b"https://team.example.org", host)
    assert not await socket_connects(user, convo.pk, b"https://chat.example.com:8443", host)
    assert not await socket_connects(user, convo.pk, b"http://team.example.org", host)


# -- sign-in throttling --------------------------------------------------------------------


def sign_in(client, url, username, password):
    return client.post(url, {"username": username, "password": password})


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_many_wrong_passwords_lock_the_account_even_for_the_right_one(
    client, make_user, password, settings, url
):
    make_user("ada", is_staff=True, is_superuser=True)
    for _ in range(settings.AXES_FAILURE_LIMIT + 5):
        sign_in(client, url, "ada", "wrong password")
    response = sign_in(client, url, "ada", password)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page and "Try again in 15 minutes" in page
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_lock_is_per_account_and_per_client(client, make_user, password, settings):
    from django.test import Client

    make_user("ada")
    make_user("grace")
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "/accounts/login/", f"nobody{i}", "wrong password")  # one client
    # The same client, any account: refused.
    assert sign_in(client, "/accounts/login/", "grace", password).status_code == 429
    # Another client, right password: signs in (the lock was on the client, not on grace).
    elsewhere = Client(REMOTE_ADDR="10.0.0.2")
    assert sign_in(elsewhere, "/accounts/login/", "grace", password).status_code == 302
    # One account from many clients: the account locks.
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(REMOTE_ADDR=f"10.1.0.{i}"), "/accounts/login/", "ada", "wrong")
    assert (
        sign_in(Client(REMOTE_ADDR="10.2.0.1"), "/accounts/login/", "ada", password).status_code
        == 429
    )


@pytest.mark.django_db
def test_the_lock_ends_after_the_cool_off(client, make_user, password, settings):
    from axes.models import AccessAttempt

    make_user("ada")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "/accounts/login/", "ada", "wrong password")
    assert sign_in(client, "/accounts/login/", "ada", password).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert sign_in(client, "/accounts/login/", "ada", password).status_code == 302


@pytest.mark.django_db
def test_a_few_wrong_passwords_do_not_lock(client, make_user, password):
    make_user("ada")
    for _ in range(3):
        assert sign_in(client, "/accounts/login/", "ada", "wrong").status_code == 200
    assert sign_in(client, "/accounts/login/", "ada", password).status_code == 302


# -- no caching of conversations -----------------------------------------------------------


@pytest.mark.django_db
def test_pages_that_show_conversations_are_not_stored(client, user, make_user):
    convo = Conversation.objects.create(owner=user, title="Secret plans", model="m")
    client.force_login(user)
    for url in ("/", "/c/", f"/c/{convo.pk}/", f"/c/{convo.pk}/earlier/?before=999999"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    boss = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    admin = "/admin/chat/conversation/"
    for url in (admin, f"{admin}{convo.pk}/change/", f"{admin}{convo.pk}/export.json",
                f"{admin}{convo.pk}/export.md", f"{admin}{convo.pk}/raw/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_static_files_keep_their_own_caching(client):
    response = client.get("/static/chatsite/app.css")
    assert response.status_code == 200 and "no-store" not in response.get("Cache-Control", "")
