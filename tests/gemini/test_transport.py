"""The lean network backend under InteractionsClient: TLS, back-pressure, dropped connections."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chatsite.gemini.transport import lean_transport

from .conftest import Reply, sse_frame

LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=20)
E1 = {"event_type": "step.delta", "event_id": "e1"}


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def tls_server(tmp_path: Path) -> Any:
    """A one-route HTTPS server: answers every request with a short SSE body."""
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    body = sse_frame(E1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    yield f"https://127.0.0.1:{port}", cert
    server.close()


async def test_tls_streams_with_the_servers_certificate_checked(tls_server) -> None:
    url, cert = tls_server
    trusted = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(transport=lean_transport(LIMITS, verify=trusted)) as http:
        response = await http.get(url + "/v1beta/interactions")
    assert response.status_code == 200
    assert response.content == sse_frame(E1)
    assert response.extensions["network_stream"].get_extra_info("ssl_object") is not None


async def test_tls_refuses_an_untrusted_certificate(tls_server) -> None:
    url, _cert = tls_server
    async with httpx.AsyncClient(transport=lean_transport(LIMITS)) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(url)


async def test_a_body_larger_than_the_read_buffer_arrives_whole(server, client) -> None:
    # Several times the backend's high-water mark: reading pauses and resumes on the way.
    big = {"id": "v1_x", "status": "completed", "text": "é🌍x" * 400_000}
    server.script(Reply.json(big))
    assert await client.get("v1_x") == big


async def test_a_pooled_connection_the_server_dropped_is_not_reused() -> None:
    # The server answers with keep-alive, then closes the idle connection: the next request
    # must go out on a new connection, not fail on the dead one.
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        async with httpx.AsyncClient(transport=lean_transport(LIMITS)) as http:
            assert (await http.get(url)).text == "ok"
            await asyncio.sleep(0.3)
            assert (await http.get(url)).text == "ok"
    finally:
        server.close()
    assert connections == 2


@pytest.mark.parametrize("size", [20, 200_000])
async def test_a_request_goes_out_in_one_write_head_and_body(size, monkeypatch) -> None:
    """One send per request: the API does not wake for a head it cannot answer yet."""
    from asyncio import selector_events

    writes: list[bytes] = []
    write = selector_events._SelectorSocketTransport.write

    def recorded(self, data):
        writes.append(bytes(data))
        return write(self, data)

    received = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
        received.set_result(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/interactions"
    body = b"x" * size
    try:
        async with httpx.AsyncClient(transport=lean_transport(LIMITS)) as http:
            monkeypatch.setattr(selector_events._SelectorSocketTransport, "write", recorded)
            response = await http.post(url, content=body)
            monkeypatch.undo()
    finally:
        server.close()
    assert response.text == "ok" and await received == body
    mine = [w for w in writes if w.startswith(b"POST ")]
    assert len(mine) == 1 and mine[0].endswith(b"\r\n\r\n" + body)
