"""2. Relay latency per delta at 1, 100 and 200 (full profile: and 300) concurrent streams of
50 deltas/s, and CPU per delta.

Load: N sockets, each on its own conversation of its own person (as a team streams: one person
with N tabs would make every reply's start a sidebar update on all N, and one start at a time,
for the person's limits), each sending one message whose reply is
`relay_words` one-word deltas at 20 ms, plus `relay_words_per_stream` for each of the N: every
reply must still be streaming when the last of them starts, or there is no moment when all N
run (each start costs the app tens of ms of CPU on a slow machine; the first-token rows measure
that). The N sends are spread evenly over `relay_spread_s`.
The headline figures cover the deltas emitted while all N replies stream: from the moment the
last of them emitted its first delta (+0.2 s) to the moment the first of them emitted its last
(−0.1 s). CPU is sampled every 100 ms and read over the same window. Figures over the whole run
(N reply starts and N finishes included) are kept too. CPU per delta (µs), which unlike stream
counts holds on any machine: daphne's CPU time over the window ÷ the deltas the emulator emitted
in it (each one daphne relays), beside the emulator's CPU time ÷ the same deltas.

Latency of a delta: the emulator keeps the instant it appended each text delta to its event log
(CLOCK_MONOTONIC, shared by every process on the machine); the client keeps the instant each
frame arrived; latency = receive time of the first frame whose text covers the delta's last
character − its emit time. Baseline: the same load read straight from the emulator's SSE by the
same kind of client, measured the same way.

Lost/doubled characters: the text the tab ends up showing (snapshots set it, deltas append, as
chat.js does) is compared with the emulator's stored reply; the turn saved in the database too.
"""

from __future__ import annotations

import asyncio
import difflib
import time

from asgiref.sync import sync_to_async

from bench import fixtures
from bench.clients import (
    Tab,
    emit_marks,
    http_client,
    latencies,
    run_turn,
    stream_direct,
    upstream_text,
)
from bench.servers import CpuMeter, SystemCpu, wait_for_quiet
from bench.stats import ms_summary

OPEN_CONCURRENCY = 50


def run(ctx) -> dict:
    p = ctx.profile
    # One person per stream, as a team streams (fixtures.people).
    conversations = [
        (cookie, ids[0]) for cookie, ids in fixtures.people("relay", max(p.relay_loads), 1)
    ]
    out: dict = {"words": p.relay_words, "pace_ms": p.relay_pace_ms, "spread_s": p.relay_spread_s}
    for n in p.relay_loads:
        app = _cleanest(lambda n=n: asyncio.run(_app(ctx, conversations[:n])))
        direct = _cleanest(lambda n=n: asyncio.run(_direct(ctx, n)))
        entry = {"app": app, "direct": direct, "words": words(p, n)}
        a, d = app["latency"], direct["latency"]
        if a["p50"] is not None and d["p50"] is not None:
            entry["added_p50_ms"] = a["p50"] - d["p50"]
            entry["added_p99_ms"] = a["p99"] - d["p99"]
        out[str(n)] = entry
    return out


def _cleanest(measure, attempts: int = 2, noisy: float = 25.0) -> dict:
    """This machine is shared: when other processes took more than `noisy` % CPU during the
    measurement, measure once more and keep the least disturbed run."""
    runs = []
    for _ in range(attempts):
        quiet = wait_for_quiet()
        result = measure()
        result["machine_before"] = quiet
        others = result["cpu_percent"].get("others", 0.0)
        runs.append((others, result))
        if others <= noisy:
            break
    best = min(runs, key=lambda r: r[0])[1]
    best["attempts"] = len(runs)
    return best


def words(profile, n: int) -> int:
    return profile.relay_words + (profile.relay_words_per_stream * n if n > 1 else 0)


def _message(ctx, n: int) -> str:
    p = ctx.profile
    return f"relay [emulator:pace={p.relay_pace_ms}] [emulator:words={words(p, n)}]"


class Sampler:
    """CPU seconds of some processes (None: this one) and of the whole machine, every 100 ms."""

    def __init__(self, procs: dict):
        self.meters = {name: CpuMeter(proc) for name, proc in procs.items()}
        self.samples: list[tuple[float, dict]] = []

    def sample(self) -> None:
        values = {name: m.cpu_seconds() for name, m in self.meters.items()}
        values["machine"] = SystemCpu.busy_seconds()
        self.samples.append((time.monotonic(), values))

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.1)

    def micros_per_event(self, window: tuple[float, float], times: list[float]) -> dict:
        """CPU µs per event of each process over the samples inside `window`, counting the
        events (e.g. emitted deltas, by their instants) between the first and last of them."""
        inside = [s for s in self.samples if window[0] <= s[0] <= window[1]]
        if len(inside) < 2:
            return {"events": 0}
        (t0, a), (t1, b) = inside[0], inside[-1]
        events = sum(1 for t in times if t0 <= t < t1)
        out: dict = {"events": events, "seconds": t1 - t0}
        for name in a:
            if name not in ("machine", "client") and events:
                out[name] = 1e6 * (b[name] - a[name]) / events
        return out

    def percent(self, window: tuple[float, float]) -> dict:
        inside = [s for s in self.samples if window[0] <= s[0] <= window[1]]
        if len(inside) < 2:
            return {}
        (t0, a), (t1, b) = inside[0], inside[-1]
        out = {name: 100 * (b[name] - a[name]) / (t1 - t0) for name in a}
        out["others"] = max(0.0, out["machine"] - sum(v for k, v in out.items() if k != "machine"))
        return out


async def _load(ctx, n: int, one_turn, procs: dict) -> tuple[list, Sampler]:
    """N replies, sends spread evenly over `relay_spread_s`; CPU sampled meanwhile."""
    spread = ctx.profile.relay_spread_s if n > 1 else 0.0

    async def one(i):
        await asyncio.sleep(i * spread / n)
        return await one_turn(i)

    sampler = Sampler(procs)
    sampling = asyncio.ensure_future(sampler.run())
    try:
        results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    finally:
        sampling.cancel()
    sampler.sample()
    return list(results), sampler


def steady_window(emits: list[list[tuple[float, int]]]) -> tuple[float, float]:
    """While every stream emits: after the last first delta, before the first last delta."""
    emits = [e for e in emits if e]
    if not emits:
        return (0.0, 0.0)
    return max(e[0][0] for e in emits) + 0.2, min(e[-1][0] for e in emits) - 0.1


def overlap(emits: list[list[tuple[float, int]]]) -> dict:
    """When the last reply began and the first ended, from the first's first delta (s): with
    the first later than the second, there was no moment when all of them streamed."""
    emits = [e for e in emits if e]
    if not emits:
        return {}
    start = min(e[0][0] for e in emits)
    return {
        "last_began_s": max(e[0][0] for e in emits) - start,
        "first_ended_s": min(e[-1][0] for e in emits) - start,
    }


def _window(pairs, window: tuple[float, float]) -> list[float]:
    return [lat for t_emit, lat in pairs if window[0] <= t_emit < window[1]]


async def _app(ctx, conversations: list[tuple[str, int]]) -> dict:
    """conversations: (the person's cookie, their conversation) per stream."""
    n = len(conversations)
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_tab(cookie, cid):
        async with gate:
            return await Tab.open(ctx.app_url, cid, cookie)

    tabs = await asyncio.gather(*(open_tab(*c) for c in conversations))
    await asyncio.sleep(0.3)
    message = _message(ctx, n)
    outcomes, sampler = await _load(
        ctx,
        n,
        lambda i: run_turn(tabs[i], message, timeout=60),
        {"daphne": ctx.daphne, "emulator": ctx.emulator, "client": None},
    )
    closed_early = sum(1 for t in tabs if t.closed_code is not None)
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)
    failed = [repr(t) for t in outcomes if isinstance(t, BaseException)]
    turns = [t.replay() for t in outcomes if not isinstance(t, BaseException)]

    saved = await sync_to_async(fixtures.turns_by_id)([t.turn_id for t in turns])
    pairs: list[tuple[float, float]] = []
    lost = doubled = mismatched = saved_wrong = deltas = frames = payload = chars = 0
    async with http_client() as http:
        ids = [saved[t.turn_id].interaction_id for t in turns]
        emits = await emit_marks(http, ctx.emulator_url, [i for i in ids if i])
        for turn, iid in zip(turns, ids, strict=True):
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
            pairs.extend(latencies(emits[iid], turn.marks.get(target, [])))
            frames += len(turn.frames)
            payload += turn.payload_bytes()
            chars += len(truth)
    window = steady_window([emits[i] for i in ids if i])
    steady = _window(pairs, window)
    emitted = [t for i in ids if i for t, _ in emits[i]]
    return {
        "streams": n,
        "overlap": overlap([emits[i] for i in ids if i]),
        "window_s": max(0.0, window[1] - window[0]),
        "cpu_percent": sampler.percent(window),
        # Machine-independent: daphne's CPU per delta it relayed beside the emulator's per delta
        # it generated, both while every stream is on.
        "cpu_us_per_delta": sampler.micros_per_event(window, emitted),
        "turns": len(turns) + len(failed),
        "completed": len(turns),
        "failed": failed[:5],
        "sockets_closed_early": closed_early,
        "deltas": deltas,
        "latency": ms_summary(steady),
        "latency_whole_run": ms_summary([lat for _, lat in pairs]),
        "lost_chars": lost,
        "doubled_chars": doubled,
        "streams_text_mismatch": mismatched,
        "streams_saved_mismatch": saved_wrong,
        "frames_per_turn": frames / max(1, len(turns)),
        "bytes_per_char": payload / max(1, chars),
    }


async def _direct(ctx, n: int) -> dict:
    message = _message(ctx, n)
    async with http_client() as http:
        outcomes, sampler = await _load(
            ctx,
            n,
            lambda i: stream_direct(http, ctx.emulator_url, message),
            {"emulator": ctx.emulator, "client": None},
        )
        failed = [repr(s) for s in outcomes if isinstance(s, BaseException)]
        streams = [s for s in outcomes if not isinstance(s, BaseException)]
        emits = await emit_marks(http, ctx.emulator_url, [s.interaction_id for s in streams])
        pairs: list[tuple[float, float]] = []
        lost = doubled = 0
        for s in streams:
            truth = await upstream_text(http, ctx.emulator_url, s.interaction_id)
            stream_lost, stream_doubled = char_diff(truth, s.text)
            lost += stream_lost
            doubled += stream_doubled
            pairs.extend(latencies(emits[s.interaction_id], s.marks))
    window = steady_window(list(emits.values()))
    steady = _window(pairs, window)
    emitted = [t for marks in emits.values() for t, _ in marks]
    return {
        "streams": n,
        "window_s": max(0.0, window[1] - window[0]),
        "cpu_percent": sampler.percent(window),
        "cpu_us_per_delta": sampler.micros_per_event(window, emitted),
        "completed": len(streams),
        "failed": failed[:5],
        "latency": ms_summary(steady),
        "latency_whole_run": ms_summary([lat for _, lat in pairs]),
        "lost_chars": lost,
        "doubled_chars": doubled,
    }


def char_diff(truth: str, shown: str) -> tuple[int, int]:
    """(characters missing from `shown`, characters in `shown` that are extra)."""
    if truth == shown:
        return 0, 0
    lost = extra = 0
    matcher = difflib.SequenceMatcher(None, truth, shown, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            lost += a1 - a0
        if op in ("insert", "replace"):
            extra += b1 - b0
    return lost, extra
