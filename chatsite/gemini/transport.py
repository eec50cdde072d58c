"""A lean asyncio network backend for httpcore, used by `InteractionsClient`.

httpcore's default backend on asyncio is anyio's: every socket read resumes the transport's
reading, waits, and pauses it again (two epoll (un)registrations per read) inside a cancel scope.
A process relaying hundreds of streams spent a large share of its CPU there. This backend keeps a
connection reading into a buffer (paused only when the buffer passes `HIGH_WATER`, so a slow
reader still applies back-pressure), and a read with no timeout is one future and no timer.
Streams have no per-read timeout at all: `stream.Watchdog` enforces theirs.

Exceptions are httpcore's (ConnectError, ReadError, ...), so httpx maps them as it always did.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

__all__ = ["LeanBackend", "lean_transport"]

HIGH_WATER = 256 * 1024  # bytes buffered before the socket stops being read
HOLD_BYTES = 16 * 1024  # a write this small may wait a loop turn to go out with the next


class _Protocol(asyncio.Protocol):
    """Buffers what arrives; wakes one waiting reader; pauses the socket when the buffer fills."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reader: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.paused_reading = False
        self.paused_writing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.paused_reading and self.transport:
            self.paused_reading = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def _wake(self) -> None:
        if self.reader is not None and not self.reader.done():
            self.reader.set_result(None)


class LeanStream(AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._held: bytes | None = None  # a small write waiting for the one after it
        self._flush: asyncio.Handle | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        p = self._protocol
        if not p.buffer and not p.eof:
            waiter = p.reader = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await waiter
                else:
                    async with asyncio.timeout(timeout):
                        await waiter
            except TimeoutError as exc:
                raise httpcore.ReadTimeout(str(exc)) from exc
            finally:
                p.reader = None
        if p.buffer:
            data = bytes(p.buffer[:max_bytes])
            del p.buffer[:max_bytes]
            if p.paused_reading and len(p.buffer) <= HIGH_WATER // 4 and not p.eof:
                p.paused_reading = False
                self._transport.resume_reading()
            return data
        if p.error is not None:
            raise httpcore.ReadError(str(p.error) or type(p.error).__name__) from p.error
        return b""  # end of stream: httpcore treats it as the peer closing

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """httpcore writes a request's head, then its body: two sends, and the API wakes for a
        head it cannot answer yet. A small write waits for the next one until the loop's next
        turn, so a request goes out in one send (issue 16: the first token)."""
        if not buffer:
            return
        p = self._protocol
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        if self._held is not None:
            buffer, self._held = self._held + buffer, None
            if self._flush is not None:
                self._flush.cancel()
        elif len(buffer) <= HOLD_BYTES:
            self._held = buffer
            self._flush = asyncio.get_running_loop().call_soon(self._write_held)
            return
        self._transport.write(buffer)
        if p.paused_writing:
            p.drained = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await p.drained
            except TimeoutError as exc:
                raise httpcore.WriteTimeout(str(exc)) from exc
            finally:
                p.drained = None
            if p.error is not None:
                raise httpcore.WriteError(str(p.error)) from p.error

    def _write_held(self) -> None:
        held, self._held, self._flush = self._held, None, None
        if held and not self._transport.is_closing():
            self._transport.write(held)  # a closed connection fails the read that follows

    async def aclose(self) -> None:
        self._transport.abort()  # never wait for a peer: closing is how a stream is cancelled

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        protocol = _Protocol()
        if self._protocol.buffer:  # nothing may arrive before the handshake; be safe anyway
            raise httpcore.ConnectError("unexpected data before the TLS handshake")
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport,
                    protocol,
                    ssl_context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=timeout,
                )
        except TimeoutError as exc:
            self._transport.abort()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(str(exc)) from exc
        assert isinstance(transport, asyncio.Transport)
        protocol.connection_made(transport)
        return LeanStream(transport, protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle pooled connection that received anything (data, EOF) is unusable.
            return bool(self._protocol.buffer) or self._protocol.eof
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class LeanBackend(AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port, local_addr=local
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
        assert isinstance(transport, asyncio.Transport)
        return LeanStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_Protocol, path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        assert isinstance(transport, asyncio.Transport)
        return LeanStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def lean_transport(
    limits: httpx.Limits, verify: ssl.SSLContext | bool = True
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (same TLS verification) on the lean backend. Like any transport
    given to httpx, it ignores HTTP(S)_PROXY: `InteractionsClient` only uses it without them."""
    transport = httpx.AsyncHTTPTransport(limits=limits, verify=verify)
    pool = transport._pool
    # httpx takes no network backend; build its pool again with the same settings and ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=pool._ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=LeanBackend(),
    )
    return transport
