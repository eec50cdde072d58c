"""Whether a socket's sign-in still holds, and ending a person's sign-ins.

A socket is opened with a session; it may stay open only while that session exists, has not
expired, belongs to the same active person, and carries the hash of their current password
(Django's own session verification: a password change or reset ends every other sign-in).
Sync functions: the consumer calls them via sync_to_async.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import import_module

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from . import hot_reads, person_events

FAR = 24 * 3600  # a session with no known end is looked at again after a day anyway
MISSING = object()  # an argument not given (None means something)


def _store_class():
    return import_module(settings.SESSION_ENGINE).SessionStore


def table():
    """The session table of a database-backed engine, else None."""
    store = _store_class()
    return store.get_model_class() if hasattr(store, "get_model_class") else None


def _hash_matches(data: dict, user) -> bool:
    given = data.get(HASH_SESSION_KEY)
    if not given:
        return False
    if constant_time_compare(given, user.get_session_auth_hash()):
        return True
    return any(constant_time_compare(given, h) for h in user.get_session_auth_fallback_hash())


def valid_until(session_key: str | None, user_id, *, user=None, row=MISSING) -> datetime | None:
    """When this sign-in ends (None: it already has). Two small queries; one when the caller
    has just fetched the person (`user`, active); none when it has also read the session's
    row (`row`, as hot_reads.access reads it given table())."""
    if not session_key:
        return None
    if user is None or user.pk != user_id or not user.is_active:
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    model = table()
    if model is not None:
        if row is MISSING:
            row = hot_reads.live_session(model, session_key)
        if row is None:
            return None
        data, ends = model.get_session_store_class()().decode(row[0]), row[1]
    else:  # cache or cookie sessions: no end we can read; checked on every message instead
        data = _store_class()(session_key).load()
        ends = timezone.now() + timedelta(seconds=FAR)
    if str(data.get(SESSION_KEY)) != str(user.pk) or not _hash_matches(data, user):
        return None
    return ends


def notify(user_id, *, ended: str | None = None) -> None:
    """Ask every open socket of this person, in every process, to check its sign-in again.
    `ended`: a session known to be over (its sockets close without looking)."""
    async_to_sync(person_events.send)(int(user_id), {"type": "session.check", "ended": ended})


def user_of(session) -> str | None:
    """The user id a stored session row belongs to (None for anonymous or unreadable)."""
    try:
        return session.get_decoded().get(SESSION_KEY)
    except Exception:  # a corrupt row is nobody's
        return None


def end_all(user, *, keep: str | None = None) -> int:
    """Delete every sign-in of this person (each deletion closes its sockets, see signals);
    `keep`: the session key of one to spare (a password change keeps the tab that made it)."""
    model = table()
    ended = 0
    if model is not None:
        for row in model.objects.filter(expire_date__gt=timezone.now()).iterator():
            if user_of(row) == str(user.pk) and row.session_key != keep:
                row.delete()
                ended += 1
    notify(user.pk)
    return ended
