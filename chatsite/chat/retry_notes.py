"""While the client retries a turn's request (429, 503, a dropped connection), the tabs showing
that turn say so: "Retrying in 3 s… Gemini is busy right now (503)", not dots for 9 seconds.

The client calls `report` before each wait (upstream.py passes it as `on_retry`). A turn's
runner task is named `turn-<id>` (runner.py), which is how a retry finds its turn; requests
outside a turn (titles, deletes) are not shown anywhere. A turn's first request leaves before
the turn is saved, in a task of its own (early_request.py): a retry reported there waits until
the turn claims that task.
"""

import asyncio
import json
import re
import time
import weakref

from django.utils.translation import gettext_noop as _

from chatsite.gemini import APIConnectionError, APIError, APIStatusError, APITimeoutError

from .hub import hub

TURN_TASK = re.compile(r"turn-(\d+)$")
EARLY_TASK = "early-request"  # a turn's first request, sent before the turn has an id
# Retries reported in such a task before its turn claimed it: task -> (when, the error).
_unclaimed: "weakref.WeakKeyDictionary[asyncio.Task, tuple[float, APIError]]" = (
    weakref.WeakKeyDictionary()
)
# A tab that connects mid-wait is told too: turn id -> (when the next try goes, the error).
_waiting: dict[int, tuple[float, APIError]] = {}

# Sent in English to every tab of the conversation; each tab's live_status.js shows them in its
# own language (context.SCRIPT_TEXT hands it these words translated).
TOOK_TOO_LONG = _("The API took too long to answer")
DROPPED = _("The connection to the API dropped")
ANSWERED_WITH_ERROR = _("The API answered with an error")
REASONS = {
    408: TOOK_TOO_LONG,
    409: _("The API was busy with a conflicting request"),
    429: _("Too many requests right now"),
    500: _("The API had an internal problem"),
    502: _("The API could not be reached through its gateway"),
    503: _("Gemini is busy right now"),
    504: TOOK_TOO_LONG,
}


def reason(error: APIError) -> str:
    """Why the request is tried again, in words a person reads."""
    if isinstance(error, APITimeoutError):
        return TOOK_TOO_LONG
    if isinstance(error, APIConnectionError):
        return DROPPED
    if isinstance(error, APIStatusError):
        words = REASONS.get(error.status_code, ANSWERED_WITH_ERROR)
        return f"{words} ({error.status_code})"
    return ANSWERED_WITH_ERROR


def retry_frame(turn_id: int, delay: float, error: APIError) -> str:
    seconds = max(1, round(delay))
    return json.dumps({"retry": [turn_id, seconds, reason(error)]}, separators=(",", ":"))


def report(delay: float, error: APIError) -> None:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not in an event loop
        return
    if task is None:
        return
    if task.get_name() == EARLY_TASK:
        _unclaimed[task] = (time.monotonic() + delay, error)
        return
    match = TURN_TASK.match(task.get_name())
    runner = hub.runner(int(match.group(1))) if match else None
    if runner is not None:
        _show(runner, delay, error)


def claim(task: asyncio.Task, turn_id: int) -> None:
    """The early request's task is now this turn's: named as its runner's is, and the tabs
    told of a retry it reported before (once the turn is on screen)."""
    task.set_name(f"turn-{turn_id}")
    at, error = _unclaimed.pop(task, (0.0, None))
    runner = hub.runner(turn_id)
    if error is not None and runner is not None and at > time.monotonic():
        _show(runner, at - time.monotonic(), error)


def _show(runner, delay: float, error: APIError) -> None:
    now = time.monotonic()
    for turn_id in [t for t, (at, _error) in _waiting.items() if at < now]:
        del _waiting[turn_id]
    _waiting[runner.turn_id] = (now + delay, error)
    hub.publish(runner.conversation_id, [retry_frame(runner.turn_id, delay, error)])


def waiting(turn_id: int) -> list[str]:
    """The note for a tab that joins while this turn waits to be tried again (else none)."""
    at, error = _waiting.get(turn_id, (0.0, None))
    left = at - time.monotonic()
    return [retry_frame(turn_id, left, error)] if error is not None and left > 0.5 else []
