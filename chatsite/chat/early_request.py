"""A reply's request sent before its turn is saved (issue 16: the first token sooner).

The turn's INSERT and the API's first bytes both take milliseconds; done one after the other
they add up. `send_early` puts the request on the wire at once and hands the runner the stream
it opened, to read once the turn is saved; if the INSERT fails, `close` cancels the request
and nothing is shown.
"""

from __future__ import annotations

import asyncio
import contextvars

from . import retry_notes, upstream


class EarlyOpening:
    """A stream's opening entered in a task of its own now, read later by whoever enters this
    (the runner, as the opening it would have made itself): same events, same errors."""

    def __init__(self, opening):
        self._opening = opening
        # A fresh context, like the runner's: the request's context dies with the response.
        self._entered = asyncio.get_running_loop().create_task(
            opening.__aenter__(), name=retry_notes.EARLY_TASK, context=contextvars.Context()
        )

    def claim(self, turn_id: int) -> None:
        """The turn is saved and on screen: the request is its own from here (its retries
        are shown on it, retry_notes)."""
        retry_notes.claim(self._entered, turn_id)

    async def __aenter__(self):
        return await self._entered

    async def __aexit__(self, *exc_info):
        return await self._opening.__aexit__(*exc_info)

    async def close(self) -> None:
        """Abandon the request: cancel it while it is on its way, or close the stream it has
        opened. Never raises; the caller is already handling the failure that led here."""
        if not self._entered.done():
            self._entered.cancel()
        await asyncio.wait([self._entered])
        if self._entered.cancelled() or self._entered.exception() is not None:
            return
        await self._opening.__aexit__(None, None, None)


def send_early(body: dict) -> EarlyOpening | None:
    """The create request for `body`, sent now, when the runner would send it as a stream
    (a background run is created first, then followed: it keeps the runner's own path)."""
    if body.get("background"):
        return None
    return EarlyOpening(upstream.client().stream_create(body))
