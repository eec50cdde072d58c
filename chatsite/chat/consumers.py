"""The conversation socket: thin. It checks ownership and the sign-in (at connect and on every
message), joins the hub, and hands actions to the services layer. It never loops over an
upstream stream."""

import asyncio
import contextlib
import contextvars
import json
import logging
import re
import time

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import aclose_old_connections
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from . import backlog, conversations, language, services, sessions
from .hub import Subscriber, hub

log = logging.getLogger(__name__)

MAX_FRAME_CHARS = 200_000
MAX_RESUME_TURNS = 500
# Daphne refuses to send a websocket message over 1 MiB (it raises, and the frame is lost).
MAX_SEND_BYTES = 1_000_000
# Resumes: a burst for a few quick reconnects, then one every RESUME_EVERY seconds.
RESUME_BURST = 3
RESUME_EVERY = 2.0

CLOSE_FORBIDDEN = 4403
CLOSE_SIGNED_OUT = 4401
# Fell too far behind: chat.js reconnects and resumes from what the tab has. (1013 would say
# so too, but a server may only send 1000 or 3000-4999: autobahn refuses to send 1013.)
CLOSE_TOO_SLOW = 4408

TURN_ID = re.compile(r'\bid="[a-z]+-(\d+)')
CONNECTIONS_CHECK_EVERY = 1.0
_connections_checked = -CONNECTIONS_CHECK_EVERY  # time.monotonic() of the last check


class ConversationConsumer(AsyncWebsocketConsumer):
    # No channel-layer channel of its own: events for all of the person's sockets come
    # through the hub (person_events.py).
    channel_layer = None
    sub: Subscriber | None = None
    _expiry: asyncio.TimerHandle | None = None
    _person_task: asyncio.Task | None = None
    user_id: int | None = None
    _language: str | None = None  # the page's, for frames sent from other tasks

    async def __call__(self, scope, receive, send):
        """Channels' own loop, less its task per source: the socket's messages are the only
        source, read and handled one at a time in this task, as Channels would (an idle socket
        then holds no extra task, list or wait: ~2.6 KiB of each, issue 16 item 4)."""
        self.scope = scope
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            while True:
                await self.dispatch(await receive())

    async def dispatch(self, message):
        """As Channels' own, which first closes the database connections past their age or
        unusable (as Django does at each request) in a trip of its own to the database thread:
        here at most once every CONNECTIONS_CHECK_EVERY seconds in a process, not before every
        message (the trip cost each message's first token ~0.5 ms here; issue 16)."""
        global _connections_checked
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        now = time.monotonic()
        if now - _connections_checked >= CONNECTIONS_CHECK_EVERY:
            _connections_checked = now
            await aclose_old_connections()
        await handler(message)

    async def _speak_the_pages_language(self) -> None:
        """For this socket's whole life (its task, and its person events'): frames and errors
        in the page's language."""
        self._language = await language.for_socket(self.scope)
        translation.activate(self._language)

    async def connect(self):
        await self._speak_the_pages_language()
        self.conversation_id = self.scope["url_route"]["kwargs"]["pk"]
        user = self.scope.get("user")
        if await services.get_conversation(user, self.conversation_id) is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user_id = user.pk
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        self._resume_tokens, self._resume_at = float(RESUME_BURST), time.monotonic()
        await self.accept()
        hub.join_person(self.user_id, self)
        if not await self._session_holds():
            return
        transport = backlog.transport_of(self.base_send)
        self.sub = Subscriber(
            self._send_frame,
            self._too_slow,
            lambda within: backlog.pending_bytes(transport, within),
        )
        hub.join(self.conversation_id, self.sub)
        await hub.relay.ensure_running()

    async def disconnect(self, code):
        if self._expiry is not None:
            self._expiry.cancel()
        if self.sub is not None:
            hub.leave(self.conversation_id, self.sub)
            self.sub = None
        if self.user_id is not None:
            hub.leave_person(self.user_id, self)
        if self._person_task is not None:
            self._person_task.cancel()

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            return await self._error("Messages must be JSON text under 200 kB.")
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):  # deep nesting overflows the parser's stack
            return await self._error("That message was not valid JSON.")
        if not isinstance(message, dict):
            return await self._error("That message was not a JSON object.")
        action = message.get("action")
        if action == "send" and self.sub is not None:
            return await self._send(message.get("message"), _send_id(message.get("id")))
        # Ownership and the sign-in are checked again for every message: an account disabled,
        # a conversation deleted or a session ended since the socket opened loses access at once.
        found, ends = await sync_to_async(self._access)()
        if found is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        conversation = found.conversation
        if not await self._session_holds(ends):
            return
        if self.sub is None:
            return  # closing (fell behind); the browser reconnects and resumes
        if action == "resume":
            await self._resume(conversation, message)
        elif action == "stop":
            await services.stop(conversation)
        else:
            await self._error("Unknown action.")

    async def _send(self, text, send_id: str | None = None) -> None:
        """A message: checked for access like any other, in the same trip to the database as
        its own checks (services.send_on_socket). The page sends an `id` with it: the answer
        to that id, `{"sent": id}` once the message is saved or `{"error": …, "for": id}`, tells
        it to empty the composer or to keep the words (composer.js)."""
        assert self.user_id is not None  # set at connect, before any message
        ends = []

        def access():
            found, until = self._access()
            if found is None:
                raise services.AccessLost(signed_out=False)
            ends.append(until)
            if until is None:
                raise services.AccessLost(signed_out=True)
            return found

        try:
            await services.send_on_socket(self.user_id, text, access)
        except services.AccessLost as lost:
            if not lost.signed_out:
                await self.close(code=CLOSE_FORBIDDEN)
                return
        except (services.InvalidInput, services.LimitReached) as exc:
            await self._error(str(exc), send_id)
        else:
            if send_id is not None:
                await self.send(text_data=json.dumps({"sent": send_id}))
        if ends:  # read in that trip: when the sign-in ends (None: it has, and the socket closes)
            await self._session_holds(ends[0])

    def _may_resume(self) -> bool:
        """A token bucket: each resume renders up to a few hundred turns."""
        now = time.monotonic()
        self._resume_tokens = min(
            RESUME_BURST, self._resume_tokens + (now - self._resume_at) / RESUME_EVERY
        )
        self._resume_at = now
        if self._resume_tokens < 1:
            return False
        self._resume_tokens -= 1
        return True

    async def _resume(self, conversation, message):
        turns = message.get("turns") or []
        after = message.get("after") or 0
        if (
            not isinstance(turns, list)
            or len(turns) > MAX_RESUME_TURNS
            or not all(isinstance(t, int) for t in turns)
            or not isinstance(after, int)
        ):
            return await self._error("Bad resume message.")
        if not self._may_resume():
            return await self._error("Too many resume requests; wait a moment and reload.")
        await services.catch_up(conversation, self.sub, turns, after)

    # -- the sign-in -------------------------------------------------------------------------
    def _access(self):
        """For each message, in one query: the conversation, if the person still owns it, with
        what hot_reads.access reads with it; when their sign-in ends (None: it has)."""
        return services.socket_access(self.user_id, self.conversation_id, self.session_key)

    async def _session_holds(self, ends=sessions.MISSING) -> bool:
        """Close (4401) unless the sign-in this socket opened with still holds; else look
        again when it is due to expire. `ends`: when it ends, if the caller has just read it."""
        if ends is sessions.MISSING:
            ends = await sync_to_async(sessions.valid_until)(self.session_key, self.user_id)
        if ends is None:
            await self._signed_out()
            return False
        if self._expiry is not None:
            self._expiry.cancel()
        wait = min(max((ends - timezone.now()).total_seconds(), 0), sessions.FAR)
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(wait, lambda: loop.create_task(self._session_holds()))
        return True

    async def _signed_out(self):
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.sub is not None:
            hub.leave(self.conversation_id, self.sub)
            self.sub = None
        await self.close(code=CLOSE_SIGNED_OUT)

    async def session_check(self, event):
        """Sent to every socket of a person whose sign-ins changed (see signals.py)."""
        if event.get("ended") and event["ended"] == self.session_key:
            await self._signed_out()
        else:
            await self._session_holds()

    async def session_revoked(self, event):
        await self._signed_out()

    def person_event(self, event: dict) -> None:
        """An event for all of the person's sockets (hub.tell_person), handled by this
        consumer's method for its type, one at a time in the order they came."""
        previous = self._person_task
        loop = asyncio.get_running_loop()

        async def handle():
            if previous is not None:
                await asyncio.wait([previous])
            translation.activate(self._language or settings.LANGUAGE_CODE)
            try:
                await self.dispatch(event)
            except Exception:
                log.exception("socket: could not handle %s", event.get("type"))

        self._person_task = loop.create_task(handle(), context=contextvars.Context())

    # -- the sidebar -------------------------------------------------------------------------
    async def sidebar_changed(self, event):
        """The person's list changed (a new conversation, a title, a reply moving one up): sent
        to every socket of theirs, on every process (conversations.publish_sidebar). Each tab
        gets the list with its own conversation marked."""
        frame = conversations.moved_frame(event) or await sync_to_async(
            conversations.sidebar_frame
        )(self.user_id, self.conversation_id)
        if self.sub is not None:  # in order with the conversation's frames, same send caps
            self.sub.put(frame)

    # -- sending -----------------------------------------------------------------------------
    async def _send_frame(self, frame: str):
        if len(frame) * 4 > MAX_SEND_BYTES and len(frame.encode()) > MAX_SEND_BYTES:
            for part in self._too_big(frame):
                await self.send(text_data=part)
            return
        await self.send(text_data=frame)

    def _too_big(self, frame: str) -> list[str]:
        """A frame daphne would refuse to send: text deltas go in pieces; HTML becomes a small
        frame asking the tab to load the turns it shows over HTTP."""
        if frame[:1] in ("+", "~"):
            return _split_text(frame)
        turns = list(dict.fromkeys(int(t) for t in TURN_ID.findall(frame)))
        if not turns:
            log.error("dropping a %d-character frame that names no turn", len(frame))
            return [json.dumps({"error": "Part of this page is too large to show; reload."})]
        load = [[t, reverse("turn", args=[self.conversation_id, t])] for t in turns]
        return [json.dumps({"load": load}, separators=(",", ":"))]

    def _too_slow(self):
        log.info("closing a socket that fell behind (conversation %s)", self.conversation_id)
        if self.sub is not None:
            hub.leave(self.conversation_id, self.sub)
            self.sub = None
        asyncio.get_running_loop().create_task(self.close(code=CLOSE_TOO_SLOW))

    async def _error(self, text: str, send_id: str | None = None):
        frame = {"error": text} if send_id is None else {"error": text, "for": send_id}
        await self.send(text_data=json.dumps(frame))


def _send_id(value) -> str | None:
    """The page's id for a message it sent: short text, echoed back, or none."""
    return value if isinstance(value, str) and 0 < len(value) <= 40 else None


def _split_text(frame: str, size: int = MAX_SEND_BYTES // 8) -> list[str]:
    """A text frame as several, of at most `size` characters of text each: the first keeps
    its head (`+target` or `~`), the rest go on to the same element (`~`)."""
    head, text = ("~", frame[1:]) if frame[0] == "~" else frame.split("\n", 1)
    head = head if frame[0] == "~" else head + "\n"
    pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    return [head + pieces[0], *("~" + piece for piece in pieces[1:])]
