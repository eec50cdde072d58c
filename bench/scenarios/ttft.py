"""1. Added time to first token.

App: time from sending {"action":"send"} on an open socket (what the page does with words,
composer.js) to receiving the first text-delta frame. Baseline: the same client POSTing the
same message to the emulator (streaming) and reading its SSE until the first text delta event.
One turn at a time, alternating which path goes first, chained with previous_interaction_id
like a conversation.

CPU per turn (µs, holds on any machine): daphne's CPU time over each measured app turn (send →
final status: mostly its first token, the replies are short) beside the emulator's over each
direct stream of the same reply.

`posted`: `paced`, sent as the page sends a message with files, "In background" or a settings
change not saved yet (the composer's form POSTed over HTTP with the session and CSRF token, the
reply on the page's socket); `paced` and `burst` send it as the page sends words alone.

Two variants, identical for both paths: `paced` (the headline) streams at 20 ms per delta, so the
first word comes 20 ms after the step opens, as with a real model; `burst` (pace 0) delivers the
whole short reply at once, so the app's first delta frame usually leaves with the end of the turn.
"""

from __future__ import annotations

import asyncio

from bench import fixtures
from bench.clients import (
    Page,
    Tab,
    added_turn_id,
    http_client,
    run_posted_turn,
    status_of,
    stream_direct,
)
from bench.clients import run_turn as run_socket_turn
from bench.servers import Interference, wait_for_quiet
from bench.stats import median, ms_summary

# name: (pace ms, words, sent as the page sends it: the composer's POST, not a socket action)
VARIANTS = {"paced": (20, 3, False), "burst": (0, 20, False), "posted": (20, 3, True)}


def run(ctx) -> dict:
    out = {}
    for name, (pace, words, posted) in VARIANTS.items():
        conversation = fixtures.make_conversations(ctx.user, 1, f"ttft {name}")[0]
        quiet = wait_for_quiet()
        with Interference(ctx.daphne, ctx.emulator) as other:
            out[name] = asyncio.run(_measure(ctx, conversation, pace, words, posted))
        out[name]["machine_before"] = quiet
        out[name]["others_cpu_percent"] = other.percent
    return out


class _TurnCpu:
    """CPU seconds of daphne and the emulator spent over measured turns (summed; /proc counts
    in 10 ms ticks, which averages out over many turns)."""

    def __init__(self, daphne, emulator):
        self.procs = {"daphne": daphne, "emulator": emulator}
        self.app = {"daphne": 0.0, "emulator": 0.0}
        self.direct = {"emulator": 0.0}

    def read(self) -> dict:
        return {k: p.cpu_seconds() for k, p in self.procs.items() if p is not None}

    def add(self, into: dict, before: dict) -> None:
        after = self.read()
        for k in into:
            if k in after:
                into[k] += after[k] - before[k]

    def micros(self, turns: int) -> dict:
        if not turns or not all(p is not None for p in self.procs.values()):
            return {}
        return {
            "app_daphne": 1e6 * self.app["daphne"] / turns,
            "app_emulator": 1e6 * self.app["emulator"] / turns,
            "direct_emulator": 1e6 * self.direct["emulator"] / turns,
        }


async def _measure(ctx, conversation: int, pace: int, words: int, posted: bool) -> dict:
    p = ctx.profile
    tab = await Tab.open(ctx.app_url, conversation, ctx.cookie)
    app, direct, to_bubble, to_status = [], [], [], []
    cpu = _TurnCpu(ctx.daphne, ctx.emulator)
    previous = None
    async with http_client() as http:
        page = Page(http, ctx.app_url, ctx.cookie, conversation)

        async def run_turn(tab, message):
            if posted:
                return await run_posted_turn(tab, page, message)
            return await run_socket_turn(tab, message)

        for i in range(p.ttft_warmup + p.ttft_turns):
            message = f"ttft {i} [emulator:pace={pace}] [emulator:words={words}]"
            warm = i < p.ttft_warmup
            if i % 2:
                before = cpu.read()
                turn = await run_turn(tab, message)
                if not warm:
                    cpu.add(cpu.app, before)
                before = cpu.read()
                stream = await stream_direct(http, ctx.emulator_url, message, previous)
                if not warm:
                    cpu.add(cpu.direct, before)
            else:
                before = cpu.read()
                stream = await stream_direct(http, ctx.emulator_url, message, previous)
                if not warm:
                    cpu.add(cpu.direct, before)
                before = cpu.read()
                turn = await run_turn(tab, message)
                if not warm:
                    cpu.add(cpu.app, before)
            previous = stream.interaction_id
            if warm:
                continue
            app_first, direct_first = turn.first_delta_at(), stream.first_delta_at()
            if app_first is None or direct_first is None:  # as before: no delta, no measure
                raise TypeError("a measured turn streamed no text delta")
            app.append(app_first - turn.sent_at)
            direct.append(direct_first - stream.sent_at)
            # Where the app's time goes: the user's bubble, then the first status frame.
            for t, frame in turn.frames:
                if added_turn_id(frame) is not None:
                    to_bubble.append(t - turn.sent_at)
                    break
            for t, frame in turn.frames:
                if status_of(frame):
                    to_status.append(t - turn.sent_at)
                    break
    await tab.close()
    app_ms, direct_ms = ms_summary(app), ms_summary(direct)
    bubble, status = median(to_bubble), median(to_status)  # None when empty
    return {
        "turns": len(app),
        "posted": posted,
        "pace_ms": pace,
        "words": words,
        "app": app_ms,
        "direct": direct_ms,
        "overhead_p50_ms": app_ms["p50"] - direct_ms["p50"],
        "overhead_p99_ms": app_ms["p99"] - direct_ms["p99"],
        "app_to_user_bubble_p50_ms": 1000 * bubble if bubble is not None else None,
        "app_to_first_status_p50_ms": 1000 * status if status is not None else None,
        # Machine-independent: CPU µs per turn (its first token and the short rest of it) in
        # daphne, beside the emulator's per stream it served, both paths.
        "cpu_us_per_turn": cpu.micros(len(app)),
    }
