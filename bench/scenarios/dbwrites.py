"""6. Database writes per reply.

In-process: the bench process runs the app's own `services.send_message` and turn runner (same
settings and database as daphne, the emulator process upstream) while every SQL statement is
counted at Django's cursor, by verb and table, from the send to the end of the reply.
On PostgreSQL, also from the outside: the `pg_stat_user_tables` row-insert/update counters of the
chat tables across one reply streamed through daphne and a real websocket.
Baseline: the number of text deltas in the reply.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter

from django.db import connection
from django.db.backends import utils

from bench import fixtures
from bench.aio import run_in_fresh_loop
from bench.clients import Tab, emit_marks, http_client, run_turn

TABLE = re.compile(
    r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|SELECT.*?\sFROM)\s+"?(\w+)"?', re.I | re.S
)


class StatementCounter:
    """Counts statements run through Django cursors (all threads) while `active`."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.active = False
        self._patched = False

    def install(self):
        if self._patched:
            return
        counter = self
        original_execute = utils.CursorWrapper._execute
        original_executemany = utils.CursorWrapper._executemany

        def _execute(self, sql, params, *ignored):
            counter.record(sql)
            return original_execute(self, sql, params, *ignored)

        def _executemany(self, sql, param_list, *ignored):
            counter.record(sql)
            return original_executemany(self, sql, param_list, *ignored)

        utils.CursorWrapper._execute = _execute
        utils.CursorWrapper._executemany = _executemany
        self._patched = True

    def record(self, sql: str):
        if not self.active:
            return
        verb = sql.lstrip().split(None, 1)[0].upper()
        match = TABLE.match(sql)
        self.counts[(verb, match.group(1) if match else "")] += 1

    def writes(self) -> int:
        return sum(n for (verb, _), n in self.counts.items() if verb in ("INSERT", "UPDATE"))


def run(ctx) -> dict:
    p = ctx.profile
    message = f"db writes [emulator:pace={p.db_pace_ms}] [emulator:words={p.db_words}]"
    out = {"words": p.db_words, "pace_ms": p.db_pace_ms}
    conversation = fixtures.make_conversations(ctx.user, 1, "db writes")[0]
    counter = StatementCounter()
    counter.install()
    out["in_process"] = run_in_fresh_loop(_in_process(ctx, conversation, message, counter))
    # The same reply a tenth as long: writes must not depend on the number of deltas.
    short = f"db writes short [emulator:pace={p.db_pace_ms}] [emulator:words={p.db_words // 10}]"
    conversation = fixtures.make_conversations(ctx.user, 1, "db writes short")[0]
    out["in_process_short"] = run_in_fresh_loop(_in_process(ctx, conversation, short, counter))
    if connection.vendor == "postgresql":
        conversation = fixtures.make_conversations(ctx.user, 1, "db writes pg")[0]
        out["pg_stat"] = _pg_stat_reply(ctx, conversation, message)
    return out


async def _in_process(ctx, conversation_id, message, counter) -> dict:
    from chatsite.chat import services
    from chatsite.chat.hub import hub
    from chatsite.chat.models import Conversation

    conversation = await Conversation.objects.select_related("owner").aget(pk=conversation_id)
    counter.counts.clear()
    counter.active = True
    turn = await services.send_message(conversation.owner, conversation, message)
    runner = hub.runner(turn.pk)
    if runner is not None and runner.task is not None:
        await asyncio.wait_for(runner.task, 120)
    counter.active = False
    await turn.arefresh_from_db()
    async with http_client() as http:
        emits = await emit_marks(http, ctx.emulator_url, [turn.interaction_id])
    statements = {
        f"{verb} {table}".strip(): n for (verb, table), n in sorted(counter.counts.items())
    }
    return {
        "status": turn.status,
        "deltas": len(emits[turn.interaction_id]),
        "writes": counter.writes(),
        "statements": statements,
        "saved_words": len(fixtures.model_text(turn.steps).split()),
    }


def _pg_counts() -> dict:
    with connection.cursor() as cursor:
        # Our own backend's counters (the conversation we just created) go out first.
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
            "WHERE relname LIKE 'chat\\_%'"
        )
        return {name: (ins, upd, dele) for name, ins, upd, dele in cursor.fetchall()}


def _pg_stat_reply(ctx, conversation_id, message) -> dict:
    """Row counters of the chat tables across one reply streamed through daphne."""

    def settled(previous=None, timeout=8.0):
        # Backends report their counters when idle (at most once a second): wait until stable.
        deadline = time.monotonic() + timeout
        last = _pg_counts()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = _pg_counts()
            if now == last and (previous is None or now != previous):
                return now
            last = now
        return last

    before = settled()

    async def reply():
        tab = await Tab.open(ctx.app_url, conversation_id, ctx.cookie)
        turn = await run_turn(tab, message)
        await tab.close()
        return turn

    turn = asyncio.run(reply())
    after = settled(before)
    delta = {}
    for table in after:
        b = before.get(table, (0, 0, 0))
        d = [a - x for a, x in zip(after[table], b, strict=True)]
        if any(d):
            delta[table] = {"inserted": d[0], "updated": d[1], "deleted": d[2]}
    saved = fixtures.turns_by_id([turn.turn_id])[turn.turn_id]
    return {
        "status": saved.status,
        "rows": delta,
        "writes": sum(v["inserted"] + v["updated"] for v in delta.values()),
    }
