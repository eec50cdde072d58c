"""`/ws/u/`: the socket of a page that shows no conversation (`/`, `/c/`, settings), so its
sidebar stays live too. It only listens: the person's list when it opens (the page may be
older than it) and whenever it changes, and the same sign-in checks as the conversation socket
(it is one of the person's sockets in the hub and inherits the handlers, person_events.py).
Anything it is sent is ignored.

Chosen over polling with htmx: the list reaches these tabs by the same event as every other
tab, at once, and an idle tab costs no query (a poll every few seconds per open tab would).
"""

from asgiref.sync import sync_to_async

from . import conversations
from .consumers import CLOSE_FORBIDDEN, ConversationConsumer
from .hub import hub


class PersonConsumer(ConversationConsumer):
    conversation_id = None

    async def connect(self):
        await self._speak_the_pages_language()  # the list's group names
        user = self.scope.get("user")
        if not (getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user_id = user.pk
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        await self.accept()
        hub.join_person(self.user_id, self)
        await hub.relay.ensure_running()  # another process's events for this person reach it
        if await self._session_holds():
            await self.sidebar_changed({})

    async def receive(self, text_data=None, bytes_data=None):
        return  # it only listens (chat.js asks every socket it opens to resume: nothing to do)

    async def sidebar_changed(self, event):
        frame = conversations.moved_frame(event) or await sync_to_async(
            conversations.sidebar_frame
        )(self.user_id)
        await self._send_frame(frame)
