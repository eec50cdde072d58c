"""The reads a message makes before its request leaves, as SQL written once.

Why not the ORM here: it builds and compiles a query anew on every call, 0.4–0.9 ms each on
the bench machine, while the database answers these in 0.02–0.1 ms; they sit between a
person's Enter and the API's first word (issue 16, `python -m bench --scenarios ttft`). The
rows go through the ORM's own converters (JSON text to data, SQLite's naive timestamps to
aware datetimes) and become model instances, so callers get what the ORM would have given
them. Each read has an ORM twin it must agree with: tests/test_hot_reads.py, which CI runs
on SQLite and on PostgreSQL. Sync: call via sync_to_async.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone

from .models import Account, Conversation, Turn


class _Columns:
    """Some of a model's fields as selected columns of one table alias, and the converters
    the ORM applies to each (as SQLCompiler.apply_converters does)."""

    def __init__(self, model: type[Model], alias: str, names: tuple[str, ...] = ()):
        quote = connection.ops.quote_name
        found_fields = [model._meta.get_field(n) for n in names] if names else None
        fields = cast(list[Field], found_fields or list(model._meta.concrete_fields))
        self.model = model
        self.attnames = [f.attname for f in fields]
        self.sql = ", ".join(f"{alias}.{quote(f.column)}" for f in fields)
        self.converters = []
        for i, field in enumerate(fields):
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                self.converters.append((i, found, col))

    def __len__(self) -> int:
        return len(self.attnames)

    def values(self, row) -> list[Any]:
        row = list(row)
        for i, found, col in self.converters:
            for convert in found:
                row[i] = convert(row[i], col, connection)
        return row

    def instance(self, row) -> Any:
        return self.model.from_db(connection.alias, self.attnames, self.values(row))


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# A sign-in's session row while it lasts (table alias `s`), read alone or joined.
SESSION_FIELDS = ("session_data", "expire_date")
LIVE_SESSION = "s.session_key = %s AND s.expire_date > %s"


def _live_session_params(session_key: str | None) -> list[Any]:
    return [session_key or "", connection.ops.adapt_datetimefield_value(timezone.now())]


@cache
def _access_sql(vendor: str, session: type[Model] | None) -> tuple[str, list[_Columns]]:
    user_model = get_user_model()
    cols = [_Columns(Conversation, "c"), _Columns(user_model, "u"), _Columns(Account, "a")]
    joins = [
        f"JOIN {_table(user_model)} u ON u.id = c.owner_id",
        f"LEFT JOIN {_table(Account)} a ON a.user_id = u.id",
    ]
    if session is not None:
        cols.append(_Columns(session, "s", SESSION_FIELDS))
        joins.append(f"LEFT JOIN {_table(session)} s ON {LIVE_SESSION}")
    joins.append(_turns_join())
    cols.append(_Columns(Turn, "p", CHAIN_FIELDS))
    joins.append(f"LEFT JOIN {_table(Turn)} p ON p.id = %s AND p.conversation_id = c.id")
    sql = (
        f"SELECT {', '.join(c.sql for c in cols)}, {TURNS_COLUMNS}"
        f" FROM {_table(Conversation)} c {' '.join(joins)}"
        " WHERE c.id = %s AND c.owner_id = %s AND u.is_active"
    )
    return sql, cols


def _turns_join() -> str:
    """Joins, as `m`, three columns about conversation `c`'s turns: `m.busy`, whether one is
    unfinished; `m.turns`, how many there are; `m.last`, the largest id. Parameters:
    Turn.FINAL, then the conversation's id. Ids only grow, so while the last two stay the
    same, so do the turns (branches.next_parent). One pass over the turns, not three
    subqueries: 0.57 → 0.42 ms on PostgreSQL at 200 turns (issue 16)."""
    final = ", ".join(["%s"] * len(Turn.FINAL))
    return (
        "LEFT JOIN (SELECT"
        f" COALESCE(MAX(CASE WHEN t.status NOT IN ({final}) THEN 1 ELSE 0 END), 0) AS busy,"
        f" COUNT(*) AS turns, MAX(t.id) AS last FROM {_table(Turn)} t"
        " WHERE t.conversation_id = %s) m ON 1 = 1"
    )


TURNS_COLUMNS = "m.busy, m.turns, m.last"


Mark = tuple[int, int | None]  # a conversation's number of turns and largest turn id


@dataclass
class Access:
    conversation: Conversation  # with its owner and the owner's account
    busy: bool  # a reply in it is unfinished
    session: tuple[str, datetime] | None  # the sign-in's row (data, end) while it lasts
    mark: Mark  # its turns, as branches.next_parent keys them
    # The turn asked for as `parent`, if it is in this conversation: (its id, what chained()
    # reads of it: its parent, interaction and when it was made).
    parent: tuple[int, tuple] | None = None


def access(user_id, conversation_id, session_key=None, session=None, parent=None) -> Access | None:
    """In one query: the conversation if this person still exists, is active and owns it,
    with its owner and their account (ORM twin: `select_related("owner", "owner__account")`),
    whether a reply in it is unfinished, and, given a database session table, that sign-in's
    row unless it has ended; given a turn id `parent` (the one the next message will likely
    follow), that turn's row as chained() reads it, saving chained() a round trip."""
    try:
        ids = [int(conversation_id), int(user_id)]
        parent = None if parent is None else int(parent)
    except (TypeError, ValueError):
        return None
    sql, cols = _access_sql(connection.vendor, session)
    params = _live_session_params(session_key) if session is not None else []
    with connection.cursor() as cursor:
        # In the SQL's order: the session's join, the turns', the parent's, then WHERE.
        cursor.execute(sql, [*params, *Turn.FINAL, ids[0], parent, *ids])
        row = cursor.fetchone()
    if row is None:
        return None
    parts, at = [], 0
    for c in cols:
        parts.append(row[at : at + len(c)])
        at += len(c)
    conversation, owner = cols[0].instance(parts[0]), cols[1].instance(parts[1])
    account = cols[2].instance(parts[2]) if parts[2][0] is not None else None
    # As select_related leaves them: no query for conversation.owner or owner.account.
    Account._meta.get_field("user").remote_field.set_cached_value(owner, account)
    if account is not None:
        Account._meta.get_field("user").set_cached_value(account, owner)
    conversation.owner = owner
    live = None
    if session is not None and parts[3][0] is not None:
        data, ends = cols[3].values(parts[3])
        live = (data, ends)
    found = None
    if parent is not None and parts[-1][2] is not None:  # created_at: never null in a row
        found = (parent, tuple(cols[-1].values(parts[-1])))
    busy, count, last = row[-3:]
    return Access(conversation, bool(busy), live, (count, last), found)


@cache
def _branch_sql(vendor: str) -> tuple[str, _Columns]:
    branch = _Columns(Conversation, "c", ("branch",))
    sql = (
        f"SELECT {branch.sql}, {TURNS_COLUMNS} FROM {_table(Conversation)} c {_turns_join()}"
        " WHERE c.id = %s"
    )
    return sql, branch


def branch_and_busy(conversation_id: int) -> tuple[dict, bool, Mark] | None:
    """The conversation's branch choice as stored now, whether a reply in it is still
    unfinished, and the mark of its turns; None if it is gone."""
    sql, branch = _branch_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*Turn.FINAL, conversation_id, conversation_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return branch.values(row[:1])[0], bool(row[1]), (row[2], row[3])


@cache
def _pairs_sql(vendor: str) -> str:
    return (
        f"SELECT t.id, t.parent_id FROM {_table(Turn)} t"
        " WHERE t.conversation_id = %s ORDER BY t.created_at, t.id"
    )


def tree_pairs(conversation_id: int) -> list[tuple[int, int | None]]:
    """Every turn of the conversation, oldest first, as (id, parent id): a branches.Tree."""
    with connection.cursor() as cursor:
        cursor.execute(_pairs_sql(connection.vendor), [conversation_id])
        return cursor.fetchall()


CHAIN_FIELDS = ("parent", "interaction_id", "created_at")  # what chained() reads of a turn


@cache
def _chain_sql(vendor: str) -> tuple[str, _Columns]:
    cols = _Columns(Turn, "t", CHAIN_FIELDS)
    return f"SELECT {cols.sql} FROM {_table(Turn)} t WHERE t.id = %s", cols


def chained(parent_id: int | None, known=None) -> tuple[str | None, datetime | None]:
    """The interaction a message after `parent_id` chains to, and when it was made: the
    parent's, or, when the parent never reached the API, the nearest ancestor's that did.
    One row, but for a parent that never reached the API; none when `known` (Access.parent)
    holds the parent's row already."""
    sql, cols = _chain_sql(connection.vendor)
    node, seen = parent_id, 0
    with connection.cursor() as cursor:
        while node is not None and seen < 1000:
            if known is not None and known[0] == node:
                grandparent, interaction_id, made = known[1]
                known = None
            else:
                cursor.execute(sql, [node])
                row = cursor.fetchone()
                if row is None:
                    break
                grandparent, interaction_id, made = cols.values(row)
            if interaction_id:
                return interaction_id, made
            node, seen = grandparent, seen + 1
    return None, None


@cache
def _session_sql(vendor: str, model: type[Model]) -> tuple[str, _Columns]:
    cols = _Columns(model, "s", SESSION_FIELDS)
    return f"SELECT {cols.sql} FROM {_table(model)} s WHERE {LIVE_SESSION}", cols


def live_session(model: type[Model], session_key: str) -> tuple[str, datetime] | None:
    """A database session's data (still encoded) and when it ends, unless it has ended."""
    sql, cols = _session_sql(connection.vendor, model)
    with connection.cursor() as cursor:
        cursor.execute(sql, _live_session_params(session_key))
        row = cursor.fetchone()
    return None if row is None else (row[0], cols.values(row)[1])


@cache
def _top_sql(vendor: str) -> tuple[str, str, _Columns]:
    cols = _Columns(Conversation, "c", ("id", "updated_at"))
    listed = "c.owner_id = %s AND c.archived = %s AND c.pinned = %s"
    first = f"SELECT {cols.sql} FROM {_table(Conversation)} c WHERE {listed}"
    first += " ORDER BY c.updated_at DESC LIMIT 1"
    quote = connection.ops.quote_name
    column = quote(Conversation._meta.get_field("updated_at").column)
    key = quote(Conversation._meta.pk.column)
    move = f"UPDATE {_table(Conversation)} SET {column} = %s WHERE {key} = %s"
    return first, move, cols


def to_top(conversation_id: int, owner_id: int, now: datetime) -> Conversation | None:
    """The person's top listed conversation (neither pinned nor archived; only its id and
    updated_at) before conversation_id's updated_at becomes `now`, then that update: what a
    new turn does to the list (conversations.bump). ORM twin: `.only("pk", "updated_at")
    .order_by("-updated_at").first()` and `.filter(pk=…).update(updated_at=now)`."""
    first_sql, move_sql, cols = _top_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(first_sql, [owner_id, False, False])
        row = cursor.fetchone()
        cursor.execute(move_sql, [connection.ops.adapt_datetimefield_value(now), conversation_id])
    return None if row is None else cols.instance(row)
