"""StepAssembler: fold streamed events into the interaction's steps (interactions-api.md §6.3).

The steps it builds keep exactly the API's shape, so they can be stored and re-sent as input.
The one exception: deltas of a type this code does not know are kept raw, in order, in the
step's `_unknown_deltas` list (strip that key before re-sending a step). Everything else the
assembler learns that is not part of a step (per-step usage, which steps finished, problems
met) lives on the assembler.

`feed()` never raises on odd input: malformed or unknown events land in `unknown_events`,
recoverable oddities in `problems`.
"""

from __future__ import annotations

import copy
import json
from typing import Any, TypeGuard

__all__ = ["UNKNOWN_DELTAS_KEY", "StepAssembler"]

UNKNOWN_DELTAS_KEY = "_unknown_deltas"
_MEDIA_DELTAS = frozenset({"image", "audio", "video", "document"})
_ANNOTATION_DELTAS = frozenset({"text_annotation_delta", "text_annotation"})


class StepAssembler:
    """Folds the events of one interaction's stream into its steps.

    Public state, updated by `feed()`:
    - `steps`: the steps in index order (a list built on each access; index gaps are skipped,
      `steps_by_index` keeps the indices). `snapshot()` returns a deep copy.
    - `interaction`: the merged partial interaction of `interaction.created` / `status_update`
      / `completed` (id, status, model or agent, usage, continuation_token, created, updated,
      …) without `steps`; `status`, `interaction_id`, `usage` and `continuation_token` mirror it.
    - `usage`: the latest interaction-level usage seen (status_update `usage`, step.delta
      `metadata.total_usage`, step.stop `usage`, then the completed snapshot's).
    - `step_usage`: index → the `step_usage` of that step's `step.stop`.
    - `finished_indices` / `is_finished(i)`: steps whose `step.stop` arrived.
    - `last_event_id`, `error` (the `error` event's error dict), `done` (after
      `interaction.completed` or `error`), `unknown_events`, `problems`.
    """

    def __init__(self) -> None:
        self.steps_by_index: dict[int, dict[str, Any]] = {}
        self.finished_indices: set[int] = set()
        self.step_usage: dict[int, dict[str, Any]] = {}
        self.interaction: dict[str, Any] = {}
        self.status: str | None = None
        self.interaction_id: str | None = None
        self.usage: dict[str, Any] | None = None
        self.continuation_token: str | None = None
        self.last_event_id: str | None = None
        self.error: dict[str, Any] | None = None
        self.done = False
        self.unknown_events: list[Any] = []
        self.problems: list[str] = []
        # arguments_delta fragments per function_call index, joined and parsed at step.stop.
        self._arguments: dict[int, list[str]] = {}

    # -- reading ----------------------------------------------------------------------------

    @property
    def steps(self) -> list[dict[str, Any]]:
        return [self.steps_by_index[index] for index in sorted(self.steps_by_index)]

    def snapshot(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.steps)

    def is_finished(self, index: int) -> bool:
        return index in self.finished_indices

    # -- writing ----------------------------------------------------------------------------

    def restore(self, steps: list[dict[str, Any]], *, last_event_id: str | None = None) -> None:
        """Start again from saved steps (indices 0..n-1, all considered finished), e.g. before
        resuming a stream with `last_event_id` after a process restart."""
        self.steps_by_index = {index: copy.deepcopy(step) for index, step in enumerate(steps)}
        self.finished_indices = set(self.steps_by_index)
        self._arguments.clear()
        self.last_event_id = last_event_id
        self.done = False
        self.error = None

    def feed(self, event: dict[str, Any]) -> None:
        if not isinstance(event, dict):
            self.unknown_events.append(event)
            return
        event_id = event.get("event_id")
        if isinstance(event_id, str) and event_id:
            self.last_event_id = event_id
        handler = _HANDLERS.get(event.get("event_type", ""))
        try:
            handled = handler is not None and handler(self, event)
        except Exception as exc:  # a shape no rule foresaw must not end the caller's stream
            self.problems.append(f"event {event.get('event_type')!r} not applied: {exc!r}")
            handled = False
        if not handled:
            self.unknown_events.append(copy.deepcopy(event))

    # -- interaction events (each returns False when the event is malformed) ----------------

    def _on_created(self, event: dict[str, Any]) -> bool:
        snapshot = event.get("interaction")
        if not isinstance(snapshot, dict):
            return False
        self._merge_interaction(snapshot)
        return True

    def _on_status_update(self, event: dict[str, Any]) -> bool:
        update = {
            key: event[key] for key in ("status", "usage", "continuation_token") if key in event
        }
        if "interaction_id" in event:
            update["id"] = event["interaction_id"]
        self._merge_interaction(update)
        return True

    def _on_completed(self, event: dict[str, Any]) -> bool:
        snapshot = event.get("interaction")
        if not isinstance(snapshot, dict):
            return False
        self._finish_open_steps()
        self._merge_interaction(snapshot)
        # The terminal snapshot is authoritative: no token in it means no token any more.
        if "continuation_token" not in snapshot:
            self.interaction.pop("continuation_token", None)
            self.continuation_token = None
        steps = snapshot.get("steps")
        if isinstance(steps, list):
            self.steps_by_index = {i: copy.deepcopy(step) for i, step in enumerate(steps)}
            self.finished_indices = set(self.steps_by_index)
        self.done = True
        return True

    def _on_error(self, event: dict[str, Any]) -> bool:
        error = event.get("error")
        self.error = copy.deepcopy(error) if isinstance(error, dict) else {}
        self.done = True
        return True

    def _merge_interaction(self, fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key != "steps":
                self.interaction[key] = copy.deepcopy(value)
        if "id" in fields:
            self.interaction_id = fields["id"]
        if "status" in fields:
            self.status = fields["status"]
        if "usage" in fields:
            self.usage = copy.deepcopy(fields["usage"])
        if "continuation_token" in fields:
            self.continuation_token = fields["continuation_token"]

    # -- step events ------------------------------------------------------------------------

    def _on_step_start(self, event: dict[str, Any]) -> bool:
        index, step = event.get("index"), event.get("step")
        if not _is_index(index) or not isinstance(step, dict):
            return False
        self.steps_by_index[index] = copy.deepcopy(step)
        self.finished_indices.discard(index)
        self._arguments.pop(index, None)
        return True

    def _on_step_delta(self, event: dict[str, Any]) -> bool:
        index, delta = event.get("index"), event.get("delta")
        if not _is_index(index) or not isinstance(delta, dict):
            return False
        metadata = event.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("total_usage"), dict):
            self.usage = copy.deepcopy(metadata["total_usage"])
        step = self.steps_by_index.get(index)
        if step is None:
            # Tolerated: the SDK's own tests send bare deltas with no step.start.
            step = self.steps_by_index[index] = _shell_for(delta.get("type"))
        self._apply_delta(index, step, delta)
        return True

    def _on_step_stop(self, event: dict[str, Any]) -> bool:
        index = event.get("index")
        if not _is_index(index):
            return False
        self._finish_step(index)
        if isinstance(event.get("usage"), dict):
            self.usage = copy.deepcopy(event["usage"])
        if isinstance(event.get("step_usage"), dict):
            self.step_usage[index] = copy.deepcopy(event["step_usage"])
        return True

    def _finish_step(self, index: int) -> None:
        self.finished_indices.add(index)
        fragments = self._arguments.pop(index, None)
        step = self.steps_by_index.get(index)
        if not fragments or step is None:
            return
        raw = "".join(fragments)
        if not raw:
            return  # an empty buffer keeps the start's arguments
        try:
            step["arguments"] = json.loads(raw)
        except ValueError as exc:
            step["arguments"] = raw
            self.problems.append(f"step {index}: arguments are not valid JSON ({exc}); kept raw")

    def _finish_open_steps(self) -> None:
        # A completed stream with a step never stopped would otherwise lose buffered arguments.
        for index in list(self._arguments):
            self._finish_step(index)

    # -- deltas (§6.3) ----------------------------------------------------------------------

    def _apply_delta(self, index: int, step: dict[str, Any], delta: dict[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "text":
            _append_text(_content(step), delta)
        elif kind in _MEDIA_DELTAS:
            block = {key: copy.deepcopy(value) for key, value in delta.items() if key != "rate"}
            _content(step).append(block)
        elif kind in _ANNOTATION_DELTAS:
            _annotate(_content(step), delta.get("annotations"))
        elif kind == "thought_summary":
            _append_summary(step, delta.get("content"))
        elif kind == "thought_signature":
            if "signature" in delta:
                step["signature"] = delta["signature"]
        elif kind == "arguments_delta":
            self._buffer_arguments(index, step, delta.get("arguments"))
        elif isinstance(kind, str) and kind.endswith(("_call", "_result")):
            # Lists such as `result` arrive whole in each delta: replace, do not extend.
            for key, value in delta.items():
                if key != "type":
                    step[key] = copy.deepcopy(value)
        else:
            step.setdefault(UNKNOWN_DELTAS_KEY, []).append(copy.deepcopy(delta))

    def _buffer_arguments(self, index: int, step: dict[str, Any], fragment: Any) -> None:
        if isinstance(fragment, str):
            self._arguments.setdefault(index, []).append(fragment)
        elif isinstance(fragment, dict):
            # Not the documented form (a JSON string fragment), but unambiguous.
            step["arguments"] = copy.deepcopy(fragment)
        elif fragment is not None:
            self.problems.append(f"step {index}: ignored arguments_delta of type {type(fragment)}")


def _is_index(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shell_for(delta_type: Any) -> dict[str, Any]:
    """The step a start-less delta most plausibly belongs to (model output by default)."""
    if delta_type in ("thought_summary", "thought_signature"):
        return {"type": "thought"}
    if delta_type == "arguments_delta":
        return {"type": "function_call"}
    if isinstance(delta_type, str) and delta_type.endswith(("_call", "_result")):
        return {"type": delta_type}
    return {"type": "model_output", "content": []}


def _content(step: dict[str, Any]) -> list[Any]:
    content = step.get("content")
    if not isinstance(content, list):
        content = step["content"] = []
    return content


def _append_text(content: list[Any], delta: dict[str, Any]) -> None:
    text = delta.get("text")
    text = text if isinstance(text, str) else ""
    last = content[-1] if content else None
    if isinstance(last, dict) and last.get("type") == "text":
        last["text"] = (last.get("text") or "") + text
    else:
        content.append({**copy.deepcopy(delta), "type": "text", "text": text})


def _annotate(content: list[Any], annotations: Any) -> None:
    if not isinstance(annotations, list):
        return
    for block in reversed(content):
        if isinstance(block, dict) and block.get("type") == "text":
            break
    else:
        # Annotations before any text: keep them on an empty text block rather than lose them.
        block = {"type": "text", "text": ""}
        content.append(block)
    block.setdefault("annotations", []).extend(copy.deepcopy(annotations))


def _append_summary(step: dict[str, Any], item: Any) -> None:
    if not isinstance(item, dict):
        return
    summary = step.get("summary")
    if not isinstance(summary, list):
        summary = step["summary"] = []
    last = summary[-1] if summary else None
    if (
        item.get("type") == "text"
        and isinstance(last, dict)
        and last.get("type") == "text"
        and isinstance(item.get("text"), str)
    ):
        last["text"] = (last.get("text") or "") + item["text"]
    else:
        summary.append(copy.deepcopy(item))


_HANDLERS = {
    "interaction.created": StepAssembler._on_created,
    "interaction.status_update": StepAssembler._on_status_update,
    "interaction.completed": StepAssembler._on_completed,
    "error": StepAssembler._on_error,
    "step.start": StepAssembler._on_step_start,
    "step.delta": StepAssembler._on_step_delta,
    "step.stop": StepAssembler._on_step_stop,
}
