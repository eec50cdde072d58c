"""What an answer's actions and details show: its Markdown source (Copy), the settings it was
sent with and its token breakdown, and the other models it can be regenerated with."""

import json

from django import template
from django.conf import settings
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def answer_markdown(turn) -> str:
    """The answer's text as the model wrote it (Markdown), for "Copy"."""
    return "\n\n".join(
        block.get("text", "")
        for step in turn.steps or []
        if isinstance(step, dict) and step.get("type") == "model_output"
        for block in step.get("content") or []
        if isinstance(block, dict) and block.get("type") == "text" and block.get("text")
    )


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 400 else text[:399] + "…"


@register.filter
def sent_settings(turn) -> list[tuple[str, str]]:
    """The options the turn was sent with, as label and value (never its input)."""
    request = turn.request or {}
    rows = []
    if request.get("system_instruction"):
        rows.append((_("System instruction"), _short(request["system_instruction"])))
    generation = request.get("generation_config") or {}
    for key, label in (
        ("thinking_level", _("Thinking")),
        ("thinking_summaries", _("Thought summaries")),
        ("max_output_tokens", _("Max output tokens")),
    ):
        if generation.get(key):
            rows.append((label, _short(generation[key])))
    tools = [t.get("name") or t.get("type") for t in request.get("tools") or [] if t]
    if tools:
        rows.append((_("Tools"), ", ".join(str(t) for t in tools)))
    if request.get("response_format"):
        rows.append((_("Response format"), _short(request["response_format"])))
    if request.get("background"):
        rows.append((_("Background"), _("yes")))
    return rows


@register.filter
def token_breakdown(turn) -> list[tuple[str, int]]:
    usage = turn.usage or {}
    return [
        (label, usage[key])
        for key, label in (
            ("total_input_tokens", _("Input")),
            ("total_output_tokens", _("Output")),
            ("total_thought_tokens", _("Thoughts")),
            ("total_cached_tokens", _("Cached")),
            ("total_tool_use_tokens", _("Tool use")),
            ("total_tokens", _("Total")),
        )
        # Tool use only when there was some: most answers call no tool.
        if isinstance(usage.get(key), int) and (usage[key] or key != "total_tool_use_tokens")
    ]


@register.filter
def written_by(turn) -> str:
    """The model or agent that wrote the answer."""
    request = turn.request or {}
    return turn.model or request.get("model") or request.get("agent") or ""


@register.filter
def other_models(turn) -> list[str]:
    return [m for m in [*settings.GEMINI_MODELS, *settings.GEMINI_AGENTS] if m != written_by(turn)]


@register.filter
def placeholder_turn(conversation):
    """Turn 0 of `conversation`, finished: what the page's answer-actions template is drawn
    from (its scripts put a real turn's id, tokens and model in)."""
    from ..models import Turn

    return Turn(
        pk=0, conversation_id=conversation.pk, status=Turn.Status.COMPLETED,
        usage={"total_tokens": 1},
    )  # fmt: skip


@register.filter
def new_turn(conversation):
    """Turn 0 of `conversation`, just sent: what the page's new-turn template is drawn from
    (chat.js puts a real turn's id, parent, words and model in)."""
    from ..models import Turn

    return Turn(pk=0, conversation_id=conversation.pk, status=Turn.Status.PENDING, user_input=[])
