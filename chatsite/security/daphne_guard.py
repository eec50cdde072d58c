"""Daphne's side of two limits: a request body's size, and what waits unsent for a websocket.

Bodies: refuse an oversized body while it arrives.

Daphne (through Twisted) reads a request's whole body into a temporary file, and only then
calls the ASGI app with all of it queued in memory; so an ASGI middleware alone sees a 300 MiB
body after it has been stored and copied. `LimitedWebRequest` counts the body as Twisted hands
it over (Content-Length or chunked) and, past the limit of its path, answers 413 at once,
discards the rest and closes the connection. `install()` makes daphne use it; chatsite/asgi.py
calls it, so `daphne chatsite.asgi:application` (make run, bin/start, the tests) is covered.

Websockets: Twisted accepts every write and keeps what the kernel will not take yet, so a
browser that stops reading (a stalled network, a frozen tab) makes the server hold everything
sent to it. `BoundedWebSocketProtocol` looks at that backlog (Twisted's and the kernel's send
queue: chat/backlog.py) before each send and, when the
message would take it past WS_MAX_BUFFER_BYTES, does not send it: it closes the socket with
CLOSE_TOO_SLOW and sends it nothing more (a message larger than the limit on its own still goes
out when nothing waits: an idle reader takes it); autobahn drops the connection (and the
backlog) when the close handshake does not complete within its timeout. The tab reconnects and
catches up from the stored turn.
"""

from __future__ import annotations

import logging
from io import BytesIO

from .. import write_now
from ..chat.backlog import pending_bytes
from . import body_limit

log = logging.getLogger(__name__)

# The same code the app uses for a socket that fell behind (chat.js reconnects on it).
CLOSE_TOO_SLOW = 4408

# After the 413 the rest of the body is read and dropped for a while (a "lingering close"),
# so that closing does not reset the connection before the client has read the answer.
LINGER_SECONDS = 5.0


def _response(limit: int) -> bytes:
    body = body_limit.message(limit)
    head = (
        "HTTP/1.1 413 Content Too Large\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def install() -> None:
    try:
        from daphne import http_protocol
    except ImportError:  # served by another ASGI server: BodyLimit alone applies
        return
    _install_websocket_bound()
    if getattr(http_protocol.WebRequest, "chatsite_body_limit", False):
        return
    from twisted.internet import reactor

    class LimitedWebRequest(http_protocol.WebRequest):
        chatsite_body_limit = True
        _body_refused = False

        def gotLength(self, length):
            # The request line is parsed by now; Twisted keeps its target on the channel.
            target = getattr(self.channel, "_path", b"/")
            self._body_limit = body_limit.limit_for(body_limit.path_of(target))
            self._body_seen = 0
            if length is not None and length > self._body_limit:
                self.content = BytesIO()
                self._refuse()
                return
            super().gotLength(length)

        def handleContentChunk(self, data):
            if self._body_refused:
                return  # dropped while the connection lingers
            self._body_seen += len(data)
            if self._body_seen > self._body_limit:
                self.content.close()
                self.content = BytesIO()
                self._refuse()
                return
            super().handleContentChunk(data)

        def process(self):
            if self._body_refused:
                return None
            return super().process()

        def _refuse(self):
            self._body_refused = True
            transport = self.channel.transport
            transport.write(_response(self._body_limit))
            try:
                transport.loseWriteConnection()
            except AttributeError:
                transport.loseConnection()
                return
            reactor.callLater(LINGER_SECONDS, transport.loseConnection)

    http_protocol.WebRequest = LimitedWebRequest


def _install_websocket_bound() -> None:
    from daphne import ws_protocol
    from django.conf import settings

    if getattr(ws_protocol.WebSocketFactory.protocol, "chatsite_send_bound", False):
        return
    limit = settings.WS_MAX_BUFFER_BYTES

    class BoundedWebSocketProtocol(ws_protocol.WebSocketProtocol):
        chatsite_send_bound = True
        _fell_behind = False

        def onOpen(self):
            super().onOpen()
            write_now.install(self.transport)  # frames leave at once (chatsite/write_now.py)

        def serverSend(self, content, binary=False):
            if self._fell_behind:
                return  # closing: the app may still send until it hears of the disconnect
            backlog = pending_bytes(self.transport, within=limit - len(content))
            # Checked before the write (a text frame is at least len(content) bytes), so the
            # backlog never passes the limit.
            if backlog and backlog + len(content) > limit:
                self._fell_behind = True
                log.info("closing a websocket that stopped reading (%d bytes unsent)", backlog)
                self.sendClose(code=CLOSE_TOO_SLOW, reason="too far behind")
                return
            super().serverSend(content, binary)

    ws_protocol.WebSocketFactory.protocol = BoundedWebSocketProtocol
