"""Checks a create body the way the API does, and normalises ``input`` (§3.1) to steps."""

from __future__ import annotations

from typing import Any

from chatsite import safeschema

from .errors import invalid_argument, type_error
from .generator import CLIENT_STEP_TYPES, CONTENT_TYPES, STEP_TYPES

_BOOL_FIELDS = ("store", "stream", "background")
_STRING_FIELDS = (
    "model",
    "agent",
    "previous_interaction_id",
    "system_instruction",
    "continuation_token",
    "cached_content",
    "response_mime_type",
    "service_tier",
)
_OBJECT_FIELDS = ("generation_config", "agent_config", "webhook_config", "labels")
_LIST_FIELDS = ("tools", "safety_settings", "response_modalities")
MAX_BODY_DEPTH = 100  # JSON nesting; the API's protobuf parser stops at 100 levels too


def parse_body(raw: bytes) -> Any:
    """A create body as JSON (None when empty). Raises ValueError, worded for the API's
    "Invalid JSON payload received." message, also for nesting too deep to parse safely."""
    if not raw.strip():
        return None
    try:
        return safeschema.loads(raw, max_depth=MAX_BODY_DEPTH)
    except safeschema.TooDeep as exc:
        raise ValueError(f"The JSON nests too deeply: {exc}") from None


def validate_create(body: Any) -> list[dict[str, Any]]:
    """Raise ``ApiError`` (400) on a bad body; return the input as a list of steps."""
    if not isinstance(body, dict):
        raise invalid_argument(
            "Invalid JSON payload received. The request body must be a JSON object."
        )
    for name in _STRING_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise type_error(name, "TYPE_STRING", body[name])
    for name in _BOOL_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], bool):
            raise type_error(name, "TYPE_BOOL", body[name])
    for name in _OBJECT_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], dict):
            raise type_error(name, "TYPE_MESSAGE", body[name])
    for name in _LIST_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], list):
            raise type_error(name, "TYPE_MESSAGE", body[name])

    model, agent = body.get("model"), body.get("agent")
    if model and agent:
        raise invalid_argument(
            "Only one of 'model' or 'agent' may be set on an interaction, not both."
        )
    if not model and not agent:
        raise invalid_argument(
            "Either 'model' (e.g. \"gemini-3.5-flash\") or 'agent' must be set on an interaction."
        )
    if agent and body.get("generation_config") is not None:
        raise invalid_argument(
            "'generation_config' is not supported for agent interactions; use 'agent_config'."
        )
    if body.get("background") and body.get("store") is False:
        raise invalid_argument("'background' interactions must be stored: remove 'store: false'.")

    _check_generation_config(body.get("generation_config"))
    for position, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise invalid_argument(
                f"Invalid value at 'tools[{position}]': each tool must be an object with a "
                'string \'type\' (e.g. {"type": "google_search"}).'
            )
    labels = body.get("labels") or {}
    for key, value in labels.items():
        if not isinstance(value, str):
            raise type_error(f"labels[{key}]", "TYPE_STRING", value)

    if "input" not in body or body["input"] is None:
        if body.get("continuation_token"):
            return []
        raise invalid_argument("'input' is required: a string, a Content, or a list of them.")
    return normalize_input(body["input"])


def _check_generation_config(config: dict[str, Any] | None) -> None:
    if not config:
        return
    numbers = {"temperature": "TYPE_FLOAT", "top_p": "TYPE_FLOAT"}
    for name, proto in numbers.items():
        value = config.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise type_error(f"generation_config.{name}", proto, value)
    for name in ("max_output_tokens", "seed"):
        value = config.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise type_error(f"generation_config.{name}", "TYPE_INT32", value)
    for name in ("thinking_level", "thinking_summaries"):
        value = config.get(name)
        if value is not None and not isinstance(value, str):
            raise type_error(f"generation_config.{name}", "TYPE_ENUM", value)
    stops = config.get("stop_sequences")
    if stops is not None and (
        not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)
    ):
        raise type_error("generation_config.stop_sequences", "TYPE_STRING", stops)


def _content_block(block: Any, where: str) -> dict[str, Any]:
    if not isinstance(block, dict):
        if isinstance(block, str):
            return {"type": "text", "text": block}
        raise type_error(where, "TYPE_MESSAGE", block)
    if "type" not in block:
        if isinstance(block.get("text"), str):
            return {"type": "text", **block}
        raise invalid_argument(f"Invalid value at '{where}': content needs a string 'type'.")
    if not isinstance(block["type"], str):
        raise type_error(f"{where}.type", "TYPE_STRING", block["type"])
    if block["type"] == "text" and not isinstance(block.get("text"), str):
        raise type_error(f"{where}.text", "TYPE_STRING", block.get("text"))
    return block


def _user_input(content: Any, where: str) -> dict[str, Any]:
    if isinstance(content, str):
        blocks = [{"type": "text", "text": content}]
    elif isinstance(content, dict):
        blocks = [_content_block(content, where)]
    elif isinstance(content, list):
        blocks = [_content_block(block, f"{where}[{i}]") for i, block in enumerate(content)]
    elif content is None:
        blocks = []
    else:
        raise type_error(where, "TYPE_MESSAGE", content)
    return {"type": "user_input", "content": blocks}


def _step(step: Any, where: str) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise type_error(where, "TYPE_MESSAGE", step)
    kind = step.get("type")
    if not isinstance(kind, str):
        raise invalid_argument(f"Invalid value at '{where}': a step needs a string 'type'.")
    if kind == "user_input":
        normalized = _user_input(step.get("content"), f"{where}.content")
        extra = {k: v for k, v in step.items() if k not in ("type", "content")}
        return {**normalized, **extra}
    return step  # other steps (known or not) are kept verbatim, unknown fields included


def normalize_input(value: Any) -> list[dict[str, Any]]:
    """The four forms of §3.1 — string, Content, [Content], [Step] — as a list of steps."""
    if isinstance(value, str):
        return [_user_input(value, "input")]
    if isinstance(value, dict):
        if value.get("type") in STEP_TYPES:
            return [_step(value, "input")]
        return [_user_input(value, "input")]
    if not isinstance(value, list):
        raise type_error("input", "TYPE_MESSAGE", value)
    if not value:
        raise invalid_argument("'input' must not be an empty list.")
    kinds = [item.get("type") if isinstance(item, dict) else None for item in value]
    has_steps = any(kind in STEP_TYPES for kind in kinds)
    has_content = any(kind in CONTENT_TYPES or kind is None for kind in kinds)
    if has_steps and has_content:
        raise invalid_argument(
            "'input' mixes steps and content: send a list of steps (e.g. user_input, "
            "model_output) or a list of content blocks (e.g. text, image), not both."
        )
    if has_steps:
        return [_step(item, f"input[{i}]") for i, item in enumerate(value)]
    return [_user_input(value, "input")]


def echoed_steps(input_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """This turn's own input: the trailing run of client steps (user_input, function_result).

    Earlier turns sent back as history (stateless multi-turn) are not echoed again.
    """
    tail: list[dict[str, Any]] = []
    for step in reversed(input_steps):
        if step.get("type") not in CLIENT_STEP_TYPES:
            break
        tail.append(step)
    tail.reverse()
    return tail
