"""8. Several processes: N streams over two daphne processes on PostgreSQL + Redis.

Two daphne processes, A (the set-up's own) and B (started here with the same settings), share
the database, the Redis channel layer and the emulator. N people (a team, not one person with N
tabs), each with one conversation and one tab on it; each message is sent on a socket of the
process that is to run its reply — A for half of them, B for the other half — so each process
runs N/2 replies and keeps N/2 tabs. In the measured run half the tabs are connected to the
process that does *not* run their reply (a quarter of A's and B's replies each way): their
message goes out on a second socket of the person's, on the owner, closed once the turn is
added, and their text reaches them only through the relay (Redis, one batched message per flush
interval). In the baseline run, the same streams with every tab on the process that runs its
reply, sending on it. Replies are `relay_words` one-word deltas at `relay_pace_ms` (50 deltas/s),
the sends spread over `scaleout_spread_s`.

Latency of a delta and lost/doubled characters are measured as in the relay scenario (2): emit
instant at the emulator, receive instant at the tab, the tab's text rebuilt as chat.js builds it
and compared with the emulator's stored reply (and the saved turn). Headline figures cover the
window in which every reply streams; the remote tabs' own p50/p99 are kept too.

Only on PostgreSQL + Redis: on the defaults set-up (SQLite + in-memory layer) processes share
no channel layer, so the scenario is skipped and says why.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings

from bench import fixtures
from bench.clients import (
    Tab,
    TabTurn,
    added_turn_id,
    emit_marks,
    http_client,
    is_final_status,
    latencies,
    run_turn,
    upstream_text,
)
from bench.scenarios.relay import (
    OPEN_CONCURRENCY,
    _cleanest,
    _load,
    _message,
    _window,
    char_diff,
    steady_window,
)
from bench.stats import ms_summary


def skip_reason() -> str | None:
    engine = settings.DATABASES["default"]["ENGINE"]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if "postgresql" not in engine or "Redis" not in layer:
        return (
            "needs PostgreSQL + Redis: processes on SQLite and the in-memory channel layer share "
            "no relay"
        )
    return None


def run(ctx) -> dict:
    p = ctx.profile
    n = p.scaleout_streams
    out: dict = {
        "streams": n,
        "words": p.relay_words,
        "pace_ms": p.relay_pace_ms,
        "spread_s": p.scaleout_spread_s,
    }
    reason = skip_reason()
    if reason:
        print(f"[{ctx.mode}] scaleout skipped: {reason}", flush=True)
        return {**out, "skipped": reason}
    daphne_b, url_b = ctx.start_daphne("daphne-b")
    try:
        procs = [(ctx.daphne, ctx.app_url), (daphne_b, url_b)]
        people = _people(n)
        out["split"] = _cleanest(lambda: asyncio.run(_run(ctx, procs, people, True)))
        out["same"] = _cleanest(lambda: asyncio.run(_run(ctx, procs, people, False)))
    finally:
        daphne_b.stop()
    return out


def _layout(i: int, split: bool) -> tuple[int, int]:
    """(process running stream i's reply, process its tab is on): replies alternate A, B;
    in the split run every other pair of streams has its tab on the other process."""
    owner = i % 2
    remote = split and (i // 2) % 2 == 1
    return owner, 1 - owner if remote else owner


def _people(n: int) -> list[tuple[str, int, int]]:
    """N people, each with one conversation per run: [(cookie, split-run, baseline)]."""
    return [(cookie, split, same) for cookie, (split, same) in fixtures.people("scaleout", n, 2)]


async def _sent_elsewhere(tab: Tab, sender: Tab, message: str) -> TabTurn:
    """Send on the owner's socket; once the turn is added there, that socket closes and the
    turn is followed on `tab` (on the other process) alone."""
    start = len(tab.frames)
    sent = await sender.send({"action": "send", "message": message})
    await sender.wait_for(lambda f: added_turn_id(f) is not None, 0, 60)
    await sender.close()
    added = await tab.wait_for(lambda f: added_turn_id(f) is not None, start, 60)
    turn_id = added_turn_id(tab.frames[added][1])
    if turn_id is None:  # wait_for returned on a frame that had one
        raise RuntimeError("the added turn's frame had no id")
    end = await tab.wait_for(lambda f: is_final_status(f, turn_id), added, 60)
    return TabTurn(turn_id, sent, tab.frames[start : end + 1])


async def _run(ctx, procs, people, split: bool) -> dict:
    n = len(people)
    layout = [_layout(i, split) for i in range(n)]
    conversations = [split_id if split else same_id for _, split_id, same_id in people]
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_tab(i, where):
        async with gate:
            return await Tab.open(procs[where][1], conversations[i], people[i][0])

    tabs = await asyncio.gather(*(open_tab(i, layout[i][1]) for i in range(n)))
    remote = [i for i in range(n) if layout[i][0] != layout[i][1]]
    senders = dict(
        zip(remote, await asyncio.gather(*(open_tab(i, layout[i][0]) for i in remote)), strict=True)
    )
    await asyncio.sleep(0.5)
    message = _message(ctx, n)

    def one_turn(i):
        if i in senders:
            return _sent_elsewhere(tabs[i], senders[i], message)
        return run_turn(tabs[i], message, timeout=60)

    outcomes, sampler = await _load(
        ctx,
        n,
        one_turn,
        {"daphne_a": procs[0][0], "daphne_b": procs[1][0], "emulator": ctx.emulator,
         "client": None},
    )  # fmt: skip
    closed_early = sum(1 for t in tabs if t.closed_code is not None)
    await asyncio.gather(*(t.close() for t in [*tabs, *senders.values()]), return_exceptions=True)
    failed = [repr(t) for t in outcomes if isinstance(t, BaseException)]
    done = [
        (i, t.replay()) for i, t in enumerate(outcomes) if not isinstance(t, BaseException)
    ]  # fmt: skip
    saved = await sync_to_async(fixtures.turns_by_id)([t.turn_id for _, t in done])
    pairs: list[tuple[float, float]] = []
    remote_pairs: list[tuple[float, float]] = []
    lost = doubled = mismatched = saved_wrong = deltas = 0
    async with http_client() as http:
        ids = [saved[t.turn_id].interaction_id for _, t in done]
        emits = await emit_marks(http, ctx.emulator_url, [i for i in ids if i])
        for (i, turn), iid in zip(done, ids, strict=True):
            if not iid:
                failed.append(f"turn {turn.turn_id} never reached the API")
                continue
            truth = await upstream_text(http, ctx.emulator_url, iid)
            target = turn.main_target()
            shown = turn.text.get(target, "")
            stream_lost, stream_doubled = char_diff(truth, shown)
            lost += stream_lost
            doubled += stream_doubled
            mismatched += shown != truth
            saved_wrong += fixtures.model_text(saved[turn.turn_id].steps) != truth
            deltas += len(emits[iid])
            found = latencies(emits[iid], turn.marks.get(target, []))
            pairs.extend(found)
            if layout[i][0] != layout[i][1]:
                remote_pairs.extend(found)
    window = steady_window([emits[i] for i in ids if i])
    return {
        "streams": n,
        "remote_tabs": sum(1 for owner, tab in layout if owner != tab),
        "window_s": max(0.0, window[1] - window[0]),
        "cpu_percent": sampler.percent(window),
        "turns": n,
        "completed": n - len(failed),
        "failed": failed[:5],
        "sockets_closed_early": closed_early,
        "deltas": deltas,
        "latency": ms_summary(_window(pairs, window)),
        "latency_remote": ms_summary(_window(remote_pairs, window)),
        "latency_whole_run": ms_summary([lat for _, lat in pairs]),
        "lost_chars": lost,
        "doubled_chars": doubled,
        "streams_text_mismatch": mismatched,
        "streams_saved_mismatch": saved_wrong,
    }
