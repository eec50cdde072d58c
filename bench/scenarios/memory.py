"""4. Memory per idle websocket over 1,000 connections.

A fresh daphne (same settings and database) is warmed up (a few sockets and page loads), then its
RSS (/proc/<pid>/status VmRSS) is read: before, with 1,000 authenticated sockets open (each on its
own conversation, so each is a hub subscriber and a member of its user's channel-layer group),
and after they are closed. Baseline, on a second fresh daphne warmed up the same way: the same
three readings for 1,000 plain TCP connections that send nothing (daphne accepts each and keeps
an HTTP protocol object for it) — the cost of a connection before any websocket or Django state.

A socket that stops reading, on a third fresh daphne (logging at INFO): one tab that never reads
and one that does, on the same conversation, while long replies stream one after another, the
stalled one asking for the whole conversation after each, until daphne closes it (at most
MAX_REPLIES); the figure is what daphne says it held unsent for it when it closed it (its log),
beside the bytes the reading tab received.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import time

import httpx

from bench import fixtures
from bench.clients import StalledSocket, Tab, run_turn
from bench.servers import HOST, CpuMeter, start_daphne

OPEN_CONCURRENCY = 50
SETTLE_S = 2.0


def run(ctx) -> dict:
    n = ctx.profile.idle_sockets
    conversations = fixtures.make_conversations(ctx.user, n, "idle")
    out = {"connections": n}
    proc, url = ctx.start_daphne("daphne-idle-ws")
    try:
        out["websocket"] = asyncio.run(_websockets(ctx, proc, url, conversations))
    finally:
        proc.stop()
    proc, url = ctx.start_daphne("daphne-idle-tcp")
    try:
        out["tcp"] = asyncio.run(_tcp(ctx, proc, url, conversations))
    finally:
        proc.stop()
    proc, url = start_daphne({**ctx.env, "LOG_LEVEL": "INFO"}, ctx.var_dir, "daphne-stop-reading")
    try:
        out["stop_reading"] = asyncio.run(_stop_reading(ctx, proc, url, conversations[0]))
    except Exception as exc:  # a row without data says so; the rest of the scenario stands
        out["stop_reading"] = {"error": repr(exc)[:200]}
    finally:
        proc.stop()
    return out


LONG_REPLY = "long [emulator:words=60000] [emulator:pace=0]"
MAX_REPLIES = 12
RESUME_ALL = json.dumps({"action": "resume", "turns": [], "after": 0})
# Logged by whichever closes it first: daphne_guard (per send) or the hub (per frame queued).
HELD = re.compile(r"(?:websocket that stopped reading|a socket fell behind) \((\d+) bytes unsent\)")


async def _stop_reading(ctx, proc, url: str, conversation: int) -> dict:
    stalled = await asyncio.to_thread(StalledSocket, url, conversation, ctx.cookie)
    tab = await Tab.open(url, conversation, ctx.cookie)
    rss_before = proc.rss_kib()
    payload = replies = 0
    held: list[int] = []
    # Each reply streams to both tabs; after each, the stalled tab asks for the whole
    # conversation again (as a reconnecting tab would), so what waits for it grows fast enough
    # to pass the kernel's buffers before daphne's pings (every 20 s) would time it out.
    while replies < MAX_REPLIES and not held:
        turn = await run_turn(tab, LONG_REPLY, timeout=300)
        payload += turn.payload_bytes()
        replies += 1
        with contextlib.suppress(OSError):  # the server dropped it already
            await asyncio.to_thread(stalled.send_text, RESUME_ALL)
        await asyncio.sleep(0.5)
        held = [int(n) for n in HELD.findall(proc.log_path.read_text())]
    rss_after = proc.rss_kib()
    await tab.close()
    received, closed = await asyncio.to_thread(stalled.drain)
    return {
        "closed": closed,
        "held_bytes": max(held) if held else None,
        "replies": replies,
        "stalled_received_bytes": received,
        "reader_payload_bytes": payload,
        "rss_growth_kib": rss_after - rss_before,
    }


async def _warm_up(ctx, url: str, conversations: list[int]) -> None:
    async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
        for _ in range(3):
            await http.get("/accounts/login/")
            await http.get(f"/c/{conversations[0]}/", headers={"Cookie": ctx.cookie})
    for _ in range(2):
        tabs = [await Tab.open(url, c, ctx.cookie) for c in conversations[:20]]
        for tab in tabs:
            await tab.close()
    await asyncio.sleep(SETTLE_S)


def _figures(before: int, during: int, after: int, n: int) -> dict:
    grown = during - before
    return {
        "rss_before_kib": before,
        "rss_open_kib": during,
        "rss_closed_kib": after,
        "kib_per_connection": grown / n,
        "closed_vs_before_percent": 100 * (after - before) / before,
        "growth_retained_percent": 100 * (after - before) / grown if grown > 0 else None,
    }


async def _websockets(ctx, proc, url: str, conversations: list[int]) -> dict:
    await _warm_up(ctx, url, conversations)
    before = proc.rss_kib()
    first = await _open_idle_close(ctx, proc, url, conversations)
    # A second round tells a leak (RSS climbs again) from memory the allocator keeps for reuse
    # (RSS stays where the first round left it).
    second = await _open_idle_close(ctx, proc, url, conversations)
    return {
        **_figures(before, first["open"], first["closed"], len(conversations)),
        "open_seconds": first["open_seconds"],
        "still_open": first["still_open"],
        "idle_cpu_percent": first["idle_cpu_percent"],
        "second_round": {
            "rss_open_kib": second["open"],
            "rss_closed_kib": second["closed"],
            "kib_per_connection_vs_first_closed": (second["open"] - first["closed"])
            / len(conversations),
            "still_open": second["still_open"],
        },
    }


async def _open_idle_close(ctx, proc, url: str, conversations: list[int]) -> dict:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_one(conversation):
        async with gate:
            return await Tab.open(url, conversation, ctx.cookie)

    started = time.monotonic()
    tabs = await asyncio.gather(*(open_one(c) for c in conversations))
    open_s = time.monotonic() - started
    with CpuMeter(proc) as idle_cpu:
        await asyncio.sleep(SETTLE_S)
    during = proc.rss_kib()
    still_open = sum(1 for t in tabs if t.closed_code is None)
    await asyncio.gather(*(t.close() for t in tabs))
    del tabs
    gc.collect()
    await asyncio.sleep(SETTLE_S + 1)
    return {
        "open": during,
        "closed": proc.rss_kib(),
        "open_seconds": open_s,
        "still_open": still_open,
        "idle_cpu_percent": idle_cpu.percent,
    }


async def _tcp(ctx, proc, url: str, conversations: list[int]) -> dict:
    n = len(conversations)
    port = int(url.rsplit(":", 1)[1])
    await _warm_up(ctx, url, conversations)
    before = proc.rss_kib()
    writers = []
    for _ in range(n):
        _, writer = await asyncio.open_connection(HOST, port)
        writers.append(writer)
    await asyncio.sleep(SETTLE_S)
    during = proc.rss_kib()
    for writer in writers:
        writer.close()
    await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
    await asyncio.sleep(SETTLE_S + 1)
    after = proc.rss_kib()
    return _figures(before, during, after, n)
