"""A turn runner: one asyncio task per reply, owned by the process, not by any socket.

It streams the interaction from the API, folds events into steps (the gemini assembler), and
publishes small frames through the hub. The database is written when the interaction is created,
when a step stops and when the turn ends — never per delta. If the upstream stream breaks it
resumes with `GET …?stream=true&last_event_id=…`, so the saved reply has no lost or doubled text.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext

from chatsite.gemini import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    NotFoundError,
    StepAssembler,
)

from . import hops, leases, structured, titles, upstream
from .hub import Outbox, hub
from .live_answers import LiveAnswers
from .models import Turn
from .rendering import render_step, stream_dom_id
from .templatetags.turn_actions import answer_markdown
from .turn_frames import (
    assistant_frame,
    finished_frame,
    meta_frame,
    oob_append,
    oob_replace,
    status_frame,
    turn_added_frame,
)
from .turn_writer import TurnWriter

__all__ = ["TurnRunner", "assistant_frame", "status_frame", "turn_added_frame"]

log = logging.getLogger(__name__)

MAX_RESUMES = 5


class StreamInterrupted(Exception):
    """The upstream stream ended before `interaction.completed`."""


def _shown(steps) -> list[dict]:
    """The steps the assistant part shows (the echoed input is the user's bubble)."""
    return [s for s in steps if not (isinstance(s, dict) and s.get("type") == "user_input")]


class TurnRunner:
    def __init__(self, turn: Turn, *, body: dict | None, history: bool = False, opening=None):
        self.turn = turn
        self.early = opening  # the first request, already sent (early_request), or None
        self.history_first = history  # the chained interaction has expired: send the branch
        self.turn_id = turn.pk
        self.conversation_id = turn.conversation_id
        self.body = body  # None: re-attach to an interaction already started
        self.reply = hops.ReplySteps(turn.user_input)  # what it shows and saves, over hops
        self.live: set[int] = set()  # element indices of steps still streaming
        self.answers = LiveAnswers(turn.pk)  # live answers' Markdown blocks
        self.outbox = Outbox(self._deliver, settings.STREAM_FLUSH_MS / 1000)
        self.task: asyncio.Task | None = None
        self.language: str | None = None  # set by start(); None: the site's
        # Rises with every flush; lets another process's tab skip what it has. Starts from the
        # clock, so a runner that takes a turn over counts on above the one it replaces.
        self.seq = time.time_ns() // 1000
        self.abandoned = False  # another process took the lease: stop without writing
        self.stopping = False
        self.started_at = 0.0  # loop time of start(): the relay's grace counts from it
        self.writer = TurnWriter(turn)

    @property
    def assembler(self) -> StepAssembler:  # the current hop's
        return self.reply.assembler

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.started_at = asyncio.get_running_loop().time()
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
                    "message": gettext(
                        "Something went wrong on our side while writing this reply."
                    ),
                }
            )
        finally:
            if self.early is not None:  # stopped before it read the request sent for it
                await self.early.close()
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
                    gettext("The server restarted before the API accepted this message. Retry?")
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
        elif self.early is not None:
            opening, self.early = self.early, None
        else:
            opening = await self._first_open(client, with_history=self.history_first)
        while True:
            try:
                await self._stream_hop(client, opening)
            except (NotFoundError, BadRequestError) as exc:
                if not (hops.chain_gone(exc) and self._can_send_history()):
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
            if with_history or not (hops.chain_gone(exc) and self._can_send_history()):
                raise
            return await self._first_open(client, with_history=True)

    def _can_send_history(self) -> bool:
        return bool(
            self.reply.hop == 0
            and self.body
            and self.body.get("previous_interaction_id")
            and not self.assembler.interaction_id
        )

    async def _with_history(self, body: dict) -> dict:
        log.info("turn %s: previous interaction gone; sending the history", self.turn_id)
        return await hops.with_history(body, self.turn)

    async def _open(self, client, body: dict):
        """A stream of the interaction this body creates. A background run is created first
        (it answers at once, queued) and then followed by stream replay, which also re-attaches
        after a break or a restart."""
        if not body.get("background"):
            return client.stream_create(body)  # it asks for the stream itself
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
                        delivered = self.outbox.delivered
                        await self._on_event(event)
                        if self.outbox.delivered != delivered:
                            # Events that arrived together are handled without a pause, so
                            # the sockets' writers run now, not after the whole batch.
                            await asyncio.sleep(0)
                if self.assembler.done:
                    return
                raise StreamInterrupted(gettext("The stream ended before the reply was complete."))
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
        if self.body is None:
            return None
        body = await self.reply.next_request(self.body)
        if body is None:
            return None
        # Close this hop: our function results (if any) join what the reply shows.
        self.turn.continuation_ids = [*self.turn.continuation_ids, self.assembler.interaction_id]
        extra = body["input"] if "continuation_token" not in body else []
        for element, step in self.reply.next_hop(extra):
            html = render_step(step, turn_id=self.turn_id, index=element, **self._call_of(step))
            self.outbox.html(oob_append(f"steps-{self.turn_id}", html))
        self.body = body
        return body

    # -- what is shown and saved, across hops -----------------------------------------------
    def shown(self) -> dict[int, dict]:
        return self.reply.shown()

    def saved_steps(self) -> list[dict]:
        return self.reply.saved()

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
        return self.reply.call_of(step)

    # -- events ------------------------------------------------------------------------------
    async def _on_event(self, event: dict) -> None:
        kind = event.get("event_type") if isinstance(event, dict) else None
        if kind == "interaction.completed":
            before = _shown(self.shown().values())
            self.assembler.feed(event)
            if _shown(self.shown().values()) != before:
                # The final snapshot is authoritative and differs from what streamed: redraw.
                self.live.clear()
                self.answers.clear()
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
            if self.reply.element(index) not in self.live:
                self._show_live(index)  # a delta with no start: its shell carries the text so far
                return
            text = hops.delta_text(event.get("delta"))
            if text:
                element = self.reply.element(index)
                self.outbox.text(stream_dom_id(self.turn_id, element), text)
                if blocks := self.answers.feed(element, text):
                    self.outbox.frame(*blocks)
        elif kind == "step.stop":
            element = self.reply.element(event.get("index"))
            self.live.discard(element)
            self.turn.steps = self.saved_steps()
            self.turn.last_event_id = self.assembler.last_event_id or ""
            await self._check_answers()
            if element in self.shown():
                final = self._final_frames(element)
                # Shown once saved: its media URLs must answer when the browser asks.
                self.writer.save(
                    "steps", "last_event_id", "schema_verdicts",
                    after=lambda: self.outbox.frame(*final),
                )  # fmt: skip
            else:
                self.writer.save("steps", "last_event_id", "schema_verdicts")

    def _final_frames(self, element: int) -> list[str]:
        """What turns a stopped step's live element into its final form: for an answer the
        tab already shows as the page would, its last blocks and an end mark; else the whole
        step, rendered."""
        ended = self.answers.final_frames(element, self.shown()[element], self.turn.request)
        return ended or [oob_replace(self._render(element))]

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
        element = self.reply.element(index)
        if step is None or element in self.live or step.get("type") == "user_input":
            return
        last = self.reply.continues_answer(index)
        if last is not None:
            # The answer runs on: reopen its element instead of starting a new one.
            self.reply.joined[index] = last
            self.live.add(last)
            self.answers.track(last, self.shown()[last])
            self.outbox.html(oob_replace(self._render(last, live=True)))
            return
        self.live.add(element)
        self.answers.track(element, self.shown()[element])
        html = self._render(element, live=True)
        self.outbox.html(oob_append(f"steps-{self.turn_id}", html))

    # -- finishing ---------------------------------------------------------------------------
    async def _finish(self, *, cancelled: bool = False, error: dict | None = None) -> None:
        turn = self.turn
        turn.steps = self.saved_steps() or turn.steps
        turn.usage = self.reply.total_usage() or turn.usage
        turn.last_event_id = self.assembler.last_event_id or turn.last_event_id
        await self._check_answers()
        if cancelled:
            turn.status = Turn.Status.CANCELLED
            turn.error = {"code": "cancelled", "message": gettext("Stopped.")}
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
        self.answers.clear()
        try:
            await self.writer.drain()  # earlier writes first: the last one must win
            await self._save(
                "steps", "usage", "last_event_id", "status", "error", "completed_at",
                "continuation_ids", "search_text", "total_tokens", "schema_verdicts",
            )  # fmt: skip
        finally:
            # Steps still open end in their final form, then the status line.
            finished = None if redraw else self._finished_frame(turn)
            if finished is not None:
                self.outbox.json(finished)
            else:
                self.outbox.html(assistant_frame(turn) if redraw else self._meta_frame(turn))
                self.outbox.json(json.loads(status_frame(turn)))
            self.outbox.flush()
        titles.after_reply(turn)

    def _meta_frame(self, turn: Turn) -> str:
        return meta_frame(turn, source_from=self.answers.source_from(answer_markdown(turn)))

    def _finished_frame(self, turn: Turn) -> dict | None:
        """A completed answer the tabs show as it was streamed: its status and meta in one
        small frame. None for anything else (its meta line is sent as HTML)."""
        if turn.status != Turn.Status.COMPLETED:
            return None
        source_from = self.answers.source_from(answer_markdown(turn))
        return finished_frame(turn, source_from) if source_from else None

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
        await cls.fail_orphan(turn, gettext("Stopped."), status=Turn.Status.CANCELLED)

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
        frames += self.answers.snapshot_frames()
        return frames, self.seq
