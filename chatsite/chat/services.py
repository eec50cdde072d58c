"""The one layer that starts, stops and resumes turns. Views and consumers call only this.

Every function takes the *owner* and fetches objects scoped to them, so a caller cannot forget
the ownership check.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import limits, relay
from .hub import hub
from .models import Conversation, Turn
from .runner import TurnRunner, assistant_frame, status_frame, turn_added_frame

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 100_000
TITLE_CHARS = 80
MAX_CATCH_UP = 200


class InvalidInput(ValueError):
    """The person sent something we will not forward; the message says what to change."""


LimitReached = limits.LimitReached


def clean_message(text) -> str:
    if not isinstance(text, str):
        raise InvalidInput("The message must be text.")
    text = text.replace("\x00", "").strip()
    if not text:
        raise InvalidInput("Type a message first.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"That message is {len(text):,} characters; the limit is {MAX_MESSAGE_CHARS:,}."
        )
    return text


def owned_conversations(user):
    return Conversation.objects.filter(owner=user)


async def get_conversation(user, conversation_id) -> Conversation | None:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    return await owned_conversations(user).filter(pk=conversation_id).afirst()


async def get_conversation_for_socket(user_id, conversation_id) -> Conversation | None:
    """Re-checks, from the database, that the user still exists, is active and owns it."""
    return (
        await Conversation.objects.select_related("owner")
        .filter(pk=conversation_id, owner_id=user_id, owner__is_active=True)
        .afirst()
    )


def title_for(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


async def create_conversation(user, text: str) -> Conversation:
    return await Conversation.objects.acreate(
        owner=user, title=title_for(text), model=settings.GEMINI_MODEL, settings={}
    )


def build_request(conversation: Conversation, turn: Turn, previous_interaction_id: str | None):
    """The create body. Tools, system instruction and generation config are interaction-scoped:
    they are re-sent with every turn."""
    body: dict = {"model": turn.model or conversation.model, "input": turn.user_input}
    if previous_interaction_id:
        body["previous_interaction_id"] = previous_interaction_id
    opts = conversation.settings or {}
    if opts.get("system_instruction"):
        body["system_instruction"] = opts["system_instruction"]
    generation = {
        key: opts[key]
        for key in ("thinking_level", "thinking_summaries", "max_output_tokens")
        if opts.get(key)
    }
    if generation:
        body["generation_config"] = generation
    if opts.get("tools"):
        body["tools"] = [{"type": t} for t in opts["tools"]]
    return body


async def _chain_parent(conversation: Conversation) -> Turn | None:
    """The latest turn the next one follows."""
    return await conversation.turns.order_by("-created_at", "-pk").afirst()


async def _previous_interaction_id(parent: Turn | None) -> str | None:
    # A turn that never reached the API has no id; chain to the nearest ancestor that did.
    seen = 0
    while parent is not None and seen < 1000:
        if parent.interaction_id:
            return parent.interaction_id
        parent = await Turn.objects.filter(pk=parent.parent_id).afirst()
        seen += 1
    return None


async def send_message(user, conversation: Conversation, text: str, *, checked=False) -> Turn:
    """Save the turn first (the user's words are never lost), show it, then start the reply.
    Raises InvalidInput or LimitReached (nothing saved) with a message for the person."""
    text = clean_message(text)
    if not checked:
        await sync_to_async(limits.check_can_send)(user, conversation.model)
    parent = await _chain_parent(conversation)
    turn = await Turn.objects.acreate(
        conversation=conversation,
        parent=parent,
        model=conversation.model,
        user_input=[{"type": "text", "text": text}],
    )
    await Conversation.objects.filter(pk=conversation.pk).aupdate(updated_at=timezone.now())
    await start_turn(conversation, turn, parent)
    return turn


async def retry_turn(user, conversation: Conversation, turn_id) -> Turn | None:
    old = await conversation.turns.filter(pk=turn_id).afirst()
    if old is None or not old.is_final:
        return None
    await sync_to_async(limits.check_can_send)(user, conversation.model)
    parent = await _chain_parent(conversation)
    turn = await Turn.objects.acreate(
        conversation=conversation, parent=parent, model=conversation.model,
        user_input=old.user_input,
    )  # fmt: skip
    await start_turn(conversation, turn, parent)
    return turn


async def start_turn(conversation: Conversation, turn: Turn, parent: Turn | None) -> TurnRunner:
    previous = await _previous_interaction_id(parent)
    body = build_request(conversation, turn, previous)
    hub.publish(conversation.pk, [turn_added_frame(turn)])
    runner = TurnRunner(turn, body=body)
    runner.start()
    return runner


async def stop(conversation: Conversation) -> None:
    """Stop every reply running in this conversation, in this process or another."""
    for runner in hub.runners_for(conversation.pk):
        runner.stop()
    if relay.enabled():
        await hub.relay.stop_elsewhere(conversation.pk)
        return
    # One process: a turn still marked running with no runner (a crash) is closed too.
    running = list(hub.runners)
    async for turn in conversation.turns.exclude(status__in=Turn.FINAL).exclude(pk__in=running):
        await TurnRunner.fail_orphan(turn, "Stopped.", status=Turn.Status.CANCELLED)


async def catch_up(conversation: Conversation, sub, known: list[int], after: int) -> None:
    """Bring a (re)connecting tab up to date: the turns it shows as unfinished, and turns created
    after the last one it has (another tab sent them while it was away).

    The tab is already subscribed, so anything published meanwhile reaches it too; a snapshot
    replaces the whole assistant part, so a delta it already got is never shown twice.
    """
    rows = [
        t
        async for t in conversation.turns.filter(Q(pk__in=known) | Q(pk__gt=after)).order_by(
            "created_at", "pk"
        )[:MAX_CATCH_UP]
    ]
    for turn in rows:
        whole = turn.pk > after
        runner = hub.runner(turn.pk)
        if runner is None and not turn.is_final:
            remote = await hub.relay.request_snapshot(turn.pk, whole)
            if remote is not None:
                frames, turn_id, seq = remote
                sub.floors[turn_id] = seq
                for frame in frames:
                    sub.put(frame)
                continue
            # It ended between our read and now (a runner saves before it leaves the hub), or
            # nothing runs it any more (the server restarted): read again, and re-attach.
            turn = await Turn.objects.aget(pk=turn.pk)
            runner = hub.runner(turn.pk)
            if runner is None and not turn.is_final:
                runner = TurnRunner(turn, body=None)
                runner.start()
        if runner is not None:
            frames, _ = runner.snapshot(whole_turn=whole)
        elif whole:
            frames = [turn_added_frame(turn)]
        else:
            frames = [assistant_frame(turn), status_frame(turn)]
        for frame in frames:
            sub.put(frame)
