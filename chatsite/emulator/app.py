"""The emulator's ASGI app (Starlette): routes, auth, Google-style errors and SSE tailing."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import continuation, runner, tools
from . import directives as directives_module
from .agents import AGENT_PACE_MS
from .directives import DEFAULT_HOP_WORDS, Directives
from .errors import (
    ApiError,
    error_body,
    failed_precondition,
    invalid_api_key,
    invalid_argument,
    not_found,
    permission_denied,
    type_error,
)
from .generator import (
    ReplyPlan,
    SchemaTooComplex,
    check_request,
    last_user_text,
    make_context,
    plan_reply_async,
)
from .store import KIND_TEXT_DELTA, InteractionRecord, RequestLog, Store, new_interaction_id
from .validation import echoed_steps, parse_body, validate_create

JSON_TYPE = "application/json; charset=UTF-8"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
KEEPALIVE = b": keep-alive\n\n"
MAX_BATCH_FRAMES = 512
BACKGROUND_QUEUE_S = 0.02  # a background interaction waits this long in `queued`
AGENT_QUEUE_S = 0.3  # an agent waits this long, at the default agent pace


class AbruptClose(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised by an SSE response to make uvicorn drop the connection mid-body (`drop`)."""


class _QuietAbruptClose(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, AbruptClose)


_quiet_filter = _QuietAbruptClose()
if _quiet_filter not in logging.getLogger("uvicorn.error").filters:
    logging.getLogger("uvicorn.error").addFilter(_quiet_filter)


class Emulator:
    """State and behaviour shared by all requests of one emulator app."""

    def __init__(
        self,
        pace_ms: float = 0,
        api_key: str | None = None,
        keepalive_s: float = 10.0,
        echo_input: bool = True,
        max_interactions: int = 10_000,
        hop_words: int = DEFAULT_HOP_WORDS,
    ) -> None:
        self.pace_ms = pace_ms
        self.hop_words = hop_words  # per-hop decode limit (words); the directive overrides
        self.api_key = api_key
        self.keepalive_s = keepalive_s
        self.echo_input = echo_input
        self.store = Store(max_interactions=max_interactions)
        self.tasks: set[asyncio.Task[None]] = set()

    # --- helpers ----------------------------------------------------------------------------

    def authorize(self, request: Request) -> None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            raise permission_denied()
        if self.api_key is not None and key != self.api_key:
            raise invalid_api_key()

    def log_request(self, request: Request, body: Any = None) -> RequestLog:
        entry = RequestLog(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers=dict(request.headers),
            body=body,
        )
        self.store.log_request(entry)
        request.scope["emulator.request_log"] = entry
        return entry

    def lookup(self, interaction_id: str) -> InteractionRecord:
        record = self.store.get(interaction_id)
        if record is None:
            raise not_found(interaction_id)
        return record

    # --- routes -----------------------------------------------------------------------------

    async def create(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body: Any = parse_body(raw)
        except ValueError as exc:
            self.log_request(request, raw)
            self.authorize(request)
            raise invalid_argument(f"Invalid JSON payload received. {exc}.")
        entry = self.log_request(request, body)
        self.authorize(request)
        if body is None:
            raise invalid_argument("Invalid JSON payload received. The request body is empty.")
        input_steps = validate_create(body)
        tools.check_mcp_names(body)

        history: list[dict[str, Any]] = []
        previous_id = body.get("previous_interaction_id")
        if previous_id:
            chain = list(self.store.chain(previous_id))
            if not chain:
                raise not_found(previous_id)
            if self.store.expired(chain[0]):
                raise invalid_argument(f"The 'previous_interaction_id' {previous_id} has expired.")
            for earlier in reversed(chain):
                history.extend(earlier.input_steps)
                history.extend(earlier.steps)

        token = body.get("continuation_token")
        if token:
            record, planner = self._continuation(body, input_steps, token)
        else:
            directives = directives_module.parse(last_user_text(input_steps))
            if not any(step.get("type") == "user_input" for step in input_steps):
                # Only function results: the user's last message still sets the tone.
                inherited = directives_module.parse(last_user_text(history))
                directives = inherited.for_continuation()
            self._maybe_fail(body, directives)
            ctx = make_context(body, history, input_steps, directives)
            ctx.hop_words = directives.hop_words or self.hop_words
            try:
                check_request(ctx)
            except SchemaTooComplex as exc:
                raise invalid_argument(f"The schema is too complex or unsupported: {exc}")
            record = InteractionRecord(
                id=new_interaction_id(),
                request=body,
                input_steps=input_steps,
                echo_steps=echoed_steps(input_steps) if self.echo_input else [],
                directives=directives,
                stored=body.get("store", True) is not False,
                background=bool(body.get("background")),
            )

            async def planner() -> ReplyPlan:
                return await plan_reply_async(ctx)

        entry.interaction_id = record.id
        directives = record.directives
        is_agent = bool(body.get("agent"))
        if is_agent:
            pace_ms = directives.pace_ms if directives.pace_ms is not None else AGENT_PACE_MS
            delay_scale = pace_ms / AGENT_PACE_MS
            queue_delay_s = AGENT_QUEUE_S * delay_scale
        else:
            pace_ms = directives.pace_ms if directives.pace_ms is not None else self.pace_ms
            delay_scale = 1.0
            queue_delay_s = BACKGROUND_QUEUE_S
        if record.background or is_agent:
            record.status = "queued"
        runner.start(record)
        self.store.add(record)
        task = asyncio.get_running_loop().create_task(
            runner.run(
                record,
                planner,
                pace_ms / 1000,
                queue_delay_s=queue_delay_s,
                delay_scale=delay_scale,
            )
        )
        record.task = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

        streaming = (
            body.get("stream") is True
            or request.query_params.get("alt") == "sse"
            or "text/event-stream" in request.headers.get("accept", "")
        )
        if streaming:
            return SSEResponse(self, record, 0, drop_after=directives.drop_after)
        if record.status != "queued":
            await asyncio.shield(task)
        return json_response(record.to_json())

    def _maybe_fail(self, body: dict[str, Any], directives: Directives) -> None:
        if directives.fail_status is None:
            return
        key = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())
        if self.store.count_attempt(key.hexdigest()) <= directives.fail_count:
            headers = {}
            if directives.retry_after is not None:
                headers["Retry-After"] = str(directives.retry_after)
            elif directives.fail_status == 429:
                headers["Retry-After"] = "1"
            raise ApiError(directives.fail_status, headers=headers)

    def _continuation(
        self, body: dict[str, Any], input_steps: list[dict[str, Any]], token: str
    ) -> tuple[InteractionRecord, Any]:
        """A hop of a long decode (§8.2): check the token, plan the next slice of the output.

        The hop's steps start with the echo of the turn being continued (the owner's echoed
        input), then the continued model_output.
        """
        parsed = continuation.read_token(token)
        if parsed is None:
            raise invalid_argument(
                "Invalid 'continuation_token': it was not issued by this server or is corrupt."
            )
        owner_id, offset = parsed
        owner = self.store.find(owner_id)
        if owner is None or owner.decode is None:
            raise invalid_argument("The 'continuation_token' has expired.")
        previous_id = body.get("previous_interaction_id")
        if owner.stored:
            if previous_id != owner_id:
                raise invalid_argument(
                    "The 'continuation_token' does not belong to 'previous_interaction_id' "
                    f"{previous_id!r}: send the id of the interaction that issued it."
                )
            if input_steps and input_steps != owner.input_steps:
                raise invalid_argument(
                    "With 'continuation_token' and 'store: true', omit 'input' (or resend it "
                    "unchanged)."
                )
        elif input_steps != owner.input_steps:
            raise invalid_argument(
                "With 'store: false', a continuation must resend the original 'input' "
                "unchanged together with the 'continuation_token'."
            )
        decode = owner.decode
        if offset > len(decode.chunks):
            raise invalid_argument("Invalid 'continuation_token': offset out of range.")
        record = InteractionRecord(
            id=new_interaction_id(),
            request=body,
            input_steps=input_steps,
            echo_steps=[dict(step) for step in owner.echo_steps],
            directives=owner.directives.for_continuation(),
            stored=body.get("store", True) is not False,
            background=bool(body.get("background")),
        )
        return record, decode.hop_plan(offset)

    async def get(self, request: Request) -> Any:
        self.log_request(request)
        self.authorize(request)
        interaction_id = request.path_params["id"]
        if request.method == "DELETE":
            return await self._delete(interaction_id)
        stream = _bool_param(request, "stream")
        include_input = _bool_param(request, "include_input")
        last_event_id = request.query_params.get("last_event_id")
        record = self.lookup(interaction_id)
        if last_event_id and not stream:
            raise invalid_argument("'last_event_id' is only valid together with 'stream=true'.")
        if stream:
            start = 0
            if last_event_id:
                position = record.log.position_after(last_event_id)
                if position is None:
                    raise invalid_argument(
                        f"Event {last_event_id} not found in interaction {interaction_id}."
                    )
                start = position
            return SSEResponse(self, record, start)
        return json_response(record.to_json(include_input=include_input))

    async def post_on_id(self, request: Request) -> Any:
        """``POST …/interactions/{id}:cancel`` (the google.api custom-method spelling)."""
        interaction_id = request.path_params["id"]
        if interaction_id.endswith(":cancel"):
            request.path_params["id"] = interaction_id.removesuffix(":cancel")
            return await self.cancel(request)
        self.log_request(request)
        raise ApiError(404, f"Method not found: POST {request.url.path}", "NOT_FOUND")

    async def cancel(self, request: Request) -> Any:
        self.log_request(request)
        self.authorize(request)
        record = self.lookup(request.path_params["id"])
        if record.done:
            raise failed_precondition(
                f"Interaction {record.id} is already {record.status} and cannot be cancelled."
            )
        await self._stop(record)
        return json_response(record.to_json())

    async def _delete(self, interaction_id: str) -> Any:
        record = self.lookup(interaction_id)
        self.store.delete(interaction_id)
        if not record.done:
            await self._stop(record)
        return json_response({})

    async def _stop(self, record: InteractionRecord) -> None:
        record.cancel_requested = True
        task = record.task
        if task is not None and not task.done():
            task.cancel()
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
        if not record.done:  # cancelled before it ever ran: finish the log by hand
            record.touch("cancelled")
            record.log.append("interaction.completed", {"interaction": record.completed_snapshot()})
            record.log.close()

    async def health(self, request: Request) -> Any:
        return json_response(
            {
                "emulator": "chatsite Interactions API emulator",
                "interactions": len(self.store.interactions),
                "running": len(self.tasks),
            }
        )

    async def shutdown(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class SSEResponse:
    """Tails an interaction's event log as ``text/event-stream`` (an ASGI callable).

    Sends whatever frames exist (batched), then follows live until the log ends. A comment
    keeps an idle stream alive. When the client goes away first, the interaction is flagged
    (``client_disconnected``) and generation carries on.
    """

    def __init__(
        self,
        emulator: Emulator,
        record: InteractionRecord,
        start: int,
        drop_after: int | None = None,
    ) -> None:
        self.emulator = emulator
        self.record = record
        self.start = start
        self.drop_after = drop_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = self.record
        record.stream_responses += 1
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        writer = asyncio.ensure_future(self._write(send))
        watcher = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            done, _ = await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (writer, watcher):
                task.cancel()
            await asyncio.gather(writer, watcher, return_exceptions=True)
        if writer in done:
            error = writer.exception()
            if error is not None:
                raise error  # AbruptClose: uvicorn closes the connection mid-body
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        # The client went away before the end of the log; generation carries on.
        record.client_disconnects += 1
        record.client_disconnected.set()

    async def _write(self, send: Send) -> None:
        log = self.record.log
        frames, kinds = log.frames, log.kinds
        keepalive = self.emulator.keepalive_s
        position = self.start
        drop = self.drop_after
        text_sent = 0
        while True:
            end = len(frames)
            if position < end:
                end = min(end, position + MAX_BATCH_FRAMES)
                if drop is not None:
                    for cut in range(position, end):
                        if kinds[cut] == KIND_TEXT_DELTA:
                            text_sent += 1
                            if text_sent >= drop:
                                body = b"".join(frames[position : cut + 1])
                                await send(
                                    {"type": "http.response.body", "body": body, "more_body": True}
                                )
                                raise AbruptClose(f"drop after {drop} text deltas")
                body = frames[position] if end - position == 1 else b"".join(frames[position:end])
                position = end
                await send({"type": "http.response.body", "body": body, "more_body": True})
                continue
            if log.done:
                return
            if not await log.wait(keepalive):
                await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=headers, media_type=JSON_TYPE)


def _bool_param(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise type_error(name, "TYPE_BOOL", value)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    entry = request.scope.get("emulator.request_log")
    if entry is not None:
        entry.status = exc.code
    return Response(
        exc.body_bytes(), status_code=exc.code, headers=exc.headers, media_type=JSON_TYPE
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:  # Google answers an unsupported method with a 404
        message = f"Method not found: {request.method} {request.url.path}"
        return json_response(error_body(404, message, "NOT_FOUND"), status=404)
    if exc.status_code == 404:
        body = error_body(
            404,
            f"The requested URL {request.url.path} was not found on this server.",
            "NOT_FOUND",
        )
    else:
        body = error_body(exc.status_code, str(exc.detail), "UNKNOWN")
    return json_response(body, status=exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, AbruptClose):  # deliberate (`drop`): the response had started anyway
        return Response(status_code=500)
    logging.getLogger(__name__).error("emulator bug", exc_info=exc)
    return json_response(error_body(500, f"Internal error: {exc!r}", "INTERNAL"), status=500)


def _lifespan(emulator: Emulator) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emulator.shutdown()

    return lifespan


def create_app(emulator: Emulator | None = None, **options: Any) -> Starlette:
    """The ASGI app; ``options`` go to :class:`Emulator` when none is given."""
    emulator = emulator or Emulator(**options)
    routes = [
        Route("/", emulator.health, methods=["GET"]),
        Route("/healthz", emulator.health, methods=["GET"]),
        Route("/{prefix:path}/interactions", emulator.create, methods=["POST"]),
        Route("/{prefix:path}/interactions/{id}/cancel", emulator.cancel, methods=["POST"]),
        Route("/{prefix:path}/interactions/{id}", emulator.get, methods=["GET", "DELETE"]),
        Route("/{prefix:path}/interactions/{id}", emulator.post_on_id, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        lifespan=_lifespan(emulator),
    )
    app.state.emulator = emulator
    return app
