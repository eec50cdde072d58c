"""Daphne's side of the body limit: refuse an oversized body while it arrives.

Daphne (through Twisted) reads a request's whole body into a temporary file, and only then
calls the ASGI app with all of it queued in memory; so an ASGI middleware alone sees a 300 MiB
body after it has been stored and copied. `LimitedWebRequest` counts the body as Twisted hands
it over (Content-Length or chunked) and, past the limit of its path, answers 413 at once,
discards the rest and closes the connection. `install()` makes daphne use it; chatsite/asgi.py
calls it, so `daphne chatsite.asgi:application` (make run, bin/start, the tests) is covered.
"""

from __future__ import annotations

from io import BytesIO

from . import body_limit

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
