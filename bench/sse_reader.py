"""Micro-bench of the upstream SSE reader: `python -m bench.sse_reader [--streams N] ...`.

Starts the bench emulator, then reads the same load once per reader per round, alternating
the order: `httpx-sse` (the reader before issue 16: `EventSource.aiter_sse()` over a response
whose reads carry httpx's read timeout, one anyio cancel scope per read), `reader-only`
(chatsite's reader: one byte loop feeding httpx-sse's decoders, one watchdog timer per stream,
on httpx's default transport) and `lean` (the same on `gemini.transport`'s asyncio backend, as
the app runs it).
Prints this process's CPU µs per event received for each, beside the emulator's CPU µs per
event generated in the same run, so the figure can be compared across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx
from httpx_sse import EventSource

from bench.clients import API_KEY_HEADER, MODEL
from bench.servers import start_emulator
from chatsite.gemini import InteractionsClient

TIMEOUT = 60.0
KINDS = ("httpx-sse", "reader-only", "lean")


def _body(words: int, pace: int) -> dict:
    text = f"sse bench [emulator:pace={pace}] [emulator:words={words}]"
    return {"model": MODEL, "input": [{"type": "text", "text": text}]}


async def _old_reader(http: httpx.AsyncClient, url: str, body: dict) -> int:
    timeout = httpx.Timeout(TIMEOUT, connect=10.0)
    async with http.stream(
        "POST",
        url + "/interactions",
        json={**body, "stream": True},
        headers=API_KEY_HEADER,
        timeout=timeout,
    ) as response:
        response.encoding = "utf-8-sig"
        events = 0
        async for sse in EventSource(response).aiter_sse():
            if sse.data and sse.data != "[DONE]":
                json.loads(sse.data)
                events += 1
        return events


async def _lean_reader(client: InteractionsClient, body: dict) -> int:
    events = 0
    async with client.stream_create(body) as stream:
        async for _event in stream:
            events += 1
    return events


async def _round(kind: str, url: str, streams: int, body: dict) -> dict:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
    async with httpx.AsyncClient(limits=limits) as http:
        # "reader-only": the lean reader on httpx's default (anyio) transport; "lean": the
        # client as the app builds it, on its own transport too.
        shared = InteractionsClient(url, "bench-key", timeout=TIMEOUT, http_client=http)
        async with InteractionsClient(url, "bench-key", timeout=TIMEOUT) as own:
            cpu0, wall0 = time.process_time(), time.monotonic()
            if kind == "httpx-sse":
                reads = [_old_reader(http, url, body) for _ in range(streams)]
            else:
                client = own if kind == "lean" else shared
                reads = [_lean_reader(client, body) for _ in range(streams)]
            counts = await asyncio.gather(*reads)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    events = sum(counts)
    return {"events": events, "cpu_s": cpu, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--words", type=int, default=150)
    parser.add_argument("--pace-ms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    body = _body(args.words, args.pace_ms)
    with tempfile.TemporaryDirectory() as tmp:
        emulator, url = start_emulator(Path(tmp))
        try:
            totals: dict[str, dict] = {}
            for i in range(args.rounds):
                order = KINDS if i % 2 == 0 else KINDS[::-1]
                for kind in order:
                    emu0 = emulator.cpu_seconds()
                    r = asyncio.run(_round(kind, url, args.streams, body))
                    r["emulator_cpu_s"] = emulator.cpu_seconds() - emu0
                    t = totals.setdefault(kind, {"events": 0, "cpu_s": 0.0, "emulator_cpu_s": 0.0})
                    for key in t:
                        t[key] += r[key]
        finally:
            emulator.stop()
    print(f"{args.streams} streams × {args.words} words at {args.pace_ms} ms, {args.rounds} rounds")
    for kind, t in totals.items():
        per = 1e6 * t["cpu_s"] / max(1, t["events"])
        emu = 1e6 * t["emulator_cpu_s"] / max(1, t["events"])
        print(
            f"  {kind:11s}: reader {per:6.1f} µs CPU per event ({t['events']:,} events); "
            f"emulator {emu:6.1f} µs per event generated"
        )


if __name__ == "__main__":
    main()
