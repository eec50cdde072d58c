"""Whether a socket's sign-in still holds, and ending a person's sign-ins.

A socket is opened with a session; it may stay open only while that session exists, has not
expired, belongs to the same active person, and carries the hash of their current password
(Django's own session verification: a password change or reset ends every other sign-in).
Sync functions: the consumer calls them via sync_to_async.
"""

from __future__ import annotations

from collections import OrderedDict
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
        encoded, ends = row
        if _verified.get((session_key, encoded)) == (user.pk, user.password):
            return ends
        data = model.get_session_store_class()().decode(encoded)
    else:  # cache or cookie sessions: no end we can read; checked on every message instead
        encoded, data = None, _store_class()(session_key).load()
        ends = timezone.now() + timedelta(seconds=FAR)
    if str(data.get(SESSION_KEY)) != str(user.pk) or not _hash_matches(data, user):
        return None
    if encoded is not None:
        _remember(session_key, encoded, user)
    return ends


# Sign-ins whose stored data was decoded and matched a person as they were then: (session key,
# encoded data) → (person's id, password hash). Each socket message re-checks its sign-in, and
# decoding it (signature, JSON, the password's HMAC) was a fifth of that check (issue 16); the
# same data for the same person with the same password gives the same answer. A password
# change, a new sign-in or a session rewritten changes the key or the value.
_verified: OrderedDict[tuple[str, str], tuple[object, str]] = OrderedDict()
VERIFIED_KEPT = 4096


def _remember(session_key: str, encoded: str, user) -> None:
    _verified[(session_key, encoded)] = (user.pk, user.password)
    while len(_verified) > VERIFIED_KEPT:  # the oldest first
        try:
            _verified.popitem(last=False)
        except KeyError:  # emptied by another thread meanwhile
            break


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
