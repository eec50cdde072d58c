"""``python manage.py emulator``: serve the Interactions API emulator in the foreground."""

from __future__ import annotations

import uvicorn
from django.core.management.base import BaseCommand, CommandParser

from chatsite.emulator.app import Emulator, create_app
from chatsite.emulator.directives import DEFAULT_HOP_WORDS


class Command(BaseCommand):
    help = "Serve the local Gemini Interactions API emulator until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--pace-ms", type=float, default=35.0, help="delay between streamed deltas"
        )
        parser.add_argument(
            "--api-key", default=None, help="require this exact x-goog-api-key (default: any)"
        )
        parser.add_argument(
            "--keepalive-s", type=float, default=10.0, help="idle time before an SSE comment"
        )
        parser.add_argument(
            "--hop-words",
            type=int,
            default=DEFAULT_HOP_WORDS,
            help="per-hop decode limit in words; longer replies end requires_continuation",
        )
        parser.add_argument("--log-level", default="info")

    def handle(self, *args: object, **options: object) -> None:
        host = str(options["host"])
        port = int(options["port"])  # type: ignore[call-overload]
        emulator = Emulator(
            pace_ms=float(options["pace_ms"]),  # type: ignore[arg-type]
            api_key=options["api_key"],  # type: ignore[arg-type]
            keepalive_s=float(options["keepalive_s"]),  # type: ignore[arg-type]
            hop_words=int(options["hop_words"]),  # type: ignore[call-overload]
        )
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(
            f"Interactions API emulator on http://{shown}:{port}/v1beta "
            f"(pace {emulator.pace_ms:g} ms; Ctrl-C to stop)"
        )
        self.stdout.flush()
        config = uvicorn.Config(
            create_app(emulator),
            host=host,
            port=port,
            log_level=str(options["log_level"]),
            access_log=False,
            lifespan="on",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=2,
            backlog=2048,
        )
        uvicorn.Server(config).run()
