"""What a person does to their conversations: list them by date, rename, pin, archive, share
and delete. Every function takes the owner's conversation (fetched by services, scoped to them).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import secrets

from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from chatsite.gemini import APIStatusError, NotFoundError

from . import branches, hot_reads, person_events, upstream
from .models import Attachment, Conversation, Turn, interaction_ids

log = logging.getLogger(__name__)

SIDEBAR_LIMIT = 200
TITLE_CHARS = 200
DELETE_RETRIES = 3
# The emulator's test directives (`[emulator:pace=200]`) are instructions, not words of a title.
DIRECTIVE = re.compile(r"\[emulator:[^\]]*\]")


# Markdown a title would show as raw marks: a heading's or quote's lead, emphasis, code ticks.
MARKUP = re.compile(r"^(?:\s*(?:#{1,6}|>)\s+)+|\*\*|__|`+")


def clean_title(text: str, limit: int = 80) -> str:
    """One line, no emulator directives or Markdown marks, at most `limit` characters."""
    line = " ".join(DIRECTIVE.sub(" ", text or "").split())
    line = " ".join(MARKUP.sub("", line).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


# -- the sidebar ----------------------------------------------------------------------------


def sidebar_groups(user, *, archived: bool = False) -> list[tuple[str, list[Conversation]]]:
    """Pinned first under "Pinned", then newest first by date: Today, Yesterday, Previous 7
    days, Previous 30 days, then one group per month. `user`: a user or their id."""
    rows = list(
        Conversation.objects.filter(owner_id=getattr(user, "pk", user), archived=archived)
        .only("pk", "title", "updated_at", "pinned", "archived")
        .order_by("-pinned", "-updated_at")[:SIDEBAR_LIMIT]
    )
    today = timezone.localdate()
    groups: dict[str, list[Conversation]] = {}
    for convo in rows:
        convo.group_key = "today" if not convo.pinned and _is_today(convo, today) else ""
        groups.setdefault(_group(convo, today, archived), []).append(convo)
    return list(groups.items())


def _is_today(convo: Conversation, today) -> bool:
    return timezone.localdate(convo.updated_at) == today


def _group(convo: Conversation, today, archived: bool) -> str:
    # In the language of the page (or of the socket's person) at the time of rendering.
    if convo.pinned and not archived:
        return gettext("Pinned")
    day = timezone.localdate(convo.updated_at)
    age = (today - day).days
    if age <= 0:
        return gettext("Today")
    if age == 1:
        return gettext("Yesterday")
    if age <= 7:
        return gettext("Previous 7 days")
    if age <= 30:
        return gettext("Previous 30 days")
    return date_format(day, "YEAR_MONTH_FORMAT")


def sidebar_frame(owner_id: int, current_id: int | None = None) -> str:
    """The list as a socket frame (swapped in place by htmx), `current_id` marked."""
    context = {
        "groups": sidebar_groups(owner_id),
        "conversation": Conversation(pk=current_id) if current_id else None,
        "list_oob": True,
    }
    return render_to_string("chat/conversation.html#conversation-list", context).strip()


async def publish_sidebar(owner_id: int) -> None:
    """Tell every open tab of the person, on every process, that their list changed: a new
    conversation, a title, a reply that moves one to the top (person_events.py): each socket
    renders the list for its own tab (consumers.py)."""
    await person_events.send(owner_id, {"type": "sidebar.changed"})


def _to_top(convo: Conversation):
    """The person's top conversation before this one moves up, and the moment it did. Sync:
    in the database thread, not on the loop the replies stream on; SQL written once
    (hot_reads): the ORM built these two queries in ~0.9 ms of each turn's CPU (issue 16)."""
    now = timezone.now()
    return hot_reads.to_top(convo.pk, convo.owner_id, now), now


async def bump(convo: Conversation) -> None:
    """A new turn moves the conversation to the top of its person's list. Their tabs get only
    what changes: nothing when it is on top already, else the move (`{"top": id}`, which the
    tab makes inside its "Today" group) — a whole list only for a new conversation or when the
    groups themselves change (a pinned or archived one, or no "Today" yet)."""
    first, now = await sync_to_async(_to_top)(convo)
    today = timezone.localdate(now)
    if (
        not convo.listed
        or convo.pinned
        or convo.archived
        or first is None
        or not _is_today(first, today)
    ):
        await publish_sidebar(convo.owner_id)
    elif first.pk != convo.pk:
        await person_events.send(convo.owner_id, {"type": "sidebar.changed", "top": convo.pk})


def moved_frame(event: dict) -> str | None:
    """The frame for a `sidebar.changed` event that is only a move (see bump), else None."""
    top = event.get("top")
    return json.dumps({"top": top}) if isinstance(top, int) else None


def publish_sidebar_now(owner_id: int) -> None:
    """publish_sidebar from a sync view (a worker thread): run on the event loop."""
    async_to_sync(publish_sidebar)(owner_id)


# -- header actions -------------------------------------------------------------------------


class InvalidTitle(ValueError):
    pass


def rename(convo: Conversation, title: str) -> None:
    """The person's title wins: the model never retitles a renamed conversation."""
    title = clean_title(title, TITLE_CHARS)
    if not title:
        raise InvalidTitle(gettext("A title needs at least one character."))
    convo.title, convo.title_by = title, Conversation.TitleBy.PERSON
    # `update()`: renaming is not activity; the list keeps its order.
    Conversation.objects.filter(pk=convo.pk).update(title=title, title_by=convo.title_by)


def set_flag(convo: Conversation, name: str, value: bool) -> None:
    """Pin or archive (or undo); neither moves the conversation in the date groups."""
    assert name in ("pinned", "archived")
    setattr(convo, name, value)
    Conversation.objects.filter(pk=convo.pk).update(**{name: value})


def share(convo: Conversation) -> str:
    """A new snapshot link's token: the turns so far, of the branch on screen. An earlier link
    stops working."""
    convo.share_token = secrets.token_urlsafe(24)
    convo.shared_at = timezone.now()
    convo.branch = branches.with_shared_path(convo)
    Conversation.objects.filter(pk=convo.pk).update(
        share_token=convo.share_token, shared_at=convo.shared_at, branch=convo.branch
    )
    return convo.share_token


def stop_sharing(convo: Conversation) -> None:
    convo.share_token = convo.shared_at = None
    Conversation.objects.filter(pk=convo.pk).update(share_token=None, shared_at=None)


def shared_turns(convo: Conversation):
    """The turns a snapshot shows: the branch on screen when it was shared, as it was then."""
    return convo.turns.filter(
        created_at__lte=convo.shared_at, pk__in=branches.shared_path(convo)
    ).order_by("created_at", "pk")


# -- delete ---------------------------------------------------------------------------------


def attachment_hashes(turns) -> set[str]:
    return {
        block["attachment"]
        for user_input in turns
        for block in (user_input if isinstance(user_input, list) else [])
        if isinstance(block, dict) and isinstance(block.get("attachment"), str)
    }


def delete(convo: Conversation) -> list[str]:
    """Remove the conversation, its turns (and the media inside their steps) and the files it
    attached that no other turn of the owner's refers to. Returns the interaction ids to delete
    upstream. Sync: call via sync_to_async."""
    ids = interaction_ids(convo.turns)
    hashes = attachment_hashes(convo.turns.values_list("user_input", flat=True))
    with transaction.atomic():
        convo.delete()  # turns cascade
        others = Turn.objects.filter(conversation__owner_id=convo.owner_id).annotate(
            input_text=Cast("user_input", TextField())
        )
        orphans = [h for h in hashes if not others.filter(input_text__contains=h).exists()]
        files = list(
            Attachment.objects.filter(owner_id=convo.owner_id, sha256__in=orphans).values_list(
                "file", flat=True
            )
        )
        Attachment.objects.filter(owner_id=convo.owner_id, sha256__in=orphans).delete()
    for name in files:
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("could not remove an attachment file of a deleted conversation")
    return ids


_pending: set[asyncio.Task] = set()


def delete_upstream(ids: list[str]) -> asyncio.Task | None:
    """Delete the interactions upstream in the background (best effort, retried, logged)."""
    if not ids:
        return None
    loop = asyncio.get_running_loop()
    task = loop.create_task(_delete_upstream(ids), context=contextvars.Context())
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return task


async def _delete_upstream(ids: list[str]) -> None:
    deleted, failed = await delete_interactions(ids)
    log.info("deleted conversation: %d interactions removed upstream, %d failed", deleted, failed)


async def delete_interactions(ids: list[str], client=None) -> tuple[int, int]:
    """Delete these interactions upstream, best effort: (deleted, failed). Gone already counts
    as deleted; a server error or a broken connection is tried again, a refusal is not."""
    client = client or upstream.client()
    deleted = failed = 0
    for interaction_id in ids:
        for attempt in range(DELETE_RETRIES):
            try:
                await client.delete(interaction_id)
                deleted += 1
                break
            except NotFoundError:
                deleted += 1  # already gone (expired, or another account's)
                break
            except Exception as exc:  # noqa: BLE001 - best effort: log and go on
                final = isinstance(exc, APIStatusError) and exc.status_code < 500
                if final or attempt + 1 == DELETE_RETRIES:
                    failed += 1
                    log.warning("upstream delete of an interaction failed: %s", type(exc).__name__)
                    break
                await asyncio.sleep(0.5 * 2**attempt)
    return deleted, failed


async def delete_everything(convo: Conversation) -> None:
    """Stop its replies, delete it here, then upstream in the background."""
    from . import services

    await services.stop(convo)
    ids = await sync_to_async(delete)(convo)
    delete_upstream(ids)
    await publish_sidebar(convo.owner_id)
