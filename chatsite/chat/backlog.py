"""How many bytes a socket has written that its peer has not taken yet.

Daphne writes every websocket message straight into the connection's Twisted transport, which
buffers without limit: a peer that never reads makes the server grow. ASGI gives the app no
way to see that buffer, so we find it: daphne hands the app `partial(server.handle_reply,
protocol)` as `send` (middleware may wrap it in bound methods that keep it as `real_send`), and
the protocol's transport counts what is still unsent. Anywhere else (the test communicator)
the answer is 0 and the hub's own queue bound still applies.
"""

from __future__ import annotations

import functools
import struct

try:
    import fcntl
    import termios

    _OUTQ: int | None = termios.TIOCOUTQ  # == SIOCOUTQ for a TCP socket
except (ImportError, AttributeError):  # not Linux/Unix: Twisted's own buffer only
    _OUTQ = None
_INT = struct.Struct("i")
_ZERO = bytes(_INT.size)

_WRAPPED = ("real_send", "send", "_send", "inner_send")


def transport_of(send, depth: int = 8):
    """The Twisted transport under an ASGI `send` callable, or None."""
    for _ in range(depth):
        if send is None:
            return None
        if isinstance(send, functools.partial):
            for arg in send.args:
                transport = getattr(arg, "transport", None)
                if transport is not None and hasattr(transport, "dataBuffer"):
                    return transport
            send = send.func
            continue
        owner = getattr(send, "__self__", None)
        if owner is None:
            return None
        inner = None
        for name in _WRAPPED:
            candidate = getattr(owner, name, None)
            if callable(candidate) and candidate != send:
                inner = candidate
                break
        send = inner
    return None


def pending_bytes(transport, within: int | None = None) -> int:
    """Bytes written to a Twisted TCP transport that the peer has not taken yet: what Twisted
    still holds, and what the kernel holds for the socket (chatsite/write_now.py hands frames
    to the kernel at once, so a stalled peer's backlog sits there first, up to the kernel's
    send buffer: megabytes on loopback).

    With `within`, on a transport whose writes are counted (write_now.install), an upper bound
    is returned while it is at most `within`: what was pending when the kernel was last asked
    plus every byte written since (the backlog can grow by no more). A socket that keeps up
    then costs no system call per frame (the ioctl was 3-6 % of the relay's CPU, issue 16);
    the kernel is asked again only when the bound nears the caller's limit."""
    written = getattr(transport, "chatsite_written", None)
    if within is not None and written is not None:
        bound = transport.chatsite_backlog + written - transport.chatsite_measured_at
        if bound <= within:
            return int(bound)
    held = held_by_twisted(transport)
    if held is None:
        return 0
    exact = held + kernel_queued(transport)
    if written is not None:
        transport.chatsite_backlog, transport.chatsite_measured_at = exact, written
    return exact


def held_by_twisted(transport) -> int | None:
    """Bytes a Twisted TCP transport holds that it has not handed to the kernel yet; None for
    anything else (no transport; TLS in daphne itself: unbounded, as before)."""
    try:
        return int(len(transport.dataBuffer) - transport.offset + transport._tempDataLen)
    except (AttributeError, TypeError):
        return None


def kernel_queued(transport) -> int:
    """Bytes in the socket's send queue not yet acknowledged by the peer (Linux's SIOCOUTQ;
    0 where that cannot be asked)."""
    if _OUTQ is None:
        return 0
    try:
        fd = transport.socket.fileno()
        if fd < 0:
            return 0
        return _INT.unpack(fcntl.ioctl(fd, _OUTQ, _ZERO))[0]
    except (AttributeError, OSError, ValueError):
        return 0
