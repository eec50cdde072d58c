"""Steps → HTML. Each step type has one partial in templates/chat/steps.html.

`render_step` is the only way a step becomes HTML: the live stream, the page, the admin and
exports all call it. A live step (still streaming) renders as its shell, with the text so far
inside the element the stream appends to.
"""

import json
from collections.abc import Iterable

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from .markdown import render_markdown

# Step types whose partial exists; anything else renders as a readable JSON card.
KNOWN_PARTIALS = {"model_output", "thought"}
# Shown in the user's bubble, not in the assistant's.
HIDDEN_TYPES = {"user_input"}

# A JSON card never prints more than this; the admin offers the raw steps whole.
MAX_JSON_CHARS = 20_000


def step_dom_id(turn_id, index) -> str:
    return f"s-{turn_id}-{index}"


def stream_dom_id(turn_id, index) -> str:
    """The element that live text deltas of a step are appended to."""
    return f"st-{turn_id}-{index}"


def _text_of(blocks) -> str:
    if not isinstance(blocks, list):
        return ""
    return "".join(
        b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    )


def _json(value) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_JSON_CHARS:
        text = text[:MAX_JSON_CHARS] + "\n… (truncated)"
    return text


def _context(step: dict, turn_id, index, live: bool) -> dict:
    kind = step.get("type") if isinstance(step.get("type"), str) else "unknown"
    ctx = {
        "step": step,
        "type": kind,
        "dom_id": step_dom_id(turn_id, index),
        "stream_id": stream_dom_id(turn_id, index),
        "live": live,
    }
    if kind == "model_output":
        content = step.get("content") if isinstance(step.get("content"), list) else []
        if live:
            ctx["text"] = _text_of(content)
        else:
            ctx["blocks"] = [_block(b) for b in content if isinstance(b, dict)]
        if isinstance(step.get("error"), dict):
            ctx["error"] = step["error"]
    elif kind == "thought":
        ctx["summary"] = _text_of(step.get("summary"))
        ctx["summary_html"] = render_markdown(ctx["summary"])
    else:
        ctx["json"] = _json(step)
    return ctx


def _block(block: dict) -> dict:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "html": render_markdown(str(block.get("text", "")))}
    return {
        "type": kind or "unknown",
        "json": _json({k: v for k, v in block.items() if k != "data"}),
    }


def render_step(step: dict, *, turn_id, index, live: bool = False) -> SafeString:
    if not isinstance(step, dict):
        step = {"type": "unknown", "value": step}
    ctx = _context(step, turn_id, index, live)
    partial = ctx["type"] if ctx["type"] in KNOWN_PARTIALS else "other"
    return mark_safe(render_to_string(f"chat/steps.html#{partial}", ctx))  # noqa: S308


def render_steps(
    steps: Iterable[dict] | dict[int, dict], *, turn_id, live_indices: Iterable[int] = ()
) -> SafeString:
    """Render a turn's steps. `steps` is a list, or a dict keyed by the stream's step index
    (while a turn streams, element ids follow the stream's indices)."""
    live = set(live_indices)
    pairs = sorted(steps.items()) if isinstance(steps, dict) else enumerate(steps)
    html = [
        render_step(step, turn_id=turn_id, index=i, live=i in live)
        for i, step in pairs
        if not (isinstance(step, dict) and step.get("type") in HIDDEN_TYPES)
    ]
    return mark_safe("".join(html))  # noqa: S308 - each part rendered by a template
