"""Where the app's Interactions API client comes from.

With a GEMINI_API_KEY the client talks to GEMINI_API_BASE_URL (Google by default). Without one
the app is offline: it talks to the emulator at GEMINI_API_BASE_URL when that is set (for example
`manage.py emulator`), else to an emulator it starts itself on a free loopback port.
"""

import asyncio
import threading
import weakref

from django.conf import settings

from chatsite.gemini import InteractionsClient

from . import retry_notes

# An httpx client belongs to the event loop it was first used on; keep one per loop.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, InteractionsClient]" = (
    weakref.WeakKeyDictionary()
)
_embedded = None
_embedded_lock = threading.Lock()

EMULATOR_KEY = "offline-emulator"


def _embedded_emulator_base_url() -> str:
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            from chatsite.emulator.server import EmulatorServer

            _embedded = EmulatorServer(host="127.0.0.1", port=0, pace_ms=settings.EMULATOR_PACE_MS)
            _embedded.start()
        return _embedded.base_url


def base_url() -> str:
    if settings.GEMINI_EMULATED and not settings.GEMINI_API_BASE_URL_SET:
        return _embedded_emulator_base_url()
    return settings.GEMINI_API_BASE_URL


def api_key() -> str:
    return settings.GEMINI_API_KEY or EMULATOR_KEY


def client() -> InteractionsClient:
    loop = asyncio.get_running_loop()
    url = base_url()
    found = _clients.get(loop)
    if found is None or found.base_url != url:
        found = InteractionsClient(
            base_url=url,
            api_key=api_key(),
            timeout=settings.GEMINI_TIMEOUT,
            max_retries=settings.GEMINI_MAX_RETRIES,
            on_retry=retry_notes.report,
        )
        _clients[loop] = found
    return found
