"""The emulator as the bench runs it: `python -m bench.emulator_proc --port N`.

It is chatsite's own emulator app, served by uvicorn exactly as `manage.py emulator` serves it,
with one addition for measuring: the moment each text delta is appended to an interaction's event
log (the instant the upstream "emits" it, before any socket write) is kept, on CLOCK_MONOTONIC,
which every process on this machine shares. `POST /bench/emits` with a JSON list of interaction
ids returns `{id: [[t_emit, chars_so_far], ...]}`; `POST /bench/reset` forgets them all.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, cast

import uvicorn

from chatsite.emulator import runner
from chatsite.emulator.app import Emulator, create_app
from chatsite.emulator.store import EventLog

_log_owner: dict[int, str] = {}  # id(EventLog) -> interaction id
_emits: dict[str, list[list[float]]] = {}  # interaction id -> [[t_emit, chars_so_far], ...]

_original_run = runner.run
_original_append_text_delta = EventLog.append_text_delta


async def _run(record, *args, **kwargs):
    _log_owner[id(record.log)] = record.id
    _emits[record.id] = []
    try:
        return await _original_run(record, *args, **kwargs)
    finally:
        _log_owner.pop(id(record.log), None)


def _append_text_delta(self, index, text):
    event_id = _original_append_text_delta(self, index, text)
    owner = _log_owner.get(id(self))
    if owner is not None:
        marks = _emits[owner]
        chars = (marks[-1][1] if marks else 0) + len(text)
        marks.append([time.monotonic(), chars])
    return event_id


runner.run = _run
cast(Any, EventLog).append_text_delta = _append_text_delta  # instrumented on purpose


def with_bench_routes(app):
    async def asgi(scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/bench/"):
            return await app(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if path == "/bench/emits":
            ids = json.loads(body or b"[]")
            payload = {i: _emits.get(i, []) for i in ids}
        elif path == "/bench/reset":
            _emits.clear()
            payload = {}
        else:
            payload = {"error": "unknown"}
        data = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    return asgi


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pace-ms", type=float, default=0.0)
    args = parser.parse_args()
    emulator = Emulator(pace_ms=args.pace_ms, keepalive_s=10.0)
    # The same server settings as `manage.py emulator`.
    config = uvicorn.Config(
        with_bench_routes(create_app(emulator)),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=2,
        backlog=2048,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
