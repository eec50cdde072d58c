"""Runs one interaction: turns a reply plan into events appended to the interaction's log.

One asyncio task per interaction, independent of any HTTP connection: a client going away never
stops it; only cancel (or server shutdown) does.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from . import continuation
from .plans import ReplyPlan, StepPlan
from .store import InteractionRecord

YIELD_EVERY = 256  # with no pacing, let other tasks run every this many events
ERROR_MESSAGE = "Resource has been exhausted (e.g. check quota)."


class StepAccumulator:
    """Folds deltas into a step (§6.3), so a get/cancel mid-step shows the partial step."""

    __slots__ = ("step", "text_parts", "deltas_applied", "arguments")

    def __init__(self, shell: dict[str, Any]) -> None:
        self.step = copy.deepcopy(shell)
        self.text_parts: list[str] = []
        self.deltas_applied = 0
        self.arguments: list[str] = []  # arguments_delta fragments, parsed when complete

    def apply(self, delta: dict[str, Any]) -> None:
        self.deltas_applied += 1
        kind = delta.get("type")
        if kind == "text":
            self.text_parts.append(delta.get("text", ""))
            return
        self._flush_text()
        if kind == "thought_signature":
            self.step["signature"] = delta.get("signature")
        elif kind == "thought_summary":
            item = copy.deepcopy(delta.get("content"))
            summary = self.step.setdefault("summary", [])
            if (
                isinstance(item, dict)
                and item.get("type") == "text"
                and summary
                and summary[-1].get("type") == "text"
            ):
                summary[-1]["text"] += item.get("text", "")
            elif item is not None:
                summary.append(item)
        elif kind in ("image", "audio", "video", "document"):
            block = {k: v for k, v in delta.items() if k != "rate"}
            self.step.setdefault("content", []).append(block)
        elif kind == "text_annotation_delta":
            content = self.step.setdefault("content", [])
            for block in reversed(content):
                if block.get("type") == "text":
                    break
            else:
                block = {"type": "text", "text": ""}
                content.append(block)
            block.setdefault("annotations", []).extend(
                copy.deepcopy(delta.get("annotations") or [])
            )
        elif kind == "arguments_delta":
            self.arguments.append(delta.get("arguments") or "")
            # Not a whole JSON value yet: keep the previous arguments.
            with contextlib.suppress(ValueError):
                self.step["arguments"] = json.loads("".join(self.arguments))
        else:
            self.step.update({k: copy.deepcopy(v) for k, v in delta.items() if k != "type"})

    def _flush_text(self) -> None:
        if not self.text_parts:
            return
        text = "".join(self.text_parts)
        self.text_parts = []
        content = self.step.setdefault("content", [])
        if content and content[-1].get("type") == "text":
            content[-1]["text"] += text
        else:
            content.append({"type": "text", "text": text})

    def snapshot(self) -> dict[str, Any]:
        step = copy.deepcopy(self.step)
        if self.text_parts:
            text = "".join(self.text_parts)
            content = step.setdefault("content", [])
            if content and content[-1].get("type") == "text":
                content[-1]["text"] += text
            else:
                content.append({"type": "text", "text": text})
        return step


def start(record: InteractionRecord) -> None:
    """The first events, appended synchronously so every reader sees them first.

    A queued interaction (background, agents) gets its ``in_progress`` status update later,
    from :func:`run`, when it leaves the queue.
    """
    record.log.append("interaction.created", {"interaction": record.head()})
    if record.status != "queued":
        record.log.append(
            "interaction.status_update", {"interaction_id": record.id, "status": "in_progress"}
        )


Planner = Callable[[], Awaitable[ReplyPlan]]


async def run(
    record: InteractionRecord,
    planner: ReplyPlan | Planner,
    pace_s: float,
    *,
    queue_delay_s: float = 0.0,
    delay_scale: float = 1.0,
) -> None:
    """Plan (running any code), then emit the plan's steps into the record's event log.

    ``delay_scale`` multiplies each step's ``delay`` (agents at work); 0 skips them.
    """
    log = record.log
    base = len(record.echo_steps)
    emitted = 0
    open_index: int | None = None
    plan: ReplyPlan | None = None
    progress: _Progress | None = None
    clock = _Pacer(pace_s)
    try:
        if record.status == "queued":
            if queue_delay_s > 0:
                await asyncio.sleep(queue_delay_s)
            record.touch("in_progress")
            log.append(
                "interaction.status_update", {"interaction_id": record.id, "status": "in_progress"}
            )
        plan = planner if isinstance(planner, ReplyPlan) else await planner()
        record.decode = plan.decode
        progress = _Progress(plan)
        for offset, step_plan in enumerate(plan.steps):
            index = base + offset
            if step_plan.delay > 0 and delay_scale > 0:
                await asyncio.sleep(step_plan.delay * delay_scale)
            record.current = StepAccumulator(step_plan.start)
            open_index = index
            log.append("step.start", {"index": index, "step": step_plan.start})
            fired = not step_plan.main
            checkpoints = step_plan.checkpoints
            for position, delta in enumerate(step_plan.iter_deltas()):
                if not fired and position == step_plan.middle:
                    fired = True
                    if await _mid_stream(record, index):
                        record.usage = plan.usage(progress.fraction())
                        return
                    clock.reset()
                if pace_s > 0:
                    await clock.tick()
                else:
                    emitted += 1
                    if emitted % YIELD_EVERY == 0:
                        await asyncio.sleep(0)
                record.current.apply(delta)
                if step_plan.main:
                    progress.main_deltas += 1
                if delta.get("type") == "text":
                    log.append_text_delta(index, delta["text"])
                else:
                    log.append("step.delta", {"index": index, "delta": delta})
                if checkpoints and position + 1 in checkpoints:
                    token = continuation.make_token(record.id, checkpoints[position + 1])
                    log.append(
                        "interaction.status_update",
                        {
                            "interaction_id": record.id,
                            "status": "in_progress",
                            "continuation_token": token,
                        },
                    )
            if not fired and await _mid_stream(record, index):
                record.usage = plan.usage(progress.fraction())
                return
            record.steps.append(step_plan.final)
            record.current = None
            open_index = None
            log.append("step.stop", {"index": index})
        record.usage = plan.usage()
        if plan.continue_from is not None:
            record.continuation_token = continuation.make_token(record.id, plan.continue_from)
        record.touch(plan.final_status)
        log.append("interaction.completed", {"interaction": record.completed_snapshot()})
    except asyncio.CancelledError:
        # Cancel endpoint (or server shutdown): close the open step, end as cancelled.
        if open_index is not None:
            log.append("step.stop", {"index": open_index})
        if plan is not None and progress is not None:
            record.usage = plan.usage(progress.fraction())
        record.touch("cancelled")
        log.append("interaction.completed", {"interaction": record.completed_snapshot()})
    except Exception as exc:  # an emulator bug must still end the stream, not hang it
        logging.getLogger(__name__).exception("emulator generation failed")
        error = {"code": "internal", "message": f"Emulator error: {exc!r}"}
        record.errors = [dict(error)]
        record.touch("failed")
        log.append("error", {"error": error})
    finally:
        log.close()


class _Pacer:
    """Deadline-based pacing: delta k is due at start + k*pace, so jitter does not accumulate."""

    __slots__ = ("pace_s", "due")

    def __init__(self, pace_s: float) -> None:
        self.pace_s = pace_s
        self.due: float | None = None

    def reset(self) -> None:
        self.due = None

    async def tick(self) -> None:
        now = asyncio.get_running_loop().time()
        if self.due is None or now - self.due > 10 * self.pace_s:
            self.due = now  # first delta, or far behind: restart the schedule
        self.due += self.pace_s
        await asyncio.sleep(max(0.0, self.due - now))


class _Progress:
    __slots__ = ("main_deltas", "main_total")

    def __init__(self, plan: ReplyPlan) -> None:
        self.main_deltas = 0
        self.main_total = sum(p.delta_count() for p in plan.steps if p.main)

    def fraction(self) -> float:
        if self.main_total <= 0:
            return 1.0
        return min(1.0, self.main_deltas / self.main_total)


async def _mid_stream(record: InteractionRecord, index: int) -> bool:
    """Directives that act in the middle of the reply. True when the interaction ended."""
    directives = record.directives
    if directives.stall_ms:
        await asyncio.sleep(directives.stall_ms / 1000)
    if directives.malformed:
        record.log.append_malformed(
            "step.delta", f'{{"index": {index}, "delta": {{"type": "text", "text": <<garbled'
        )
    if directives.error:
        error = {"code": "resource_exhausted", "message": ERROR_MESSAGE}
        record.errors = [dict(error)]
        record.touch("failed")
        record.log.append("error", {"error": error})
        return True
    return False


__all__ = ["StepAccumulator", "StepPlan", "run", "start"]
