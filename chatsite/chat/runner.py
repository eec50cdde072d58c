"""A turn runner: one asyncio task per reply, owned by the process, not by any socket.

It streams the interaction from the API, folds events into steps (the gemini assembler), and
publishes small frames through the hub. The database is written when the interaction is created,
when a step stops and when the turn ends — never per delta. If the upstream stream breaks it
resumes with `GET …?stream=true&last_event_id=…`, so the saved reply has no lost or doubled text.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from chatsite.gemini import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    NotFoundError,
    StepAssembler,
)

from . import branches, leases, structured, titles, tools, upstream
from .attachments import strip_echo
from .hub import Outbox, hub
from .models import Conversation, Turn
from .rendering import continue_output, render_step, stream_dom_id

log = logging.getLogger(__name__)

MAX_RESUMES = 5
MAX_HOPS = 20  # continuation hops for one reply


class StreamInterrupted(Exception):
    """The upstream stream ended before `interaction.completed`."""


def _oob_append(target: str, html: str) -> str:
    return f'<div hx-swap-oob="beforeend:#{target}">{html}</div>'


def _oob_replace(html: str) -> str:
    # render_step's root element carries the id; htmx swaps the element with that id.
    return html.replace(">", ' hx-swap-oob="outerHTML">', 1)


def turn_added_frame(turn: Turn) -> str:
    html = render_to_string("chat/conversation.html#turn", {"turn": turn})
    return _oob_append("transcript", html)


def status_frame(turn: Turn) -> str:
    return json.dumps({"status": [turn.pk, turn.status]}, separators=(",", ":"))


def meta_frame(turn: Turn) -> str:
    return _oob_replace(render_to_string("chat/conversation.html#turn-meta", {"turn": turn}))


def assistant_frame(turn: Turn) -> str:
    return _oob_replace(render_to_string("chat/conversation.html#assistant", {"turn": turn}))


def _shown(steps) -> list[dict]:
    """The steps the assistant part shows (the echoed input is the user's bubble)."""
    return [s for s in steps if not (isinstance(s, dict) and s.get("type") == "user_input")]


class TurnWriter:
    """A turn's database writes, in order and off the event path: the stream never waits for
    the database. Fields asked for while a write runs go out together in the next one; `after`
    runs once the write that includes it is done (e.g. showing a step whose media the browser
    will fetch at once)."""

    def __init__(self, turn: Turn):
        self.turn = turn
        self._fields: set[str] = set()
        self._after: list = []
        self._task: asyncio.Task | None = None

    def save(self, *fields: str, after=None) -> None:
        self._fields.update(fields)
        if after is not None:
            self._after.append(after)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._fields:
            fields, self._fields = self._fields, set()
            after, self._after = self._after, []
            # The values as they are now, taken on the loop: a save that read the turn later,
            # in its thread, could write a status the loop set after (say "completed") beside
            # steps from before it, and a reader would see a finished turn missing its end.
            values = {name: copy.deepcopy(getattr(self.turn, name)) for name in fields}
            values["updated_at"] = timezone.now()
            try:
                await Turn.objects.filter(pk=self.turn.pk).aupdate(**values)
            except Exception:
                log.exception("turn %s: could not save %s", self.turn.pk, sorted(fields))
            for callback in after:
                callback()

    async def drain(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)


class TurnRunner:
    def __init__(self, turn: Turn, *, body: dict | None, history: bool = False):
        self.turn = turn
        self.history_first = history  # the chained interaction has expired: send the branch
        self.turn_id = turn.pk
        self.conversation_id = turn.conversation_id
        self.body = body  # None: re-attach to an interaction already started
        self.assembler = StepAssembler()
        self.live: set[int] = set()  # element indices of steps still streaming
        self.outbox = Outbox(self._deliver, settings.STREAM_FLUSH_MS / 1000)
        self.task: asyncio.Task | None = None
        self.language: str | None = None  # set by start(); None: the site's
        # Rises with every flush; lets another process's tab skip what it has. Starts from the
        # clock, so a runner that takes a turn over counts on above the one it replaces.
        self.seq = time.time_ns() // 1000
        self.abandoned = False  # another process took the lease: stop without writing
        self.stopping = False
        # A long answer arrives in several interactions ("hops", `requires_continuation`):
        self.hop = 0
        self.prior_steps: list[dict] = []  # saved form of the finished hops' steps
        self.prior_shown: dict[int, dict] = {}  # element index → step, finished hops
        self.offset = 0  # element index of this hop's step 0
        self.joined: dict[int, int] = {}  # this hop's index → the element it continues
        self.usage: dict = {}
        self.answered: set[str | None] = set()  # function calls we have answered
        self.writer = TurnWriter(turn)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        hub.add_runner(self.turn_id, self)
        leases.keeper.ensure_running()
        asyncio.get_running_loop().create_task(hub.relay.ensure_running())
        # A fresh context: started from a request, the task would otherwise inherit that
        # request's thread-sensitive executor, which asgiref shuts when the response is sent.
        self.language = translation.get_language()  # its frames speak the starting page's
        self.task = asyncio.get_running_loop().create_task(
            self.run(), name=f"turn-{self.turn_id}", context=contextvars.Context()
        )

    def stop(self) -> None:
        # Once: a second cancel would land in the finishing writes of the first.
        if self.task is not None and not self.task.done() and not self.stopping:
            self.stopping = True
            self.task.cancel()

    def abandon(self) -> None:
        self.abandoned = True
        self.stop()

    async def run(self) -> None:
        translation.activate(self.language or settings.LANGUAGE_CODE)
        try:
            await self._drive()
            await self._finish()
        except asyncio.CancelledError:
            if not self.abandoned:
                await self._finish(cancelled=True)
        except StreamInterrupted as exc:
            await self._finish(error={"code": "interrupted", "message": str(exc)})
        except APIError as exc:
            await self._finish(
                error={"code": getattr(exc, "upstream_status", "") or "", "message": str(exc)}
            )
        except Exception:
            log.exception("turn %s failed", self.turn_id)
            await self._finish(
                error={
                    "code": "internal",
                    "message": "Something went wrong on our side while writing this reply.",
                }
            )
        finally:
            hub.remove_runner(self.turn_id)
            try:
                await leases.release(self.turn_id)
            except Exception:
                log.warning("turn %s: could not release its lease", self.turn_id, exc_info=True)

    # -- the upstream stream ---------------------------------------------------------------
    async def _drive(self) -> None:
        client = upstream.client()
        if self.body is None:
            if not self.turn.interaction_id:
                raise StreamInterrupted(
                    "The server restarted before the API accepted this message. Retry?"
                )
            self.assembler.restore(
                list(self.turn.steps), last_event_id=self.turn.last_event_id or None
            )
            # Tabs that watched a process which died show its unsaved text: back to what was
            # saved, then the replay streams the rest.
            self.outbox.html(assistant_frame(self.current_turn()))
            opening = client.stream_get(
                self.turn.interaction_id, last_event_id=self.turn.last_event_id or None
            )
        else:
            opening = await self._first_open(client, with_history=self.history_first)
        while True:
            try:
                await self._stream_hop(client, opening)
            except (NotFoundError, BadRequestError) as exc:
                if not (_chain_gone(exc) and self._can_send_history()):
                    raise
                opening = await self._first_open(client, with_history=True)
                continue
            next_body = await self._next_request()
            if next_body is None:
                return
            opening = await self._open(client, next_body)

    async def _first_open(self, client, *, with_history: bool = False):
        assert self.body is not None  # callers: the body-given branch, or _can_send_history
        if with_history:
            self.body = await self._with_history(self.body)
        try:
            return await self._open(client, self.body)
        except (NotFoundError, BadRequestError) as exc:
            if with_history or not (_chain_gone(exc) and self._can_send_history()):
                raise
            return await self._first_open(client, with_history=True)

    def _can_send_history(self) -> bool:
        return bool(
            self.hop == 0
            and self.body
            and self.body.get("previous_interaction_id")
            and not self.assembler.interaction_id
        )

    async def _with_history(self, body: dict) -> dict:
        """The chained interaction is gone (stored interactions expire; an emulator forgets on
        restart): send the conversation so far as steps instead, so the reply still knows it."""
        log.info("turn %s: previous interaction gone; sending the history", self.turn_id)
        steps: list[dict] = []
        tree = await branches.aload(Conversation(pk=self.conversation_id))
        path = tree.ancestors(self.turn_id)  # this branch's turns only, not its other versions
        earlier = Turn.objects.filter(pk__in=path).exclude(status=Turn.Status.PENDING)
        async for turn in earlier.order_by("created_at", "pk"):
            said = [s for s in turn.steps if s.get("type") != "user_input"]
            steps.append({"type": "user_input", "content": _history_content(turn.user_input)})
            steps += [{k: v for k, v in s.items() if not k.startswith("_")} for s in said]
        current = body.get("input")
        steps.append({"type": "user_input", "content": _history_content(current)})
        rest = {k: v for k, v in body.items() if k not in ("previous_interaction_id", "input")}
        return {**rest, "input": steps}

    async def _open(self, client, body: dict):
        """A stream of the interaction this body creates. A background run is created first
        (it answers at once, queued) and then followed by stream replay, which also re-attaches
        after a break or a restart."""
        if not body.get("background"):
            return client.stream_create({**body, "stream": True})
        created = await client.create(body)
        self.assembler.feed({"event_type": "interaction.created", "interaction": created})
        await self._on_created()
        return client.stream_get(created["id"])

    async def _stream_hop(self, client, opening) -> None:
        resumes = 0
        while True:
            try:
                async with opening as events:
                    async for event in events:
                        await self._on_event(event)
                if self.assembler.done:
                    return
                raise StreamInterrupted("The stream ended before the reply was complete.")
            except (APIConnectionError, APITimeoutError, StreamInterrupted):
                can_resume = self.assembler.interaction_id and self.body_stores
                limit = MAX_RESUMES * 20 if self.turn.background else MAX_RESUMES
                if not can_resume or resumes >= limit:
                    raise
                resumes += 1
                log.info("turn %s: stream broke, resuming (%d)", self.turn_id, resumes)
                await asyncio.sleep(min(0.2 * 2**resumes, 3))
                opening = client.stream_get(
                    self.assembler.interaction_id, last_event_id=self.assembler.last_event_id
                )

    @property
    def body_stores(self) -> bool:
        return self.body is None or self.body.get("store", True) is not False

    async def _next_request(self) -> dict | None:
        """The next interaction of this reply, if it needs one: the decode stopped at its limit
        (`requires_continuation`), or the model called our functions (`requires_action`)."""
        if self.body is None or self.hop + 1 >= MAX_HOPS:
            return None
        status = self.assembler.status
        if status == Turn.Status.REQUIRES_CONTINUATION:
            token = self.assembler.continuation_token
            if not token or token == self.body.get("continuation_token"):
                return None
            if not _client_continues(self.body):
                return None  # the server goes on by itself
            body = _continuation_body(self.body, token, self.assembler.interaction_id)
            self._next_hop(body)
            return body
        if status == Turn.Status.REQUIRES_ACTION:
            results = await self._call_functions()
            if not results:
                return None
            body = {
                k: v
                for k, v in self.body.items()
                if k not in ("input", "previous_interaction_id", "continuation_token")
            }
            body.update(input=results, previous_interaction_id=self.assembler.interaction_id)
            self._next_hop(body, results)
            return body
        return None

    async def _call_functions(self) -> list[dict]:
        """Run the function calls of this hop that have no result yet; an exception becomes an
        `is_error` result, never a crash."""
        assert self.body is not None  # _next_request returned before, without a body
        offered = {
            t.get("name") for t in self.body.get("tools") or [] if t.get("type") == "function"
        }
        calls = [s for _, s in self._hop_steps() if s.get("type") == "function_call"]
        if not calls:
            return []
        allowed = offered & await tools.enabled()  # an admin may switch one off mid-reply
        results = []
        for call in calls:
            if call.get("id") in self.answered:
                continue
            arguments = call.get("arguments")
            outcome = await tools.call(
                call.get("name"), arguments if isinstance(arguments, dict) else {}, allowed=allowed
            )
            results.append(tools.function_result_step(call, outcome))
            self.answered.add(call.get("id"))
        return results

    def _next_hop(self, body: dict, extra_steps: Sequence[dict] = ()) -> None:
        """Close this hop; what the reply showed so far stays, and `extra_steps` (our function
        results) join it."""
        self.prior_shown = self.shown()
        self.prior_steps = self.saved_steps()
        self.usage = _add_usage(self.usage, self.assembler.usage or {})
        self.turn.continuation_ids = [*self.turn.continuation_ids, self.assembler.interaction_id]
        element = max(self.prior_shown, default=-1) + 1
        for step in extra_steps:
            self.prior_steps.append(step)
            self.prior_shown[element] = step
            html = render_step(step, turn_id=self.turn_id, index=element, **self._call_of(step))
            self.outbox.html(_oob_append(f"steps-{self.turn_id}", html))
            element += 1
        self.body = body
        self.offset = element
        self.joined = {}
        self.hop += 1
        self.assembler = StepAssembler()

    # -- what is shown and saved, across hops -----------------------------------------------
    def _element(self, index: Any) -> int:  # the event's index as received
        return self.joined.get(index, index + self.offset)

    def _hop_steps(self) -> list[tuple[int, dict]]:
        items = sorted(self.assembler.steps_by_index.items())
        if self.hop:  # later hops echo their input: the user's again, or our function results
            items = [
                (i, s)
                for i, s in items
                if s.get("type") != "user_input"
                and not (s.get("type") == "function_result" and s.get("call_id") in self.answered)
            ]
        return items

    def shown(self) -> dict[int, dict]:
        """Element index → step as the page shows it (continued answers joined)."""
        shown = dict(self.prior_shown)
        for index, step in self._hop_steps():
            element = self._element(index)
            if index in self.joined:
                step = continue_output(self.prior_shown[element], step)
            shown[element] = step
        return shown

    def saved_steps(self) -> list[dict]:
        """The steps as received, every hop's in order (the page joins continued answers)."""
        steps = self.prior_steps + [copy.deepcopy(s) for _, s in self._hop_steps()]
        return strip_echo(steps, self.turn.user_input)  # the files' bytes are not kept twice

    def _render(self, element: int, *, live: bool = False) -> str:
        step = self.shown()[element]
        return render_step(
            step,
            turn_id=self.turn_id,
            index=element,
            live=live,
            response_format=(self.turn.request or {}).get("response_format"),
            verdicts=self.turn.schema_verdicts,
            **self._call_of(step),
        )

    async def _check_answers(self) -> None:
        """Structured output: check each new answer against the person's schema once, off the
        loop (their regexes run there); pages only read the verdicts kept with the turn."""
        self.turn.schema_verdicts = await structured.check_answers(
            self.shown().values(),
            (self.turn.request or {}).get("response_format"),
            self.turn.schema_verdicts,
        )

    def _call_of(self, step: dict) -> dict:
        """For a result step, the call it answers (its card says so)."""
        if not isinstance(step.get("call_id"), str):
            return {}
        for index, other in self.shown().items():
            if other.get("id") == step["call_id"]:
                return {"call": other, "call_index": index}
        return {}

    # -- events ------------------------------------------------------------------------------
    async def _on_event(self, event: dict) -> None:
        kind = event.get("event_type") if isinstance(event, dict) else None
        if kind == "interaction.completed":
            before = _shown(self.shown().values())
            self.assembler.feed(event)
            if _shown(self.shown().values()) != before:
                # The final snapshot is authoritative and differs from what streamed: redraw.
                self.live.clear()
                await self._check_answers()
                self.outbox.html(assistant_frame(self.current_turn()))
            return
        self.assembler.feed(event)
        if kind == "interaction.created":
            await self._on_created()
        elif kind == "interaction.status_update":
            status = self.assembler.status
            # A final status is written by _finish, with the final steps in the same UPDATE:
            # no reader may see a turn "completed" whose last words are not saved yet.
            if status and status != self.turn.status and status not in Turn.FINAL:
                self.turn.status = status
                self.writer.save("status")
                self.outbox.json(json.loads(status_frame(self.turn)))
        elif kind == "step.start":
            self._show_live(event.get("index"))
        elif kind == "step.delta":
            index = event.get("index")
            if self._element(index) not in self.live:
                self._show_live(index)  # a delta with no start: its shell carries the text so far
                return
            text = _delta_text(event.get("delta"))
            if text:
                self.outbox.text(stream_dom_id(self.turn_id, self._element(index)), text)
        elif kind == "step.stop":
            element = self._element(event.get("index"))
            self.live.discard(element)
            self.turn.steps = self.saved_steps()
            self.turn.last_event_id = self.assembler.last_event_id or ""
            await self._check_answers()
            if element in self.shown():
                final = _oob_replace(self._render(element))
                # Shown once saved: its media URLs must answer when the browser asks.
                self.writer.save(
                    "steps", "last_event_id", "schema_verdicts",
                    after=lambda: self.outbox.html(final),
                )  # fmt: skip
            else:
                self.writer.save("steps", "last_event_id", "schema_verdicts")

    async def _on_created(self) -> None:
        if self.turn.interaction_id == self.assembler.interaction_id and self.turn.status not in (
            Turn.Status.PENDING,
        ):
            return  # a replay of a background run we created ourselves
        self.turn.interaction_id = self.assembler.interaction_id
        self.turn.status = self.assembler.status or Turn.Status.IN_PROGRESS
        self.writer.save("interaction_id", "status", "continuation_ids")
        self.outbox.json(json.loads(status_frame(self.turn)))

    def _show_live(self, index) -> None:
        step = self.assembler.steps_by_index.get(index)
        if step is None or self._element(index) in self.live or step.get("type") == "user_input":
            return
        continues = self.hop and step.get("type") == "model_output" and self.prior_shown
        last = max(self.prior_shown, default=None)
        if continues and last is not None and self.prior_shown[last].get("type") == "model_output":
            # The answer runs on: reopen its element instead of starting a new one.
            self.joined[index] = last
            self.live.add(last)
            self.outbox.html(_oob_replace(self._render(last, live=True)))
            return
        element = self._element(index)
        self.live.add(element)
        html = self._render(element, live=True)
        self.outbox.html(_oob_append(f"steps-{self.turn_id}", html))

    # -- finishing ---------------------------------------------------------------------------
    async def _finish(self, *, cancelled: bool = False, error: dict | None = None) -> None:
        turn = self.turn
        turn.steps = self.saved_steps() or turn.steps
        turn.usage = _add_usage(self.usage, self.assembler.usage or {}) or turn.usage
        turn.last_event_id = self.assembler.last_event_id or turn.last_event_id
        await self._check_answers()
        if cancelled:
            turn.status = Turn.Status.CANCELLED
            turn.error = {"code": "cancelled", "message": "Stopped."}
            if turn.background and turn.interaction_id:
                await self._cancel_upstream()
        elif error is not None:
            turn.status = Turn.Status.FAILED
            turn.error = error
        elif self.assembler.error:
            turn.status = Turn.Status.FAILED
            turn.error = dict(self.assembler.error)
        else:
            turn.status = self.assembler.status or Turn.Status.COMPLETED
        turn.completed_at = timezone.now()
        turn.refresh_search_text()
        redraw = cancelled or error is not None or bool(self.live)
        turn.steps_by_index = None
        turn.live_indices = set()
        self.live.clear()
        try:
            await self.writer.drain()  # earlier writes first: the last one must win
            await self._save(
                "steps", "usage", "last_event_id", "status", "error", "completed_at",
                "continuation_ids", "search_text", "total_tokens", "schema_verdicts",
            )  # fmt: skip
        finally:
            # Steps still open end in their final form, then the status line.
            self.outbox.html(assistant_frame(turn) if redraw else meta_frame(turn))
            self.outbox.json(json.loads(status_frame(turn)))
            self.outbox.flush()
        titles.after_reply(turn)

    async def _cancel_upstream(self) -> None:
        assert self.turn.interaction_id  # its one caller checked
        try:
            await upstream.client().cancel(self.turn.interaction_id)
        except APIError as exc:
            log.info("turn %s: upstream cancel failed: %s", self.turn_id, exc)

    @classmethod
    async def fail_orphan(cls, turn: Turn, message: str, *, status=Turn.Status.FAILED) -> None:
        turn.status = status
        turn.error = {"code": "interrupted", "message": message}
        turn.completed_at = timezone.now()
        await turn.asave(update_fields=["status", "error", "completed_at", "updated_at"])
        hub.publish(turn.conversation_id, [assistant_frame(turn), status_frame(turn)])

    @classmethod
    async def end_stopped(cls, turn: Turn) -> None:
        """Stop pressed on a turn no runner runs (its process died): cancel the interaction
        upstream, best effort (it may have ended, or never started), and end the turn there."""
        if turn.interaction_id:
            try:
                await upstream.client().cancel(turn.interaction_id)
            except (APIError, APIConnectionError, APITimeoutError) as exc:
                log.info("turn %s: upstream cancel failed: %s", turn.pk, exc)
        await cls.fail_orphan(turn, "Stopped.", status=Turn.Status.CANCELLED)

    # -- helpers -----------------------------------------------------------------------------
    async def _save(self, *fields: str) -> None:
        await self.turn.asave(update_fields=[*fields, "updated_at"])

    def _deliver(self, frames: list[str]) -> None:
        self.seq += 1
        hub.publish(self.conversation_id, frames, turn_id=self.turn_id, seq=self.seq)

    def current_turn(self) -> Turn:
        self.turn.steps = self.saved_steps()
        self.turn.steps_by_index = self.shown() if self.live else None
        self.turn.live_indices = set(self.live)
        return self.turn

    def snapshot(self, *, whole_turn: bool = False) -> tuple[list[str], int]:
        """The turn as it stands, for a tab that joins now, and the sequence number it covers.
        Never awaits, so nothing can be published between the flush and the snapshot."""
        self.outbox.flush()
        turn = self.current_turn()
        frames = [turn_added_frame(turn)] if whole_turn else []
        frames += [assistant_frame(turn), status_frame(turn)]
        return frames, self.seq


def _chain_gone(exc: APIError) -> bool:
    """The chained interaction is no longer there: not found (404), or refused as expired
    (a 400 that names it)."""
    return isinstance(exc, NotFoundError) or "previous_interaction" in (exc.message or "")


def _client_continues(body: dict) -> bool:
    """As the SDK: background and agent runs are continued by the server, not by us."""
    return not (body.get("background") or body.get("agent") or body.get("agent_config"))


def _continuation_body(body: dict, token: str, owner_id: str | None) -> dict:
    """The next hop of a long decode: the same request (its config, tools, system instruction
    and response format) with the token; stored, it names the interaction that issued the
    token and leaves out the input, as the SDK does."""
    hop = {k: v for k, v in body.items() if k != "continuation_token"}
    hop["continuation_token"] = token
    if hop.get("store", True) is not False:
        hop.pop("input", None)
        hop["previous_interaction_id"] = owner_id
    return hop


def _history_content(blocks) -> list[dict]:
    """A turn's input as history: files the API no longer has become a short mention."""
    if isinstance(blocks, str):
        return [{"type": "text", "text": blocks}]
    out = []
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and "attachment" in block:
            out.append({"type": "text", "text": f"[attached file: {block.get('name', 'file')}]"})
        elif isinstance(block, dict) and block.get("type") in (
            "text", "image", "audio", "video", "document",
        ):  # fmt: skip
            out.append(block)
    return out or [{"type": "text", "text": ""}]


def _delta_text(delta) -> str:
    """The text a delta adds to its element: answer text, or thought-summary text."""
    if not isinstance(delta, dict):
        return ""
    if delta.get("type") == "text" and isinstance(delta.get("text"), str):
        return delta["text"]
    if delta.get("type") == "thought_summary":
        content = delta.get("content")
        if isinstance(content, dict) and content.get("type") == "text":
            text = content.get("text")
            return text if isinstance(text, str) else ""
    return ""


def _add_usage(total: dict, more: dict) -> dict:
    """Usage over hops: integer fields add up (per-modality lists are kept from the last)."""
    out = dict(total)
    for key, value in (more or {}).items():
        if isinstance(value, int) and isinstance(out.get(key), int):
            out[key] += value
        else:
            out[key] = value
    return out
