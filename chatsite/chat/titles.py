"""A new conversation's title, written by a small, cheap model after its first reply.

Until then the title is the first message's opening words (services.title_for). The person's
own title (Rename) always wins: a conversation they renamed is never retitled, even by a
title request already on its way. The request's tokens count in the first turn's usage.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

from django.conf import settings
from django.db.models import F
from django.template.loader import render_to_string

from chatsite.gemini import APIError

from . import upstream
from .conversations import clean_title, publish_sidebar
from .hub import hub
from .models import Conversation, Turn

log = logging.getLogger(__name__)

# The emulator recognises this opening and writes a title offline (emulator/prose.py).
INSTRUCTION = (
    "Write a short title for a conversation that begins with the user's message below: at "
    "most six words, in the message's language. Answer with the title alone, no quotes and "
    "no full stop."
)
MESSAGE_CHARS = 2000
TITLE_CHARS = 80

_pending: set[asyncio.Task] = set()


def after_reply(turn: Turn) -> asyncio.Task | None:
    """Called by the runner when a turn ends: a completed reply in a conversation that has
    no title of its own yet gets one, in the background."""
    if turn.status != Turn.Status.COMPLETED or not settings.GEMINI_TITLE_MODEL:
        return None
    task = asyncio.get_running_loop().create_task(
        _write(turn.conversation_id, turn.pk, turn.user_text), context=contextvars.Context()
    )
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return task


async def _write(conversation_id: int, turn_id: int, text: str) -> None:
    if not await Conversation.objects.filter(pk=conversation_id, title_by="").aexists():
        return
    message = clean_title(text, MESSAGE_CHARS)
    if not message:
        return
    body = {
        "model": settings.GEMINI_TITLE_MODEL,
        "system_instruction": INSTRUCTION,
        "input": [{"type": "text", "text": message}],
        "generation_config": {"max_output_tokens": 32},
        "store": False,
    }
    try:
        interaction = await upstream.client().create(body)
    except APIError as exc:
        log.info("conversation %s: no title from the model: %s", conversation_id, exc)
        return
    title = clean_title(answer_text(interaction).strip().strip("\"'“”«»").rstrip("."), TITLE_CHARS)
    tokens = (interaction.get("usage") or {}).get("total_tokens")
    if isinstance(tokens, int) and tokens > 0:
        await Turn.objects.filter(pk=turn_id).aupdate(total_tokens=F("total_tokens") + tokens)
    if not title:
        return
    # Only if nobody renamed it meanwhile.
    updated = await Conversation.objects.filter(pk=conversation_id, title_by="").aupdate(
        title=title, title_by=Conversation.TitleBy.MODEL
    )
    if updated:
        convo = await Conversation.objects.aget(pk=conversation_id)
        html = render_to_string("chat/conversation.html#title-frames", {"c": convo})
        hub.publish(conversation_id, [html])
        await publish_sidebar(convo.owner_id)


def answer_text(interaction: dict) -> str:
    steps = interaction.get("steps") or interaction.get("outputs") or []
    return " ".join(
        block.get("text", "")
        for step in steps
        if isinstance(step, dict) and step.get("type", "model_output") == "model_output"
        for block in step.get("content") or []
        if isinstance(block, dict) and isinstance(block.get("text"), str)
    )


async def settled() -> None:
    """Wait for the title requests under way (tests, shutdown)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)
