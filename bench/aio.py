"""Running app code in the bench process's own event loop."""

from __future__ import annotations

import asyncio
import logging


def run_in_fresh_loop(coro, grace_s: float = 5.0):
    """Like asyncio.run, but tasks the app left running (e.g. its channel-layer listeners, which
    may not end promptly when cancelled) get `grace_s` to stop, then are abandoned."""
    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(coro)
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=grace_s))
        return result
    finally:
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # "Task was destroyed…"
        loop.close()
