"""The conversation socket: thin. It checks ownership (at connect and on every message), joins
the hub, and hands actions to the services layer. It never loops over an upstream stream."""

import asyncio
import json
import logging

from channels.generic.websocket import AsyncWebsocketConsumer

from . import services
from .hub import Subscriber, hub

log = logging.getLogger(__name__)

MAX_FRAME_CHARS = 200_000
MAX_RESUME_TURNS = 500

CLOSE_FORBIDDEN = 4403
CLOSE_SIGNED_OUT = 4401
CLOSE_TOO_SLOW = 1013  # "try again later": htmx's ws extension reconnects and resumes


def user_group(user_id) -> str:
    return f"user.{user_id}"


class ConversationConsumer(AsyncWebsocketConsumer):
    sub: Subscriber | None = None

    async def connect(self):
        self.conversation_id = self.scope["url_route"]["kwargs"]["pk"]
        user = self.scope.get("user")
        if await services.get_conversation(user, self.conversation_id) is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user_id = user.pk
        await self.accept()
        await self.channel_layer.group_add(user_group(self.user_id), self.channel_name)
        self.sub = Subscriber(self._send_frame, self._too_slow)
        hub.join(self.conversation_id, self.sub)
        await hub.relay.ensure_running()

    async def disconnect(self, code):
        if self.sub is not None:
            hub.leave(self.conversation_id, self.sub)
            self.sub = None
        if hasattr(self, "user_id"):
            await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            return await self._error("Messages must be JSON text under 200 kB.")
        try:
            message = json.loads(text_data)
        except ValueError:
            return await self._error("That message was not valid JSON.")
        if not isinstance(message, dict):
            return await self._error("That message was not a JSON object.")
        # Ownership is checked again for every message: an account disabled or a conversation
        # deleted since the socket opened loses access at once.
        conversation = await services.get_conversation_for_socket(
            self.user_id, self.conversation_id
        )
        if conversation is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        action = message.get("action")
        if self.sub is None:
            return  # closing (fell behind); the browser reconnects and resumes
        if action == "resume":
            await self._resume(conversation, message)
        elif action == "stop":
            await services.stop(conversation)
        elif action == "send":
            try:
                await services.send_message(
                    conversation.owner, conversation, message.get("message")
                )
            except (services.InvalidInput, services.LimitReached) as exc:
                await self._error(str(exc))
        else:
            await self._error("Unknown action.")

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
        await services.catch_up(conversation, self.sub, turns, after)

    async def session_revoked(self, event):
        """Sent to every socket of a user who signed out or was disabled."""
        await self.close(code=CLOSE_SIGNED_OUT)

    async def _send_frame(self, frame: str):
        await self.send(text_data=frame)

    def _too_slow(self):
        log.info("closing a socket that fell behind (conversation %s)", self.conversation_id)
        if self.sub is not None:
            hub.leave(self.conversation_id, self.sub)
            self.sub = None
        asyncio.get_running_loop().create_task(self.close(code=CLOSE_TOO_SLOW))

    async def _error(self, text: str):
        await self.send(text_data=json.dumps({"error": text}))
