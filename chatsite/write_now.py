"""Websocket frames leave in the call that sends them, not on the reactor's next turn.

Twisted's TCP `write` only queues: it registers the socket for writability (an epoll change),
and on the loop's next turn `doWrite` sends and unregisters it (another). For a socket that
keeps up, which is nearly all of them, that is two system calls, a loop turn and Twisted's
logging and context wrappers per frame, on every delta of every reply (issue 16: CPU per
relayed delta). `install(transport)` makes a plain TCP transport try the kernel at once while
nothing of its own waits to go (order is kept), and leaves the rest — a partial send, a full
kernel buffer, an error — to Twisted's own write, as before. Anything else (TLS) is left alone.
"""

from __future__ import annotations

from typing import Any

from .chat.backlog import held_by_twisted, pending_bytes


def install(transport: Any) -> bool:
    """Replace this transport's `write` with one that sends at once when it can."""
    try:
        from twisted.internet import tcp
    except ImportError:
        return False
    if type(transport) is not tcp.Server or getattr(transport, "chatsite_write_now", False):
        return False
    queue = transport.write  # Twisted's own, bound
    sock = transport.socket
    # Every byte written is counted, so backlog.pending_bytes can bound what the peer has not
    # taken without asking the kernel per frame; what is pending now is its starting point.
    counted: Any = transport
    counted.chatsite_written = 0
    counted.chatsite_measured_at = 0
    counted.chatsite_backlog = pending_bytes(transport)

    def write(data: bytes) -> None:
        counted.chatsite_written += len(data)
        idle = transport.connected and not transport._writeDisconnected
        if not idle or not data or held_by_twisted(transport):
            return queue(data)
        try:
            sent = sock.send(data)
        except OSError:  # a full buffer; or an error, which Twisted's own send meets again
            sent = 0  # and reports as a lost connection
        if sent < len(data):
            queue(data[sent:])

    def write_sequence(items) -> None:  # Twisted's own would pass the count by
        for data in items:
            write(data)

    # On this one connection only (Twisted's class is left as it is).
    setattr(transport, "write", write)  # noqa: B010 (mypy: a method is replaced on purpose)
    setattr(transport, "writeSequence", write_sequence)  # noqa: B010
    setattr(transport, "chatsite_write_now", True)  # noqa: B010
    return True
