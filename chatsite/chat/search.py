"""Full-text search over a person's own conversations: titles, messages and replies.

One interface, two engines: PostgreSQL full text (`django.contrib.postgres.search`, a GIN index
on `Turn.search_text`) and SQLite FTS5 (a table kept in step by triggers); both made by
migration 0007. A conversation matches when every word typed appears in it, each as a word
or the start of one, in its title or any turn. Highlighting and snippets are done here, once,
for both engines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.db import connection
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Conversation, Turn

MAX_WORDS = 8
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
    found: set[int] | None = None
    for word in words:
        ids = set(mine.filter(title__icontains=word).values_list("pk", flat=True))
        ids |= engine.conversations_with(user, word)
        found = ids if found is None else found & ids
        if not found:
            return []
    rows = list(mine.filter(pk__in=found).order_by("-updated_at")[:limit])
    best = _best_turns(engine.turns_with_any([c.pk for c in rows], words), words)
    hits = []
    for convo in rows:
        turn_id, text = best.get(convo.pk, (None, ""))
        marked = highlight(snippet(text, words), words)
        hits.append(Hit(convo, turn_id, highlight(str(convo), words), marked))
    return hits


def _best_turns(turns, words) -> dict[int, tuple[int, str]]:
    """Per conversation, the turn that holds the most of the words (the latest of equals)."""
    best: dict[int, tuple[int, int, str]] = {}
    for turn_id, conversation_id, text in turns:
        score = sum(1 for w in words if _pattern([w]).search(text or ""))
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

    def conversations_with(self, user, word) -> set[int]:
        sql = (
            "SELECT DISTINCT t.conversation_id FROM chat_turn_fts f "
            "JOIN chat_turn t ON t.id = f.rowid "
            "JOIN chat_conversation c ON c.id = t.conversation_id "
            "WHERE chat_turn_fts MATCH %s AND c.owner_id = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self._query([word]), user.pk])
            return {row[0] for row in cursor.fetchall()}

    def turns_with_any(self, conversation_ids, words):
        if not conversation_ids:
            return []
        sql = (
            "SELECT t.id, t.conversation_id, t.search_text FROM chat_turn_fts f "
            "JOIN chat_turn t ON t.id = f.rowid WHERE chat_turn_fts MATCH %s "
            "AND t.conversation_id IN (SELECT value FROM json_each(%s)) ORDER BY t.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self._query(words, " OR "), json.dumps(conversation_ids)])
            return cursor.fetchall()


class _Postgres:
    """Full text with the `simple` configuration (no stemming: any language), GIN-indexed."""

    @staticmethod
    def _matching(words, joiner):
        from django.contrib.postgres.search import SearchQuery, SearchVector

        query = SearchQuery(
            joiner.join(f"{w}:*" for w in words), search_type="raw", config="simple"
        )
        return Turn.objects.annotate(document=SearchVector("search_text", config="simple")).filter(
            document=query
        )

    def conversations_with(self, user, word) -> set[int]:
        rows = self._matching([word], " & ").filter(conversation__owner=user)
        return set(rows.order_by().values_list("conversation_id", flat=True).distinct())

    def turns_with_any(self, conversation_ids, words):
        rows = self._matching(words, " | ").filter(conversation_id__in=conversation_ids)
        return list(rows.order_by("pk").values_list("pk", "conversation_id", "search_text"))


def _engine():
    return _Postgres() if connection.vendor == "postgresql" else _SQLite()
