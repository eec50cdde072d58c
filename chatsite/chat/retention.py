"""Retention and people's data: remove conversations (their turns, the media inside their steps,
the attachments only they used) and delete their interactions upstream.

- `RETENTION_DAYS` (0 = off): conversations idle longer than that are purged, daily inside the
  app (`start_daily`, one process at a time by a lease row) and by `manage.py purge` for cron.
- An admin deletes a person with all their data (`delete_person`) or exports it (people.py).
- Upstream deletion (DELETE /interactions/{id}) is best effort: an interaction the API no longer
  has is gone already; any other failure is logged and the local data is removed anyway (the
  API's own retention removes what is left).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from chatsite.gemini import InteractionsClient

from . import conversations, upstream
from .models import Attachment, Conversation, Lease, Turn, interaction_ids

log = logging.getLogger("chatsite.retention")

LEASE = "purge"
DAY = timedelta(days=1)
LEASE_FOR = timedelta(hours=1)  # a purge that takes longer is presumed dead and retried
CHECK_EVERY_S = 15 * 60


@dataclass
class Plan:
    """What a purge removes (or, in a dry run, would remove)."""

    conversations: list[int] = field(default_factory=list)
    turns: int = 0
    interactions: list[str] = field(default_factory=list)
    attachments: list[int] = field(default_factory=list)
    attachment_bytes: int = 0
    upstream_deleted: int = 0
    upstream_failed: int = 0
    person_pk: int | None = None

    def summary(self) -> str:
        return (
            f"{len(self.conversations)} conversation(s), {self.turns} turn(s), "
            f"{len(self.interactions)} upstream interaction(s), {len(self.attachments)} "
            f"attachment(s) ({self.attachment_bytes} bytes)"
        )


def expired(days: int, now=None):
    """Conversations with no activity for more than `days` days."""
    now = now or timezone.now()
    return Conversation.objects.filter(updated_at__lt=now - timedelta(days=days))


def _attachment_refs(turns) -> set[tuple[int, str]]:
    """(owner, sha256) of each attachment these turns' inputs refer to."""
    refs = set()
    for owner, blocks in turns.values_list("conversation__owner_id", "user_input"):
        for block in blocks if isinstance(blocks, list) else []:
            if isinstance(block, dict) and isinstance(block.get("attachment"), str):
                refs.add((owner, block["attachment"]))
    return refs


def plan(conversations) -> Plan:
    ids = list(conversations.values_list("pk", flat=True))
    turns = Turn.objects.filter(conversation_id__in=ids)
    result = Plan(conversations=ids, turns=turns.count(), interactions=interaction_ids(turns))
    refs = _attachment_refs(turns)
    # An attachment is removed when no remaining conversation refers to it.
    kept = _attachment_refs(
        Turn.objects.filter(conversation__owner_id__in={o for o, _ in refs}).exclude(
            conversation_id__in=ids
        )
    )
    for attachment in Attachment.objects.filter(owner_id__in={o for o, _ in refs}):
        key = (attachment.owner_id, attachment.sha256)
        if key in refs and key not in kept:
            result.attachments.append(attachment.pk)
            result.attachment_bytes += attachment.size
    return result


async def _delete_upstream(ids: list[str]) -> tuple[int, int]:
    # A client of this thread's own loop (asyncio.run), not the server loop's.
    async with InteractionsClient(
        base_url=upstream.base_url(),
        api_key=upstream.api_key(),
        timeout=settings.GEMINI_TIMEOUT,
        max_retries=settings.GEMINI_MAX_RETRIES,
    ) as client:
        return await conversations.delete_interactions(ids, client)


def delete_upstream(ids: list[str]) -> tuple[int, int]:
    """(deleted, failed), from sync code (the purge thread, a command, an admin view)."""
    if not ids:
        return 0, 0
    return asyncio.run(_delete_upstream(ids))


def remove_attachments(pks) -> None:
    for attachment in Attachment.objects.filter(pk__in=pks):
        name = attachment.file.name
        attachment.delete()
        if name and not Attachment.objects.filter(file=name).exists():
            attachment.file.storage.delete(name)


def execute(result: Plan) -> Plan:
    """Delete upstream first (the ids are in our rows), then the rows and the files."""
    result.upstream_deleted, result.upstream_failed = delete_upstream(result.interactions)
    with transaction.atomic():
        Conversation.objects.filter(pk__in=result.conversations).delete()
    remove_attachments(result.attachments)
    log.info("purged %s; upstream %d deleted, %d failed", result.summary(),
             result.upstream_deleted, result.upstream_failed)  # fmt: skip
    return result


def purge(days: int | None = None, *, dry_run=False) -> Plan | None:
    """Remove conversations older than `days` (default RETENTION_DAYS); None when it is off."""
    days = settings.RETENTION_DAYS if days is None else days
    if not days:
        return None
    result = plan(expired(days))
    return result if dry_run else execute(result)


# -- a person's data -------------------------------------------------------------------------


def delete_person(person) -> Plan:
    """Everything of one person: conversations, attachments, upstream interactions, account."""
    result = plan(Conversation.objects.filter(owner=person))
    result.attachments = list(Attachment.objects.filter(owner=person).values_list("pk", flat=True))
    execute(result)
    result.person_pk = person.pk
    person.delete()
    return result


# -- daily, inside the app -------------------------------------------------------------------


def take_turn(owner: str, now=None) -> bool:
    """Whether this process runs today's purge: one conditional UPDATE on the lease row, which
    exactly one process matches however many try at once (SQLite or PostgreSQL)."""
    now = now or timezone.now()
    # get_or_create: of two processes creating the row at once, the second gets it.
    Lease.objects.get_or_create(name=LEASE, defaults={"expires_at": now - LEASE_FOR})
    due = Q(last_run_at__isnull=True) | Q(last_run_at__lte=now - DAY)
    return bool(
        Lease.objects.filter(due, name=LEASE, expires_at__lt=now).update(
            owner=owner, expires_at=now + LEASE_FOR
        )
    )


def done(owner: str) -> None:
    now = timezone.now()
    Lease.objects.filter(name=LEASE, owner=owner).update(last_run_at=now, expires_at=now)


def run_if_due(owner: str) -> Plan | None:
    if not settings.RETENTION_DAYS or not take_turn(owner):
        return None
    try:
        return purge()
    finally:
        done(owner)


_started = False
_start_lock = threading.Lock()


def start_daily() -> None:
    """A daemon thread that purges once a day in whichever process takes the lease."""
    global _started
    with _start_lock:
        if _started or not settings.RETENTION_DAYS:
            return
        _started = True
    owner = f"{socket.gethostname()}:{os.getpid()}"[:64]

    def loop():
        while True:
            try:
                run_if_due(owner)
            except Exception:
                log.exception("the daily purge failed")
            finally:
                close_old_connections()
            time.sleep(CHECK_EVERY_S)

    threading.Thread(target=loop, name="daily-purge", daemon=True).start()
