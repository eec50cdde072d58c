"""3. Bytes sent to the browser per output character, for ~1k, 10k and 50k character replies.

Every websocket payload the tab receives from its `send` to the turn's final status (the user's
bubble, status frames, step shells, text deltas, the final rendered step) is counted, as UTF-8
bytes, and divided by the characters of the final reply text. Two streaming profiles, one
stream at a time, one fresh conversation each: `burst` (pace 0: the upstream delivers as fast
as it can) and `paced` (one word per delta every `bytes_paced_ms`, about what a fast model
streams). The answer is formatted while it streams (live Markdown, chatsite/chat/rendering/live.py).
Baseline: the bytes of the emulator's own SSE for the same reply (the same message in a fresh
conversation gives the same words; SSE bytes do not depend on pace).
"""

from __future__ import annotations

import asyncio

from bench import fixtures
from bench.clients import Tab, http_client, is_delta, run_turn, stream_direct
from chatsite.emulator.generator import filler_words


def words_for(chars: int) -> int:
    """Filler words giving about `chars` characters."""
    sample = 20_000
    average = len(filler_words(sample)) / sample
    return max(1, round(chars / average))


def run(ctx) -> dict:
    p = ctx.profile
    plan = [("burst", 0, size) for size in p.bytes_sizes] + [
        ("paced", p.bytes_paced_ms, size) for size in p.bytes_paced_sizes
    ]
    conversations = fixtures.make_conversations(ctx.user, len(plan), "bytes")
    return asyncio.run(_measure(ctx, plan, conversations))


async def _measure(ctx, plan, conversations) -> dict:
    tabs = [await Tab.open(ctx.app_url, c, ctx.cookie) for c in conversations]

    def message(size, pace):
        return f"bytes {size} [emulator:pace={pace}] [emulator:words={words_for(size)}]"

    # One after the other: the tabs belong to one person, and every turn's sidebar change goes
    # to all their tabs; at once, each reply would count the others' sidebar frames too.
    turns = [
        await run_turn(tab, message(size, pace), timeout=300)
        for tab, (_, pace, size) in zip(tabs, plan, strict=True)
    ]
    for tab in tabs:
        await tab.close()
    async with http_client() as http:
        # Same message text as the app sent (pace only changes timing, not bytes).
        direct = {
            size: await stream_direct(http, ctx.emulator_url, message(size, 0))
            for size in sorted({size for _, _, size in plan})
        }
    out: dict = {"burst": {}, "paced": {}, "paced_ms": ctx.profile.bytes_paced_ms}
    for turn, (profile, _, size) in zip(turns, plan, strict=True):
        turn.replay()
        sse = direct[size]
        chars = len(sse.text)
        target = turn.main_target()
        shown = turn.text.get(target, "") if target is not None else ""
        deltas = [f for _, f in turn.frames if is_delta(f)]
        html = [f for _, f in turn.frames if f[:1] in ("<", "\n")]
        live = [f for _, f in turn.frames if f[:1] in ("=", ".")]  # block HTML, end marks
        payload = turn.payload_bytes()
        out[profile][str(size)] = {
            "chars": chars,
            "text_matches": shown == sse.text,
            "frames": len(turn.frames),
            "delta_frames": len(deltas),
            "payload_bytes": payload,
            "wire_bytes": turn.wire_bytes(),
            "delta_bytes": sum(len(f.encode()) for f in deltas),
            "html_bytes": sum(len(f.encode()) for f in html),
            "live_bytes": sum(len(f.encode()) for f in live),
            "json_bytes": payload - sum(len(f.encode()) for f in html + deltas + live),
            "bytes_per_char": payload / chars,
            "wire_bytes_per_char": turn.wire_bytes() / chars,
            "sse_bytes": sse.nbytes,
            "sse_bytes_per_char": sse.nbytes / chars,
        }
    for profile in ("burst", "paced"):
        values = [v["bytes_per_char"] for v in out[profile].values()]
        if values:
            out[profile + "_spread"] = max(values) / min(values)
    return out
