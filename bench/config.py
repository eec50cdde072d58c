"""How much each scenario does: the full run and a --quick one. Every count is bounded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # 1. time to first token: measured turns per path (plus warm-up turns not counted)
    ttft_turns: int
    ttft_warmup: int
    # 2. relay latency: concurrent streams per run, words per reply, pace, spread of the sends
    relay_loads: tuple[int, ...]
    relay_words: int
    relay_pace_ms: int
    relay_spread_s: float
    # words added to each reply per concurrent stream, so that all N stream at once
    relay_words_per_stream: int
    # 3. bytes per character: reply sizes (characters) per streaming profile (pace ms)
    bytes_sizes: tuple[int, ...]
    bytes_paced_sizes: tuple[int, ...]
    bytes_paced_ms: int
    # 4. memory: idle sockets
    idle_sockets: int
    # 5. page render: turns per conversation, timed repetitions per size
    page_sizes: tuple[int, ...]
    page_reps: int
    # 6. database writes: words in the reply and its pace
    db_words: int
    db_pace_ms: int
    # 7. search: one person's conversations × turns, timed repetitions per query
    search_conversations: int = 10_000
    search_turns: int = 20
    search_reps: int = 20
    # 8. two processes: concurrent streams (half the tabs on the other process), send spread
    scaleout_streams: int = 400
    scaleout_spread_s: float = 2.0
    # time limit for one mode (seconds)
    mode_timeout_s: int = 540


FULL = Profile(
    name="full",
    ttft_turns=200,
    ttft_warmup=10,
    relay_loads=(1, 100, 200, 300),
    relay_words=250,
    relay_pace_ms=20,
    relay_spread_s=1.0,
    relay_words_per_stream=3,
    bytes_sizes=(1_000, 10_000, 50_000),
    bytes_paced_sizes=(1_000, 10_000, 50_000),
    bytes_paced_ms=5,
    idle_sockets=1_000,
    page_sizes=(10, 100, 1_000),
    page_reps=5,
    db_words=500,
    db_pace_ms=5,
    # The relay's four loads alone take ~340 s on a slow 2-core machine (2026-12-01): 540 s
    # cut search and memory off there.
    mode_timeout_s=1200,
)

QUICK = Profile(
    name="quick",
    ttft_turns=60,
    ttft_warmup=5,
    relay_loads=(1, 100, 200),
    relay_words=150,
    relay_pace_ms=20,
    relay_spread_s=0.5,
    relay_words_per_stream=3,
    bytes_sizes=(1_000, 10_000, 50_000),
    bytes_paced_sizes=(1_000, 10_000, 50_000),
    bytes_paced_ms=5,
    idle_sockets=1_000,
    page_sizes=(10, 100, 1_000),
    page_reps=2,
    db_words=500,
    db_pace_ms=2,
    search_conversations=2_000,
    search_reps=10,
    scaleout_streams=100,
    scaleout_spread_s=1.0,
    mode_timeout_s=360,
)

PROFILES = {"full": FULL, "quick": QUICK}
