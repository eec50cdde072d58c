"""7. Search: one person's 10,000 conversations × 20 turns, `search.search()` timed in-process.

Turns are written straight to the database with their `search_text` (the user's words and the
answer, as the runner saves them): ~60 words each from a 2,000-word vocabulary, so a common word
matches thousands of conversations and a rare one a handful. Queries: a rare word, a common
word, two words that meet only in some conversations, and a three-letter prefix. The index
(PostgreSQL GIN or SQLite FTS5) is the one the migrations make; on PostgreSQL the tables are
analysed after the fill, as autovacuum would. Timed: the median (p50) over
repetitions of each query, after one warm-up.
"""

from __future__ import annotations

import random
import time

from django.conf import settings
from django.db import connection

from bench import fixtures
from bench.stats import median
from chatsite.chat import search
from chatsite.chat.models import Conversation, Turn

VOCABULARY = [f"w{n:04d}" for n in range(2_000)]
RARE = "zanzibarian"
QUERIES = {"rare word": RARE, "common word": "w0007", "two words": "w0001 w0002", "prefix": "w00"}


def _fill(user, conversations: int, turns: int) -> None:
    rng = random.Random(7)
    rows = Conversation.objects.bulk_create(
        [
            Conversation(owner=user, title=f"topic {i}", model=settings.GEMINI_MODEL)
            for i in range(conversations)
        ],
        batch_size=1_000,
    )
    batch: list[Turn] = []
    for n, convo in enumerate(rows):
        for t in range(turns):
            words = rng.choices(VOCABULARY, k=60)
            if n % 2_000 == 0 and t == turns // 2:
                words.append(RARE)
            batch.append(Turn(conversation=convo, status="completed", search_text=" ".join(words)))
        if len(batch) >= 5_000:
            Turn.objects.bulk_create(batch, batch_size=1_000)
            batch = []
    Turn.objects.bulk_create(batch, batch_size=1_000)
    if connection.vendor == "postgresql":
        # What autovacuum does on a live site within a minute of such a burst of writes: without
        # statistics the planner takes a 10,000-conversation table for a handful of rows.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE chat_conversation, chat_turn")


def run(ctx) -> dict:
    p = ctx.profile
    user = fixtures.make_user("searcher")
    started = time.perf_counter()
    _fill(user, p.search_conversations, p.search_turns)
    fill_s = time.perf_counter() - started
    out = {"conversations": p.search_conversations, "turns": p.search_turns, "queries": {}}
    for label, query in QUERIES.items():
        hits = search.search(user, query)  # warm
        times = []
        for _ in range(p.search_reps):
            began = time.perf_counter()
            search.search(user, query)
            times.append(time.perf_counter() - began)
        p50 = median(times)
        if p50 is None:
            raise TypeError("no search was timed")
        out["queries"][label] = {"p50_ms": 1000 * p50, "hits": len(hits)}
    out["fill_s"] = fill_s
    return out
