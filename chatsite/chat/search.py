"""Full-text search over a person's own conversations: titles, messages and replies.

One interface, two engines: PostgreSQL full text (a stored `tsvector` column generated from
`Turn.search_text`, GIN-indexed) and SQLite FTS5 (a table kept in step by triggers, with prefix
indexes); made by migrations 0010 and 0014. A conversation matches when every word typed
appears in it, each as a word or the start of one, in its title or any turn. Highlighting and
snippets are done here, once, for both engines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Conversation, Turn

MAX_WORDS = 8
CAP = 100  # a word in more of the person's conversations than this is "broad"
BEST_TURN_ROWS = 5_000
SCAN_PAGE = 50
SCAN_CONVERSATIONS = 5_000
MAX_RESULTS = 30
SNIPPET_CHARS = 140
WORD = re.compile(r"\w+")
MARKUP = re.compile(r"(?<!\S)[*_`#>]+(?=\S)|(?<=\S)[*_`]+(?!\w)")  # markdown emphasis, not words


@dataclass
class Hit:
    conversation: Conversation
    turn_id: int | None  # the turn to open at; None when only the title matched
    title: SafeString  # highlighted
    snippet: SafeString  # highlighted, "" for a title-only match

    @property
    def url(self) -> str:
        base = self.conversation.get_absolute_url()
        return f"{base}?turn={self.turn_id}#turn-{self.turn_id}" if self.turn_id else base


def words_of(query: str) -> list[str]:
    """The words of a query, lower-cased, no operators: each is matched as a word prefix."""
    seen: list[str] = []
    for word in WORD.findall((query or "").lower()):
        if word not in seen:
            seen.append(word)
    return seen[:MAX_WORDS]


def search(user, query: str, limit: int = MAX_RESULTS) -> list[Hit]:
    words = words_of(query)
    if not words or not getattr(user, "is_authenticated", False):
        return []
    engine = _engine()
    mine = Conversation.objects.filter(owner=user)
    # A word found in few conversations gives a small set to start from; a word found almost
    # everywhere is checked only in the newest conversations, until `limit` match.
    sets, broad = [], []
    for word in words:
        ids = engine.conversations_with(user, word, cap=CAP)
        if ids is None:
            broad.append(word)
        else:
            sets.append(ids | set(mine.filter(title__icontains=word).values_list("pk", flat=True)))
    among = set.intersection(*sets) if sets else None
    if among is not None and not among:
        return []
    if broad:
        ids = _newest_with_all(mine, broad, limit, among)
        rows = sorted(mine.filter(pk__in=ids), key=lambda c: ids.index(c.pk))
    else:
        rows = list(mine.filter(pk__in=among).order_by("-updated_at")[:limit])
    best = _best_turns(rows, words)
    hits = []
    for convo in rows:
        turn_id, text = best.get(convo.pk, (None, ""))
        marked = highlight(snippet(text, words), words)
        hits.append(Hit(convo, turn_id, highlight(str(convo), words), marked))
    return hits


def _newest_with_all(mine, words, limit, among) -> list[int]:
    """The newest conversations that hold every word (title, or a turn's text): read newest
    first, in pages, until `limit` match. For words found almost everywhere this stops early,
    where asking the index would list nearly all of it; at most SCAN_CONVERSATIONS are read."""
    rows = mine if among is None else mine.filter(pk__in=among)
    rows = rows.order_by("-updated_at").values_list("pk", "title")[:SCAN_CONVERSATIONS]
    found: list[int] = []
    page: list[tuple[int, str]] = []
    for row in rows.iterator(chunk_size=SCAN_PAGE):
        page.append(row)
        if len(page) == SCAN_PAGE:
            found += _holding_all(page, words)
            page = []
            if len(found) >= limit:
                return found[:limit]
    found += _holding_all(page, words)
    return found[:limit]


def _holding_all(page, words) -> list[int]:
    texts: dict[int, list[str]] = {}
    turns = Turn.objects.filter(conversation_id__in=[pk for pk, _ in page])
    for conversation_id, text in turns.values_list("conversation_id", "search_text"):
        texts.setdefault(conversation_id, []).append(text or "")
    held = []
    for pk, title in page:
        text = "\n".join(texts.get(pk, ())).lower()  # one string per conversation, once
        title = title.lower()
        if all(word in title or _has_word(text, word) for word in words):
            held.append(pk)
    return held


def _has_word(lowered: str, word: str) -> bool:
    """Whether `word` starts a word of the (lower-cased) text: what `_pattern` matches, found
    with str.find, many times faster than the regex on long texts."""
    at = lowered.find(word)
    while at != -1:
        if at == 0 or not (lowered[at - 1].isalnum() or lowered[at - 1] == "_"):
            return True
        at = lowered.find(word, at + 1)
    return False


def _best_turns(rows, words) -> dict[int, tuple[int, str]]:
    """Per conversation, the turn that holds the most of the words (the latest of equals)."""
    turns = Turn.objects.filter(conversation__in=rows).order_by("pk")
    best: dict[int, tuple[int, int, str]] = {}
    for turn_id, conversation_id, text in turns.values_list("pk", "conversation_id", "search_text")[
        :BEST_TURN_ROWS
    ]:
        lowered = (text or "").lower()
        score = sum(1 for w in words if _has_word(lowered, w))
        if score and (conversation_id not in best or score >= best[conversation_id][0]):
            best[conversation_id] = (score, turn_id, text)
    return {c: (t, text) for c, (_, t, text) in best.items()}


def _pattern(words) -> re.Pattern:
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")\w*", re.IGNORECASE
    )


def snippet(text: str, words, size: int = SNIPPET_CHARS) -> str:
    """The part of the text around the first matching word, on one line."""
    text = " ".join(MARKUP.sub("", text or "").split())
    match = _pattern(words).search(text) if words else None
    if match is None:
        return text[:size]
    start = max(0, match.start() - size // 3)
    piece = text[start : start + size]
    return ("…" if start else "") + piece + ("…" if start + size < len(text) else "")


def highlight(text: str, words) -> SafeString:
    """The text, escaped, with each matching word in <mark>."""
    if not text or not words:
        return escape(text)
    out, at = [], 0
    for match in _pattern(words).finditer(text):
        out += [escape(text[at : match.start()]), "<mark>", escape(match.group()), "</mark>"]
        at = match.end()
    out.append(escape(text[at:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece is escaped


# -- the engines ----------------------------------------------------------------------------


class _SQLite:
    """FTS5: `chat_turn_fts` indexes `chat_turn.search_text` (external content, triggers)."""

    @staticmethod
    def _query(words, joiner=" ") -> str:
        return joiner.join(f'"{w}"*' for w in words)

    def conversations_with(self, user, word, cap) -> set[int] | None:
        sql = (
            "SELECT DISTINCT t.conversation_id FROM chat_turn_fts f "
            "JOIN chat_turn t ON t.id = f.rowid "
            "JOIN chat_conversation c ON c.id = t.conversation_id "
            "WHERE chat_turn_fts MATCH %s AND c.owner_id = %s LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self._query([word]), user.pk, cap + 1])
            found = {row[0] for row in cursor.fetchall()}
        return None if len(found) > cap else found


class _Postgres:
    """Full text with the `simple` configuration (no stemming: any language) over the stored,
    GIN-indexed `chat_turn.search_vector` (migration 0014): a match is never recomputed.

    Two bounded questions, each written so the planner cannot make it slow. A word in many of
    the person's conversations shows within their newest PROBE ones: those are read newest
    first, each until its first matching turn, stopping at cap + 1 (`ts_match_vq` is `@@`
    without the index: a per-conversation index scan would cost a whole GIN lookup each).
    Any other word is looked up in the GIN index once (a materialised CTE) and then narrowed
    to the person's conversations."""

    PROBE = 300
    PROBE_SQL = (
        "SELECT c.id FROM (SELECT id FROM chat_conversation WHERE owner_id = %s "
        "ORDER BY updated_at DESC LIMIT %s) c CROSS JOIN LATERAL (SELECT 1 FROM chat_turn t "
        "WHERE t.conversation_id = c.id AND ts_match_vq(t.search_vector, "
        "to_tsquery('simple', %s)) LIMIT 1) m LIMIT %s"
    )
    INDEX_SQL = (
        "WITH hits AS MATERIALIZED (SELECT conversation_id FROM chat_turn "
        "WHERE search_vector @@ to_tsquery('simple', %s)) "
        "SELECT DISTINCT h.conversation_id FROM hits h "
        "JOIN chat_conversation c ON c.id = h.conversation_id WHERE c.owner_id = %s LIMIT %s"
    )

    def conversations_with(self, user, word, cap) -> set[int] | None:
        query = f"{word}:*"
        with connection.cursor() as cursor:
            cursor.execute(self.PROBE_SQL, [user.pk, self.PROBE, query, cap + 1])
            if len(cursor.fetchall()) > cap:
                return None
            cursor.execute(self.INDEX_SQL, [query, user.pk, cap + 1])
            found = {row[0] for row in cursor.fetchall()}
        return None if len(found) > cap else found


def _engine():
    return _Postgres() if connection.vendor == "postgresql" else _SQLite()
