"""A turn's database writes during a reply, in order and off the event path."""

import asyncio
import copy
import logging

from asgiref.sync import sync_to_async
from django.utils import timezone

from .models import Turn

log = logging.getLogger(__name__)


class TurnWriter:
    """A turn's database writes, in order and off the event path: the stream never waits for
    the database. Fields asked for while a write runs go out together in the next one; `after`
    runs once the write that includes it is done (e.g. showing a step whose media the browser
    will fetch at once)."""

    def __init__(self, turn: Turn):
        self.turn = turn
        self._fields: set[str] = set()
        self._after: list = []
        self._task: asyncio.Task | None = None

    def save(self, *fields: str, after=None) -> None:
        self._fields.update(fields)
        if after is not None:
            self._after.append(after)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._fields:
            fields, self._fields = self._fields, set()
            after, self._after = self._after, []
            # The values as they are now, taken on the loop: a save that read the turn later,
            # in its thread, could write a status the loop set after (say "completed") beside
            # steps from before it, and a reader would see a finished turn missing its end.
            values = {name: copy.deepcopy(getattr(self.turn, name)) for name in fields}
            values["updated_at"] = timezone.now()
            try:
                await sync_to_async(self._write)(values)
            except Exception:
                log.exception("turn %s: could not save %s", self.turn.pk, sorted(fields))
            for callback in after:
                callback()

    def _write(self, values: dict) -> None:
        # Built in the database thread: the loop relays the reply meanwhile.
        Turn.objects.filter(pk=self.turn.pk).update(**values)

    async def drain(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
