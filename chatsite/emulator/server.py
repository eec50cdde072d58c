"""Run the emulator with uvicorn in a background thread (tests, the app's offline mode, benches).

with EmulatorServer(port=0) as server:
    httpx.post(server.base_url + "/interactions", ...)
    server.store.events(interaction_id)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any

import uvicorn

from .app import Emulator, create_app
from .directives import DEFAULT_HOP_WORDS
from .store import Store


class EmulatorServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        pace_ms: float = 0,
        api_key: str | None = None,
        *,
        keepalive_s: float = 10.0,
        echo_input: bool = True,
        max_interactions: int = 10_000,
        hop_words: int = DEFAULT_HOP_WORDS,
        api_version: str = "v1beta",
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.port = port
        self.api_version = api_version
        self.emulator = Emulator(
            pace_ms=pace_ms,
            api_key=api_key,
            keepalive_s=keepalive_s,
            echo_input=echo_input,
            max_interactions=max_interactions,
            hop_words=hop_words,
        )
        self.app = create_app(self.emulator)
        self.log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None

    # --- addresses -------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self.emulator.store

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/{self.api_version}"

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Bind, serve in a daemon thread, and return once it accepts connections."""
        if self._thread is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        sock.setblocking(False)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level=self.log_level,
            access_log=False,
            lifespan="on",
            http="h11",
            ws="none",
            loop="asyncio",
            timeout_graceful_shutdown=2,
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"emulator failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("emulator did not start in time")
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced by start()
            self._error = exc

    async def _serve(self) -> None:
        assert self._server is not None and self._socket is not None
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._socket])

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the server's loop from another thread and return its result."""
        if self._loop is None:
            raise RuntimeError("emulator not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None or self._thread is None:
            return
        if self._loop is not None and self._thread.is_alive():
            # best effort: the loop may be closing already
            with contextlib.suppress(Exception):
                self.call(self.emulator.shutdown(), timeout=timeout)
        self._server.should_exit = True
        self._thread.join(timeout)
        self._server = None
        self._thread = None
        self._loop = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<EmulatorServer {self.base_url}>"
