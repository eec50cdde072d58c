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

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from chatsite.gemini import APIConnectionError, APIError, APITimeoutError, StepAssembler

from . import upstream
from .hub import Outbox, hub
from .models import Turn
from .rendering import render_step, stream_dom_id

log = logging.getLogger(__name__)

MAX_RESUMES = 5


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


def _shown(steps: list[dict]) -> list[dict]:
    """The steps the assistant part shows (the echoed input is the user's bubble)."""
    return [s for s in steps if not (isinstance(s, dict) and s.get("type") == "user_input")]


class TurnRunner:
    def __init__(self, turn: Turn, *, body: dict | None):
        self.turn = turn
        self.turn_id = turn.pk
        self.conversation_id = turn.conversation_id
        self.body = body  # None: re-attach to an interaction already started
        self.assembler = StepAssembler()
        self.live: set[int] = set()
        self.outbox = Outbox(self._deliver, settings.STREAM_FLUSH_MS / 1000)
        self.task: asyncio.Task | None = None
        self.seq = 0  # rises with every flush; lets another process's tab skip what it has

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        hub.add_runner(self.turn_id, self)
        asyncio.get_running_loop().create_task(hub.relay.ensure_running())
        # A fresh context: started from a request, the task would otherwise inherit that
        # request's thread-sensitive executor, which asgiref shuts when the response is sent.
        self.task = asyncio.get_running_loop().create_task(
            self.run(), name=f"turn-{self.turn_id}", context=contextvars.Context()
        )

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def run(self) -> None:
        try:
            await self._drive()
            await self._finish()
        except asyncio.CancelledError:
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
            opening = client.stream_get(
                self.turn.interaction_id, last_event_id=self.turn.last_event_id or None
            )
        else:
            opening = client.stream_create({**self.body, "stream": True})
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
                if not can_resume or resumes >= MAX_RESUMES:
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

    async def _on_event(self, event: dict) -> None:
        kind = event.get("event_type") if isinstance(event, dict) else None
        if kind == "interaction.completed":
            before = _shown(self.assembler.steps)
            self.assembler.feed(event)
            if _shown(self.assembler.steps) != before:
                # The final snapshot is authoritative and differs from what streamed: redraw.
                self.live.clear()
                self.outbox.html(assistant_frame(self.current_turn()))
            return
        self.assembler.feed(event)
        if kind == "interaction.created":
            self.turn.interaction_id = self.assembler.interaction_id
            self.turn.status = self.assembler.status or Turn.Status.IN_PROGRESS
            await self._save("interaction_id", "status")
            self.outbox.json(json.loads(status_frame(self.turn)))
        elif kind == "interaction.status_update":
            status = self.assembler.status
            if status and status != self.turn.status:
                self.turn.status = status
                await self._save("status")
                self.outbox.json(json.loads(status_frame(self.turn)))
        elif kind == "step.start":
            index = event.get("index")
            self._show_live(index)
        elif kind == "step.delta":
            index = event.get("index")
            if index not in self.live:
                self._show_live(index)  # a delta with no start: its shell carries the text so far
                return
            delta = event.get("delta") or {}
            if delta.get("type") == "text" and isinstance(delta.get("text"), str):
                self.outbox.text(stream_dom_id(self.turn_id, index), delta["text"])
        elif kind == "step.stop":
            index = event.get("index")
            self.live.discard(index)
            step = self.assembler.steps_by_index.get(index)
            if step is not None:
                self.outbox.html(_oob_replace(render_step(step, turn_id=self.turn_id, index=index)))
            self.turn.steps = self.assembler.snapshot()
            self.turn.last_event_id = self.assembler.last_event_id or ""
            await self._save("steps", "last_event_id")

    def _show_live(self, index) -> None:
        step = self.assembler.steps_by_index.get(index)
        if step is None or index in self.live:
            return
        self.live.add(index)
        html = render_step(step, turn_id=self.turn_id, index=index, live=True)
        self.outbox.html(_oob_append(f"steps-{self.turn_id}", html))

    # -- finishing ---------------------------------------------------------------------------
    async def _finish(self, *, cancelled: bool = False, error: dict | None = None) -> None:
        turn = self.turn
        turn.steps = self.assembler.snapshot() or turn.steps
        turn.usage = self.assembler.usage or turn.usage
        turn.last_event_id = self.assembler.last_event_id or turn.last_event_id
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
        turn.steps_by_index = None
        turn.live_indices = set()
        self.live.clear()
        try:
            await self._save("steps", "usage", "last_event_id", "status", "error", "completed_at")
        finally:
            # Live steps end in their final form, then the status line.
            self.outbox.html(assistant_frame(turn) if cancelled or error else meta_frame(turn))
            self.outbox.json(json.loads(status_frame(turn)))
            self.outbox.flush()

    async def _cancel_upstream(self) -> None:
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

    # -- helpers -----------------------------------------------------------------------------
    async def _save(self, *fields: str) -> None:
        await self.turn.asave(update_fields=[*fields, "updated_at"])

    def _deliver(self, frames: list[str]) -> None:
        self.seq += 1
        hub.publish(self.conversation_id, frames, turn_id=self.turn_id, seq=self.seq)

    def current_turn(self) -> Turn:
        self.turn.steps = self.assembler.snapshot()
        self.turn.steps_by_index = dict(self.assembler.steps_by_index) if self.live else None
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
