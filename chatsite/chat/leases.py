"""Who runs a turn: a lease on the turn's row, so that of several processes exactly one streams a
reply, and a reply whose process died is picked up again by exactly one other.

- A new turn is saved already leased to the process that starts it (`stamp`).
- While a process runs replies, one task renews all their leases in one UPDATE every third of
  the lease (`Keeper`). A runner whose lease another process took (this one stalled past the
  expiry), or could not renew before it expired, stops without writing: the taker owns it now.
- A lease past its expiry is taken with one conditional UPDATE (`take_over`): when several
  processes try at once, the database lets exactly one of them match the row.
- The taker re-attaches by stream replay (`GET …?stream=true&last_event_id=…`, TurnRunner with
  no body). Who tries: the process a tab connects to, for the turns that tab shows
  (services.catch_up), and, with several processes, every process, which looks for lapsed
  leases twice per lease (`watch`).
- Stop is kept with the turn (`request_stop`): its owner stops at once through the relay, or at
  its next renewal if that word was missed; a process that takes over a stopped turn (its owner
  died before it could stop) cancels the interaction upstream and ends the turn as cancelled,
  instead of re-attaching (`adopt`).

The database is the one place every process already shares, so this works the same on SQLite
with one process and on PostgreSQL with many. Times are the processes' clocks (kept by NTP);
a lease is many seconds, skews are milliseconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .hub import hub
from .models import Turn
from .relay import PROCESS_ID

log = logging.getLogger(__name__)


def seconds() -> float:
    return float(settings.TURN_LEASE_SECONDS)


def _until():
    return timezone.now() + timedelta(seconds=seconds())


def _lapsed(now) -> Q:
    return Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)


# A runner that ended wrote `completed_at`, even when the status it ended on is not final
# (`requires_action` with nothing left to call): nothing to take over.
ENDED = Q(status__in=Turn.FINAL) | Q(completed_at__isnull=False)


def left_running(turn: Turn) -> bool:
    return not turn.is_final and turn.completed_at is None


def stamp(turn: Turn) -> None:
    """Lease a turn about to be saved to this process."""
    turn.lease_owner = PROCESS_ID
    turn.lease_expires_at = _until()


async def take_over(turn_id: int) -> bool:
    """Take the lease of an unfinished turn nobody renews. True for exactly one taker."""
    now = timezone.now()
    taken = await (
        Turn.objects.filter(_lapsed(now), pk=turn_id)
        .exclude(ENDED)
        .aupdate(lease_owner=PROCESS_ID, lease_expires_at=now + timedelta(seconds=seconds()))
    )
    return taken == 1


async def release(turn_id: int) -> None:
    """The runner ended: if the turn is somehow not final, another process may take it at once."""
    await Turn.objects.filter(pk=turn_id, lease_owner=PROCESS_ID).aupdate(
        lease_expires_at=timezone.now()
    )


async def request_stop(turns) -> None:
    """Stop was pressed on these (unfinished) turns: kept, whichever process ends them."""
    await turns.filter(stop_requested_at__isnull=True).aupdate(stop_requested_at=timezone.now())


async def adopt(turn_id: int):
    """Take over a turn whose owner is gone and re-attach to it here. The runner, or None."""
    from .runner import TurnRunner

    if hub.runner(turn_id) is not None or not await take_over(turn_id):
        return None
    turn = await Turn.objects.aget(pk=turn_id)
    if turn.stop_requested_at is not None:
        # Stop was pressed after its owner died: end it, never run it on.
        log.info("turn %s: stopped while no process ran it; cancelling it here", turn_id)
        await TurnRunner.end_stopped(turn)
        return None
    log.info("turn %s: no process renews it; re-attaching here (%s)", turn_id, PROCESS_ID)
    runner = TurnRunner(turn, body=None)
    runner.start()
    return runner


def adopt_when_lapsed(turn: Turn) -> None:
    """Try `adopt` once this turn's lease has run out (its owner may be dead, or slow)."""
    if turn.lease_expires_at is None:
        return
    wait = (turn.lease_expires_at - timezone.now()).total_seconds() + 0.1

    async def later():
        await asyncio.sleep(max(wait, 0))
        try:
            await adopt(turn.pk)
        except Exception:
            log.exception("turn %s: could not re-attach", turn.pk)

    background(later(), f"adopt-{turn.pk}")


def background(coroutine, name: str) -> asyncio.Task:
    """A task of the process, not of the request or socket that happened to start it: a fresh
    context, or its database calls would go to that request's executor, shut when it ends."""
    loop = asyncio.get_running_loop()
    return loop.create_task(coroutine, name=name, context=contextvars.Context())


class Keeper:
    """Renews the leases of this process's runners; one task per event loop, only while it
    runs replies."""

    def __init__(self):
        self.task: asyncio.Task | None = None

    def ensure_running(self) -> None:
        task = self.task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self.task = background(self._run(), "lease-keeper")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        good_until = loop.time() + seconds()
        while True:
            await asyncio.sleep(seconds() / 3)
            runners = [
                r
                for r in hub.runners.values()
                if r.task is not None and not r.task.done() and r.task.get_loop() is loop
            ]
            if not runners:
                return
            try:
                lost, stopped = await self._renew([r.turn_id for r in runners])
                good_until = loop.time() + seconds()
            except Exception:
                log.warning("could not renew turn leases", exc_info=True)
                if loop.time() < good_until:
                    continue
                lost = {r.turn_id for r in runners}  # ours may have lapsed: stop, don't race
                stopped = set()
            for runner in runners:
                if runner.turn_id in lost:
                    log.warning("turn %s: lease lost; another process runs it", runner.turn_id)
                    runner.abandon()
                elif runner.turn_id in stopped:
                    runner.stop()  # Stop was pressed; the relay's word did not reach us

    @staticmethod
    async def _renew(turn_ids: list[int]) -> tuple[set[int], set[int]]:
        """Renew in one UPDATE. The turns whose lease another process holds now, and the
        turns of ours someone pressed Stop on (not renewed: they end now)."""
        renewed = await Turn.objects.filter(
            pk__in=turn_ids, lease_owner=PROCESS_ID, stop_requested_at__isnull=True
        ).aupdate(lease_expires_at=_until())
        if renewed == len(turn_ids):
            return set(), set()
        rows = Turn.objects.filter(pk__in=turn_ids).values_list(
            "pk", "lease_owner", "stop_requested_at"
        )
        mine, stopped = set(), set()
        async for pk, owner, stop_requested_at in rows:
            if owner == PROCESS_ID:
                mine.add(pk)
                if stop_requested_at is not None:
                    stopped.add(pk)
        return set(turn_ids) - mine, stopped


keeper = Keeper()


async def watch() -> None:
    """With several processes: re-attach, here, replies whose process stopped renewing them.
    Runs beside the relay listener; each process looks twice per lease, at jittered times."""
    while True:
        await asyncio.sleep(seconds() * random.uniform(0.4, 0.6))
        try:
            now = timezone.now()
            # A turn saved without a lease (before leases existed) counts once it is idle.
            lapsed = Q(lease_expires_at__lt=now) | Q(
                lease_expires_at__isnull=True, updated_at__lt=now - timedelta(seconds=seconds())
            )
            orphans = Turn.objects.filter(lapsed).exclude(ENDED)
            for turn_id in [pk async for pk in orphans.values_list("pk", flat=True)[:50]]:
                await adopt(turn_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("could not look for replies to re-attach", exc_info=True)
