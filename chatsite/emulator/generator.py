"""Deterministic reply generation: a conversation in, a plan of steps (and their deltas) out.

Pure functions — no clocks, no randomness except a PRNG seeded from a hash of the conversation,
so the same conversation always gets the same words. The one impure thing, running the code of
``code_execution`` steps, happens *before* planning (:func:`plan_reply_async`); the plan then
only reads the outputs.

A reply is a list of :class:`StepPlan`. Each step *family* is a function
``(GenerationContext) -> list[StepPlan]``; :data:`STEP_FAMILIES` lists them in emission order.
Tool families also leave a section (text and citations) in ``ctx.sections`` for the answer, and
the function family ends the turn with ``requires_action``. Agents have their own families
(agents.py). Finally the plan is cut at the per-hop decode limit (continuation.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import agents, continuation, hostile, media, tools
from .plans import (
    CLIENT_STEP_TYPES,
    CONTENT_TYPES,
    STEP_TYPES,
    Conversation,
    GenerationContext,
    ReplyPlan,
    StepPlan,
    TextBuilder,
    build_conversation,
    chunk_words,
    content_text,
    last_user_text,
    make_context,
    short_id,
    signature,
    text_output,
    token_estimate,
)
from .prose import (
    EMULATOR_NOTE,
    compose_answer,
    filler_chars,
    filler_words,
    is_title_request,
    quote,
    reply_text,
    title_text,
)
from .sandbox import run_python
from .schema import SchemaTooComplex, plausible_string, values_for

__all__ = [
    "CLIENT_STEP_TYPES",
    "CONTENT_TYPES",
    "EMULATOR_NOTE",
    "STEP_FAMILIES",
    "STEP_TYPES",
    "Conversation",
    "GenerationContext",
    "ReplyPlan",
    "SchemaTooComplex",
    "StepPlan",
    "TextBuilder",
    "build_conversation",
    "check_request",
    "chunk_words",
    "compose_answer",
    "content_text",
    "filler_chars",
    "filler_words",
    "last_user_text",
    "make_context",
    "plan_reply",
    "plan_reply_async",
    "reply_text",
    "short_id",
]

THINKING_SUMMARY_LEVELS = frozenset({"medium", "high", "xhigh"})
IMAGE_TOKENS = 1290
AUDIO_TOKENS_PER_S = 32
TOOL_LABELS = {
    "url_context": "URL context",
    "google_search": "Google Search",
    "google_maps": "Google Maps",
    "file_search": "File Search",
    "retrieval": "retrieval",
    "mcp_server": "an MCP server",
    "code_execution": "code execution",
    "function": "one of your functions",
}


# --------------------------------------------------------------------------------------------
# Thinking


def summaries_wanted(config: dict[str, Any]) -> bool:
    """``thinking_summaries``: "none" → never; "auto" → yes; unset → when the model thinks hard.

    The guide: summaries are returned "when available"; a simple request at a low level may
    think too little for one, leaving only the signature.
    """
    setting = config.get("thinking_summaries")
    if setting == "none":
        return False
    if setting is not None:
        return True
    return config.get("thinking_level") in THINKING_SUMMARY_LEVELS


def thought_family(ctx: GenerationContext) -> list[StepPlan]:
    config = ctx.generation_config
    if not config.get("thinking_level") or ctx.agent:
        return []
    sig = signature(ctx, "thought")
    final: dict[str, Any] = {"type": "thought"}
    deltas: list[dict[str, Any]] = []
    if summaries_wanted(config):
        summary = (
            f"**Reading turn {ctx.conversation.turn}.** The user wrote "
            f"{quote(ctx.conversation.current)}; I will answer warmly and keep it practical."
        )
        planned = [
            TOOL_LABELS[kind]
            for kind in TOOL_LABELS
            if ctx.tools(kind) and ctx.conversation.has_new_message
        ]
        if planned:
            summary += f" I will use {', '.join(planned)} first."
        if ctx.hostile:
            summary += " " + hostile.PAYLOAD
        deltas += [
            {"type": "thought_summary", "content": {"type": "text", "text": fragment}}
            for fragment in chunk_words(summary, 4)
        ]
        final["summary"] = [{"type": "text", "text": summary}]
    deltas.append({"type": "thought_signature", "signature": sig})
    final["signature"] = sig
    return [StepPlan(start={"type": "thought"}, final=final, deltas=deltas)]


def unknown_step_family(ctx: GenerationContext) -> list[StepPlan]:
    if not ctx.directives.unknown_step:
        return []
    step_id = short_id(ctx, "holo_", "unknown")
    frame = signature(ctx, "hologram", 24)
    return [
        StepPlan(
            start={"type": "hologram_projection", "id": step_id},
            final={"type": "hologram_projection", "id": step_id, "frames": [frame]},
            deltas=[{"type": "hologram_frame", "frame": frame, "frame_index": 0}],
        )
    ]


# --------------------------------------------------------------------------------------------
# Output modes: text, JSON, image, audio


def response_formats(request: dict[str, Any]) -> list[dict[str, Any]]:
    value = request.get("response_format")
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def output_modes(ctx: GenerationContext) -> tuple[bool, bool, bool]:
    """(text, image, audio) wanted in the model_output."""
    kinds = [f.get("type") for f in response_formats(ctx.request)]
    kinds = [k for k in kinds if k in ("text", "image", "audio", "video", "document")]
    raw_modalities = ctx.request.get("response_modalities")
    modalities = [m.lower() for m in raw_modalities or [] if isinstance(m, str)]
    model = ctx.model.lower()
    image = "image" in model or "nano-banana" in model or "image" in kinds or "image" in modalities
    audio = "tts" in model or "lyria" in model or "audio" in kinds or "audio" in modalities
    if kinds:
        text = "text" in kinds
    elif modalities:
        text = "text" in modalities
    else:
        text = not audio
    if not (text or image or audio):
        text = True
    return text, image, audio


def json_schema(ctx: GenerationContext) -> tuple[bool, Any]:
    """(JSON output wanted, its schema or None)."""
    for fmt in response_formats(ctx.request):
        if fmt.get("type") == "text" and fmt.get("mime_type") == "application/json":
            return True, fmt.get("schema", fmt.get("response_schema"))
    if ctx.request.get("response_mime_type") == "application/json":
        legacy = ctx.request.get("response_format")
        if isinstance(legacy, dict) and legacy.get("type") not in ("text", "image", "audio"):
            return True, legacy
        return True, None
    return False, None


def structured_value(ctx: GenerationContext, schema: Any) -> Any:
    message = ctx.message or ctx.conversation.current
    place = tools.message_place(message) or "Paris"

    def string(name: str) -> str:
        value = plausible_string(name, message, place)
        return hostile.text(value) if ctx.hostile else value

    if schema is None:
        return {"answer": string("answer"), "topic": string("title"), "confidence": 0.9}
    return values_for(schema, string)


def image_options(ctx: GenerationContext) -> tuple[Any, Any]:
    for fmt in response_formats(ctx.request):
        if fmt.get("type") == "image":
            return fmt.get("aspect_ratio"), fmt.get("image_size")
    config = ctx.generation_config.get("image_config")
    if isinstance(config, dict):
        return config.get("aspect_ratio"), config.get("image_size")
    return None, None


def audio_sample_rate(ctx: GenerationContext) -> int:
    for fmt in response_formats(ctx.request):
        rate = fmt.get("sample_rate")
        if fmt.get("type") == "audio" and isinstance(rate, int) and 8000 <= rate <= 48000:
            return rate
    return media.SAMPLE_RATE


def media_deltas(ctx: GenerationContext, image: bool, audio: bool) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = []
    if image:
        width, height = media.image_dimensions(*image_options(ctx))
        png = media.make_png(ctx.seed + b"image", width, height)
        deltas.append({"type": "image", "data": media.b64(png), "mime_type": "image/png"})
    if audio:
        rate = audio_sample_rate(ctx)
        wav = media.make_wav(ctx.seed + b"audio", sample_rate=rate)
        deltas.append(
            {
                "type": "audio",
                "data": media.b64(wav),
                "mime_type": "audio/wav",
                "sample_rate": rate,
                "channels": 1,
            }
        )
    return deltas


def _shift_annotations(
    annotations: list[dict[str, Any]], position: int, size: int
) -> list[dict[str, Any]]:
    shifted = []
    for annotation in annotations:
        item = dict(annotation)
        if item.get("start_index", 0) >= position:
            item["start_index"] = item.get("start_index", 0) + size
            item["end_index"] = item.get("end_index", 0) + size
        elif item.get("end_index", 0) > position:
            item["end_index"] = item.get("end_index", 0) + size
        shifted.append(item)
    return shifted


def model_output_family(ctx: GenerationContext) -> list[StepPlan]:
    if ctx.final_status == "requires_action":
        return []
    want_text, image, audio = output_modes(ctx)
    is_json, schema = json_schema(ctx)
    text = ""
    annotations: list[dict[str, Any]] = []
    if is_json:
        text = json.dumps(structured_value(ctx, schema), ensure_ascii=False, indent=2)
    elif want_text and is_title_request(ctx.request):
        text = title_text(ctx.message)
    elif want_text and (image or audio) and ctx.directives.words is None:
        what = "an image" if image else "a recording"
        text = f"**Turn {ctx.conversation.turn}.** Here is {what} for {quote(ctx.message)}."
        if ctx.hostile:
            text += " " + hostile.MARKDOWN
    elif want_text:
        text, annotations = compose_answer(ctx)
    chunks = chunk_words(text, ctx.directives.delta_words) if text else []
    middle = len(chunks) // 2
    if ctx.directives.huge and chunks:
        big = filler_chars(ctx.directives.huge)
        position = len("".join(chunks[:middle]).encode())
        chunks.insert(middle, big)
        text = "".join(chunks)
        annotations = _shift_annotations(annotations, position, len(big.encode()))
    content, deltas = text_output(text, annotations) if chunks else ([], [])
    for delta in media_deltas(ctx, image, audio):
        deltas.append(delta)
        content.append(dict(delta))
    return [
        StepPlan(
            start={"type": "model_output"},
            final={"type": "model_output", "content": content},
            text_chunks=chunks,
            deltas=deltas,
            main=True,
            middle=middle,
        )
    ]


StepFamily = Callable[[GenerationContext], list[StepPlan]]

# Emission order. Tools run in a fixed order: reading first, then searching, then doing.
STEP_FAMILIES: list[StepFamily] = [
    thought_family,
    unknown_step_family,
    tools.url_context_family,
    tools.google_search_family,
    tools.google_maps_family,
    tools.file_search_family,
    tools.retrieval_family,
    tools.mcp_server_family,
    tools.code_execution_family,
    tools.function_family,
    model_output_family,
]


# --------------------------------------------------------------------------------------------
# Planning


def _output_words(steps: list[StepPlan]) -> int:
    words = 0
    for plan in steps:
        final = plan.final
        if final.get("type") == "model_output":
            words += len(content_text(final.get("content")).split())
        elif final.get("type") == "function_call":
            words += len(json.dumps(final.get("arguments")).split())
    return words


def _media_tokens(steps: list[StepPlan]) -> dict[str, int]:
    found: dict[str, int] = {}
    for plan in steps:
        if plan.final.get("type") != "model_output":
            continue
        for block in plan.final.get("content") or []:
            if block.get("type") == "image":
                found["image"] = found.get("image", 0) + IMAGE_TOKENS
            elif block.get("type") == "audio":
                seconds = 4 * media.TONE_MS / 1000
                found["audio"] = found.get("audio", 0) + max(1, round(seconds * AUDIO_TOKENS_PER_S))
    return found


def _answer_as_json(ctx: GenerationContext, steps: list[StepPlan]) -> list[StepPlan]:
    """An agent asked for structured output (`response_format`) answers in JSON, as a model."""
    is_json, schema = json_schema(ctx)
    if not is_json:
        return steps
    text = json.dumps(structured_value(ctx, schema), ensure_ascii=False, indent=2)
    for plan in steps:
        if plan.main and plan.final.get("type") == "model_output":
            chunks = chunk_words(text, ctx.directives.delta_words)
            plan.final = {**plan.final, "content": [{"type": "text", "text": text}]}
            plan.text_chunks, plan.deltas, plan.middle = chunks, [], len(chunks) // 2
    return steps


def plan_reply(ctx: GenerationContext) -> ReplyPlan:
    if ctx.agent:
        steps = _answer_as_json(ctx, agents.agent_steps(ctx))
    else:
        steps = [plan for family in STEP_FAMILIES for plan in family(ctx)]
    system = ctx.request.get("system_instruction")
    system_words = len(system.split()) if isinstance(system, str) else 0
    input_tokens = max(1, token_estimate(ctx.conversation.transcript_words + system_words))
    thought_tokens = 0
    for plan in steps:
        if plan.final.get("type") == "thought":
            summary = content_text(plan.final.get("summary"))
            thought_tokens += 64 + token_estimate(len(summary.split()))
    reply = ReplyPlan(
        steps=steps,
        input_tokens=input_tokens,
        output_tokens=max(1, token_estimate(_output_words(steps))),
        thought_tokens=thought_tokens,
        tool_use_tokens=token_estimate(ctx.tool_use_words),
        final_status=ctx.final_status,
        media_tokens=_media_tokens(steps),
        grounding=dict(ctx.grounding),
    )
    # A `huge` delta tests one oversized frame; it is not a decode to cut into hops. Background
    # and agent runs are continued by the server itself (the SDK continues neither).
    server_continues = bool(ctx.agent or ctx.request.get("background"))
    return continuation.limit_first_hop(
        reply, ctx.hop_words, enabled=not ctx.directives.huge and not server_continues
    )


def code_jobs(ctx: GenerationContext) -> list[str]:
    return agents.agent_code_jobs(ctx) if ctx.agent else tools.code_jobs(ctx)


async def plan_reply_async(ctx: GenerationContext) -> ReplyPlan:
    """Run the plan's code for real (subprocesses), then plan."""
    for code in code_jobs(ctx):
        if code not in ctx.executions:
            ctx.executions[code] = await run_python(code)
    return plan_reply(ctx)


def check_request(ctx: GenerationContext) -> None:
    """What the API rejects before generating: raises :class:`SchemaTooComplex`."""
    is_json, schema = json_schema(ctx)
    if is_json and schema is not None:
        structured_value(ctx, schema)
    if not ctx.agent:
        tools.check_tools(ctx)
