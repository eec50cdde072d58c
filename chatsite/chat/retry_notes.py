"""While the client retries a turn's request (429, 503, a dropped connection), the tabs showing
that turn say so: "Retrying in 3 s… Gemini is busy right now (503)", not dots for 9 seconds.

The client calls `report` before each wait (upstream.py passes it as `on_retry`). A turn's
runner task is named `turn-<id>` (runner.py), which is how a retry finds its turn; requests
outside a turn (titles, deletes) are not shown anywhere.
"""

import asyncio
import json
import re
import time

from chatsite.gemini import APIConnectionError, APIError, APIStatusError, APITimeoutError

from .hub import hub

TURN_TASK = re.compile(r"turn-(\d+)$")
# A tab that connects mid-wait is told too: turn id -> (when the next try goes, the error).
_waiting: dict[int, tuple[float, APIError]] = {}

REASONS = {
    408: "The API took too long to answer",
    409: "The API was busy with a conflicting request",
    429: "Too many requests right now",
    500: "The API had an internal problem",
    502: "The API could not be reached through its gateway",
    503: "Gemini is busy right now",
    504: "The API took too long to answer",
}


def reason(error: APIError) -> str:
    """Why the request is tried again, in words a person reads."""
    if isinstance(error, APITimeoutError):
        return "The API took too long to answer"
    if isinstance(error, APIConnectionError):
        return "The connection to the API dropped"
    if isinstance(error, APIStatusError):
        words = REASONS.get(error.status_code, "The API answered with an error")
        return f"{words} ({error.status_code})"
    return "The API answered with an error"


def retry_frame(turn_id: int, delay: float, error: APIError) -> str:
    seconds = max(1, round(delay))
    return json.dumps({"retry": [turn_id, seconds, reason(error)]}, separators=(",", ":"))


def report(delay: float, error: APIError) -> None:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not in an event loop
        return
    match = TURN_TASK.match(task.get_name()) if task is not None else None
    runner = hub.runner(int(match.group(1))) if match else None
    if runner is not None:
        now = time.monotonic()
        for turn_id in [t for t, (at, _) in _waiting.items() if at < now]:
            del _waiting[turn_id]
        _waiting[runner.turn_id] = (now + delay, error)
        hub.publish(runner.conversation_id, [retry_frame(runner.turn_id, delay, error)])


def waiting(turn_id: int) -> list[str]:
    """The note for a tab that joins while this turn waits to be tried again (else none)."""
    at, error = _waiting.get(turn_id, (0.0, None))
    left = at - time.monotonic()
    return [retry_frame(turn_id, left, error)] if error is not None and left > 0.5 else []
