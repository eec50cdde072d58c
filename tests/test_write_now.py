"""Websocket frames leave in the call that sends them (chatsite/write_now.py), on a real
loopback TCP connection held by Twisted's own transport; the reactor is real but not run, so
whatever Twisted left for its next turn is still waiting when the test looks."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import protocol, selectreactor, tcp

from chatsite import write_now
from chatsite.chat import backlog
from chatsite.chat.backlog import held_by_twisted, pending_bytes


@pytest.fixture
def connection():
    """(Twisted's server-side transport, the peer's socket, the reactor)."""
    yield from _connection()


@pytest.fixture
def stalled():
    """The same, with a peer that reads nothing and takes little (a frozen tab)."""
    yield from _connection(receive_buffer=4096)


def _connection(receive_buffer: int | None = None):
    listener = socket.create_server(("127.0.0.1", 0))
    peer = socket.socket()
    if receive_buffer:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    peer.connect(listener.getsockname())
    accepted, address = listener.accept()
    listener.close()
    accepted.setblocking(False)
    peer.settimeout(5)
    reactor = selectreactor.SelectReactor()
    transport = tcp.Server(accepted, protocol.Protocol(), address, None, 1, reactor)
    yield transport, peer, reactor
    reactor.removeAll()
    accepted.close()
    peer.close()


def read_exactly(peer: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = peer.recv(n - len(got))
        assert chunk, "the connection closed early"
        got += chunk
    return got


def test_a_frame_to_a_socket_that_keeps_up_leaves_in_the_same_call(connection):
    transport, peer, reactor = connection
    assert write_now.install(transport)
    transport.write(b"frame one")
    assert read_exactly(peer, 9) == b"frame one"  # no reactor turn ran
    assert transport not in reactor.getWriters()  # nor was one asked for


def test_without_it_twisted_waits_for_the_reactor(connection):
    """What the module changes: Twisted's own write only queues and asks for a turn."""
    transport, peer, reactor = connection
    transport.write(b"frame one")
    assert transport in reactor.getWriters()
    assert pending_bytes(transport) == 9
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(9)


def test_what_the_kernel_will_not_take_waits_and_keeps_its_order(connection):
    transport, peer, reactor = connection
    write_now.install(transport)
    big = bytes(range(256)) * (32 * 1024)  # 8 MiB: more than loopback's buffers hold
    transport.write(big)
    assert transport in reactor.getWriters()  # the rest waits for Twisted, as before
    assert 0 < pending_bytes(transport) < len(big)
    transport.write(b"tail")  # behind what waits, not ahead of it
    received = b""
    while len(received) < len(big) + 4:
        received += peer.recv(1 << 20)
        if pending_bytes(transport):
            transport.doWrite()
    assert received == big + b"tail"
    assert pending_bytes(transport) == 0
    assert transport not in reactor.getWriters()


def test_what_a_stalled_peer_has_not_taken_counts_in_the_kernel_too(stalled):
    """Frames now wait in the kernel first (megabytes on loopback), so the backlog the 2 MiB
    bound reads (hub.py, daphne_guard.py) must count it, or a frozen tab is never closed."""
    transport, peer, reactor = stalled
    write_now.install(transport)
    frame, frames = b"x" * 16384, 256  # 4 MiB in small writes, as a fast reply sends them
    for _ in range(frames):
        transport.write(frame)
    twisted_holds = held_by_twisted(transport)
    taken_by_peer = len(frame) * frames - pending_bytes(transport)
    assert pending_bytes(transport) > twisted_holds  # the kernel's share is counted
    assert 0 <= taken_by_peer < 512 * 1024  # only the peer's small buffer is "taken"


def test_a_write_after_the_peer_is_gone_drops_the_connection_as_twisted_would(connection):
    transport, peer, reactor = connection
    write_now.install(transport)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    peer.close()  # a reset: the next sends fail
    lost = []
    transport.connectionLost = lost.append
    for _ in range(3):
        transport.write(b"x" * 1000)
        if transport in reactor.getWriters():
            result = transport.doWrite()
            if result is not None:
                lost.append(result)
                break
    assert lost, "the failed send was neither raised nor reported as a lost connection"


def test_other_transports_are_left_alone():
    class Tls:  # e.g. Twisted's TLS wrapper when daphne serves https itself
        def write(self, data):
            raise AssertionError("not called")

    other = Tls()
    assert not write_now.install(other)
    assert other.write.__func__ is Tls.write


def test_installing_twice_wraps_once(connection):
    transport, peer, reactor = connection
    assert write_now.install(transport)
    first = transport.write
    assert not write_now.install(transport)
    assert transport.write is first


def counting_kernel_asks(monkeypatch) -> list[int]:
    asks: list[int] = []
    real = backlog.kernel_queued

    def counted(transport):
        asks.append(1)
        return real(transport)

    monkeypatch.setattr(backlog, "kernel_queued", counted)
    return asks


def test_a_socket_that_keeps_up_is_not_asked_of_the_kernel_per_frame(connection, monkeypatch):
    """The 2 MiB bound is checked before every frame; an ioctl each time was 3-6 % of the
    relay's CPU. Below the limit an upper bound kept from the bytes written does."""
    transport, peer, reactor = connection
    write_now.install(transport)
    asks = counting_kernel_asks(monkeypatch)
    frame, limit = b"x" * 100, 2 * 1024 * 1024
    for _ in range(1000):
        assert pending_bytes(transport, within=limit - len(frame)) <= limit - len(frame)
        transport.write(frame)
        read_exactly(peer, len(frame))
    assert asks == []
    pending_bytes(transport)  # asked for the exact figure, it asks
    assert asks == [1]


def test_the_bound_is_never_below_what_a_stalled_peer_has_not_taken(stalled):
    transport, peer, reactor = stalled
    write_now.install(transport)
    frame, within = b"x" * 16384, 1024 * 1024
    answers = []
    for _ in range(160):  # 2.5 MiB, past `within`
        transport.write(frame)
        bound = pending_bytes(transport, within=within)
        assert pending_bytes(transport) <= bound  # the exact figure, asked after it
        answers.append(bound)
    assert answers[-1] > within  # past it, the exact figure is what the caller sees
