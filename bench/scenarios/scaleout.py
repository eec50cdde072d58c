"""8. Several processes: N streams over two daphne processes on PostgreSQL + Redis.

Two daphne processes, A (the set-up's own) and B (started here with the same settings), share
the database, the Redis channel layer and the emulator. N conversations, each with one tab; each
conversation's message is POSTed to the process that is to run its reply — A for half of them,
B for the other half — so each process runs N/2 replies and keeps N/2 tabs. In the measured run
half the tabs are connected to the process that does *not* run their reply (a quarter of A's
and B's replies each way), so their text reaches them only through the relay (Redis, one batched
message per flush interval); in the baseline run, the same streams with every tab on the process
that runs its reply. Replies are `relay_words` one-word deltas at `relay_pace_ms` (50 deltas/s),
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
import re
import time

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

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SEND_CONCURRENCY = 8  # each send is a request: a thread and a database connection


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
        conversations = fixtures.make_conversations(ctx.user, 2 * n, "scaleout")
        out["split"] = _cleanest(lambda: asyncio.run(_run(ctx, procs, conversations[:n], True)))
        out["same"] = _cleanest(lambda: asyncio.run(_run(ctx, procs, conversations[n:], False)))
    finally:
        daphne_b.stop()
    return out


def _layout(i: int, split: bool) -> tuple[int, int]:
    """(process running stream i's reply, process its tab is on): replies alternate A, B;
    in the split run every other pair of streams has its tab on the other process."""
    owner = i % 2
    remote = split and (i // 2) % 2 == 1
    return owner, 1 - owner if remote else owner


class Sender:
    """POSTs messages to one process as the composer does (session cookie, CSRF token)."""

    def __init__(self, url: str, cookie: str):
        self.url = url
        self.http = http_client()
        name, value = cookie.split("=", 1)
        self.http.cookies.set(name, value)  # the CSRF cookie joins it from the first page
        self.token = ""

    async def open(self) -> Sender:
        page = await self.http.get(self.url + "/")
        page.raise_for_status()
        self.token = CSRF.search(page.text).group(1)
        return self

    async def send(self, conversation_id: int, message: str) -> None:
        response = await self.http.post(
            f"{self.url}/c/{conversation_id}/send/",
            data={"message": message, "csrfmiddlewaretoken": self.token},
            headers={"Origin": self.url, "Referer": f"{self.url}/c/{conversation_id}/"},
        )
        if response.status_code != 302:
            raise RuntimeError(f"send refused: {response.status_code} {response.text[:200]}")

    async def close(self) -> None:
        await self.http.aclose()


async def _turn(tab: Tab, sender: Sender, gate: asyncio.Semaphore, message: str) -> TabTurn:
    start = len(tab.frames)
    sent = time.monotonic()
    async with gate:
        await sender.send(tab.conversation_id, message)
    added = await tab.wait_for(lambda f: added_turn_id(f) is not None, start, 60)
    turn_id = added_turn_id(tab.frames[added][1])
    end = await tab.wait_for(lambda f: is_final_status(f, turn_id), added, 60)
    return TabTurn(turn_id, sent, tab.frames[start : end + 1])


async def _run(ctx, procs, conversations: list[int], split: bool) -> dict:
    n = len(conversations)
    layout = [_layout(i, split) for i in range(n)]
    open_gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_tab(i):
        async with open_gate:
            return await Tab.open(procs[layout[i][1]][1], conversations[i], ctx.cookie)

    senders = [await Sender(url, ctx.cookie).open() for _, url in procs]
    tabs = await asyncio.gather(*(open_tab(i) for i in range(n)))
    await asyncio.sleep(0.5)
    message = _message(ctx)
    send_gate = asyncio.Semaphore(SEND_CONCURRENCY)
    outcomes, sampler = await _load(
        ctx,
        n,
        lambda i: _turn(tabs[i], senders[layout[i][0]], send_gate, message),
        {"daphne_a": procs[0][0], "daphne_b": procs[1][0], "emulator": ctx.emulator,
         "client": None},
    )  # fmt: skip
    closed_early = sum(1 for t in tabs if t.closed_code is not None)
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)
    for sender in senders:
        await sender.close()
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
