"""Steps → HTML. Each step type has one partial in templates/chat/steps.html.

`render_step` is the only way a step becomes HTML: the live stream, the page, the admin and
exports all call it. A live step (still streaming) renders as its shell, with the text so far
inside the element the stream appends to (`stream_dom_id`).

Every root element carries `id=step_dom_id(...)` and `data-step-type`, and its first `>` closes
its own opening tag (the runner inserts `hx-swap-oob` there).

`render_steps` (a whole turn) wraps consecutive thought and tool steps in one activity block
(rendering/activity.py); live, the runner appends steps one by one and static/chatsite/activity.js
groups them the same way in the browser.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from .. import structured
from .activity import Activity, is_activity, render_activity
from .blocks import MAX_JSON_CHARS, blocks_view, pretty_json
from .cards import build_card, one_line, shows_suggestions, unknown
from .citations import Citations

log = logging.getLogger(__name__)

__all__ = [
    "MAX_JSON_CHARS",
    "continue_output",
    "render_step",
    "render_steps",
    "step_dom_id",
    "stream_dom_id",
]

# Shown in the user's bubble, not in the assistant's.
HIDDEN_TYPES = {"user_input"}
# Steps with their own partial; every other step is a card.
OWN_PARTIALS = {"model_output", "thought"}


def step_dom_id(turn_id, index) -> str:
    return f"s-{turn_id}-{index}"


def stream_dom_id(turn_id, index) -> str:
    """The element that live text deltas of a step are appended to."""
    return f"st-{turn_id}-{index}"


def _text_of(blocks) -> str:
    if not isinstance(blocks, list):
        return ""
    return "".join(
        b["text"]
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def _structured(text: str, verdict) -> dict:
    """A structured answer: pretty JSON, and its verdict against the schema as stored when the
    answer stopped (None: never checked). The schema's regexes never run here."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        problem = str(exc) if isinstance(exc, ValueError) else "it nests too deeply"
        return {"valid": False, "parsed": False, "problem": problem, "text": text}
    pretty = json.dumps(value, indent=2, ensure_ascii=False)
    verdict = verdict if isinstance(verdict, dict) else {}
    return {
        "valid": verdict.get("valid"),
        "checked": "valid" in verdict,
        "parsed": True,
        "problem": str(verdict.get("problem") or "")[:300],
        "text": pretty[:MAX_JSON_CHARS],
    }


def _model_output(step: dict, ctx: dict) -> str:
    content = step.get("content") if isinstance(step.get("content"), list) else []
    answer = structured.answer_text(step)
    if ctx["live"]:
        ctx["text"] = _text_of(content)
    elif answer is not None and structured.schema_of(ctx.get("response_format")) is not None:
        verdicts = ctx.get("verdicts") or {}
        ctx["structured"] = _structured(answer, verdicts.get(structured.key(answer)))
    else:
        citations = Citations()
        ctx["blocks"] = blocks_view(content, turn_id=ctx["turn_id"], citations=citations)
        ctx["sources"] = citations.sources
    error = step.get("error")
    if isinstance(error, dict):
        ctx["error"] = one_line(error.get("message"), 2000) or "The model reported an error."
    elif error:
        ctx["error"] = "The model reported an error."
    return "model_output"


def _thought(step: dict, ctx: dict) -> str:
    summary = step.get("summary") if isinstance(step.get("summary"), list) else []
    if ctx["live"]:
        ctx["text"] = _text_of(summary)
    else:
        ctx["blocks"] = blocks_view(
            summary, turn_id=ctx["turn_id"], where="in the model's thinking"
        )
    return "thought"


def _card(step: dict, ctx: dict, call, call_index) -> str:
    body, card = build_card(step, live=ctx["live"], turn_id=ctx["turn_id"], call=call)
    if isinstance(call, dict):
        _, call_card = build_card(call, live=False, turn_id=ctx["turn_id"])
        card["answers"] = {
            "text": " · ".join(x for x in (call_card["label"], call_card["fact"]) if x),
            "dom_id": step_dom_id(ctx["turn_id"], call_index) if call_index is not None else "",
        }
    ctx["card"] = card
    ctx["body"] = f"chat/steps.html#{body}"
    return "card"


def _context(step: dict, turn_id, index, live: bool) -> dict:
    kind = step.get("type") if isinstance(step.get("type"), str) else "unknown"
    return {
        "step": step,
        "type": kind,
        "turn_id": turn_id,
        "dom_id": step_dom_id(turn_id, index),
        "stream_id": stream_dom_id(turn_id, index),
        "live": live,
        "step_id": one_line(step.get("id"), 200) if step.get("id") else "",
        "call_id": one_line(step.get("call_id"), 200) if step.get("call_id") else "",
    }


def _hidden(step) -> bool:
    return isinstance(step, dict) and step.get("type") in HIDDEN_TYPES


def render_step(
    step: dict,
    *,
    turn_id,
    index,
    live: bool = False,
    call: dict | None = None,
    call_index=None,
    response_format=None,
    verdicts=None,
) -> SafeString:
    """One step as HTML.

    `live`: the step is still streaming (a shell: text so far, "working…" on cards).
    `call` / `call_index`: for a `*_result`, the step it answers and that step's index, when
    known — the card then says what it answers (render_steps passes them).
    `response_format` / `verdicts`: the turn's, for a structured answer (chat/structured.py)."""
    if not isinstance(step, dict):
        step = {"type": "unknown", "value": step}
    ctx = _context(step, turn_id, index, live)
    ctx["response_format"] = response_format
    ctx["verdicts"] = verdicts if isinstance(verdicts, dict) else {}
    try:
        if ctx["type"] == "model_output":
            partial = _model_output(step, ctx)
        elif ctx["type"] == "thought":
            partial = _thought(step, ctx)
        else:
            partial = _card(step, ctx, call, call_index)
        html = render_to_string(f"chat/steps.html#{partial}", ctx)
    except Exception:
        # A step the renderer cannot handle must not take the page with it: show its JSON.
        log.exception("could not render step %s of turn %s", index, turn_id)
        ctx = _context(step, turn_id, index, live)
        ctx["card"] = unknown(step, live=live, turn_id=turn_id)
        ctx["card"]["json"] = pretty_json(step)
        ctx["body"] = "chat/steps.html#unknown"
        html = render_to_string("chat/steps.html#card", ctx)
    return mark_safe(html)  # noqa: S308 - rendered by an autoescaping template


def continue_output(first: dict, more: dict) -> dict:
    """One model_output from an answer and its continuation (a `requires_continuation` hop):
    the text runs on in one block, and the continuation's annotation offsets (UTF-8 bytes into
    its block) move by the bytes of the text before it."""
    head = [dict(b) for b in first.get("content") or [] if isinstance(b, dict)]
    tail = [dict(b) for b in more.get("content") or [] if isinstance(b, dict)]
    if head and tail and head[-1].get("type") == "text" and tail[0].get("type") == "text":
        last, nxt = head[-1], tail.pop(0)
        shift = len(str(last.get("text", "")).encode())
        moved = []
        for note in nxt.get("annotations") or []:
            if isinstance(note, dict):
                note = dict(note)
                for key in ("start_index", "end_index"):
                    if isinstance(note.get(key), int):
                        note[key] += shift
            moved.append(note)
        last["text"] = str(last.get("text", "")) + str(nxt.get("text", ""))
        if moved:
            last["annotations"] = [*(last.get("annotations") or []), *moved]
    return {**first, "content": head + tail}


def _coalesce(pairs: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    """Adjacent model_output steps (an answer continued over hops) show as one."""
    out: list[tuple[int, dict]] = []
    for i, step in pairs:
        if (
            out
            and isinstance(step, dict)
            and step.get("type") == "model_output"
            and out[-1][1].get("type") == "model_output"
        ):
            out[-1] = (out[-1][0], continue_output(out[-1][1], step))
        else:
            out.append((i, step if isinstance(step, dict) else {"type": "unknown", "value": step}))
    return out


def render_steps(
    steps: Iterable[dict] | dict[int, dict],
    *,
    turn_id,
    live_indices: Iterable[int] = (),
    running: bool = False,
    response_format=None,
    verdicts=None,
) -> SafeString:
    """Render a turn's steps. `steps` is a list, or a dict keyed by the stream's step index
    (while a turn streams, element ids follow the stream's indices; the runner has already
    joined continued answers). Consecutive thought and tool steps share one activity block;
    `running`: the reply is still being written (its last block says "…ing")."""
    live = set(live_indices)
    if isinstance(steps, dict):
        pairs = sorted(steps.items())
    else:
        pairs = _coalesce([(i, s) for i, s in enumerate(steps) if not _hidden(s)])
    calls: dict[str, tuple[int, dict]] = {}
    for i, step in pairs:
        if isinstance(step, dict) and isinstance(step.get("id"), str):
            calls.setdefault(step["id"], (i, step))
    html: list[str] = []
    activity: Activity | None = None
    for i, step in pairs:
        if _hidden(step):
            continue
        call_id = step.get("call_id") if isinstance(step, dict) else None
        call_index, call = (
            calls.get(call_id, (None, None)) if isinstance(call_id, str) else (None, None)
        )
        rendered = render_step(
            step,
            turn_id=turn_id,
            index=i,
            live=i in live,
            call=call,
            call_index=call_index,
            response_format=response_format,
            verdicts=verdicts,
        )
        if is_activity(step):
            activity = activity or Activity()
            kind = step.get("type") if isinstance(step, dict) else None
            activity.add(
                kind if isinstance(kind, str) else "unknown",
                rendered,
                in_sight=isinstance(step, dict) and shows_suggestions(step),
            )
            continue
        if activity is not None:
            html.append(render_activity(activity, answered=True, running=running))
            activity = None
        html.append(rendered)
    if activity is not None:
        html.append(render_activity(activity, answered=False, running=running))
    return mark_safe("".join(html))  # noqa: S308 - each part rendered by a template
