"""Deterministic reply generation: a conversation in, a plan of steps (and their deltas) out.

Pure functions only — no I/O, no clocks, no randomness except a PRNG seeded from a hash of the
conversation, so the same conversation always gets the same words.

A reply is a list of :class:`StepPlan`. Each step *family* is a function
``(GenerationContext) -> list[StepPlan]``; :data:`STEP_FAMILIES` lists them in emission order.
New step types (tool calls and results, images, …) plug in by adding a family there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .directives import Directives, remove_tokens

STEP_TYPES = frozenset(
    {
        "user_input",
        "model_output",
        "thought",
        "function_call",
        "function_result",
        "code_execution_call",
        "code_execution_result",
        "url_context_call",
        "url_context_result",
        "google_search_call",
        "google_search_result",
        "file_search_call",
        "file_search_result",
        "google_maps_call",
        "google_maps_result",
        "mcp_server_tool_call",
        "mcp_server_tool_result",
        "retrieval_call",
        "retrieval_result",
        "processing_call",
        "processing_result",
    }
)
CONTENT_TYPES = frozenset({"text", "image", "audio", "document", "video"})
# Steps a client sends on its own behalf (echoed back as this turn's input).
CLIENT_STEP_TYPES = frozenset({"user_input", "function_result"})

QUOTE_LIMIT = 280
WORD_RE = re.compile(r"\S+\s*")


# --------------------------------------------------------------------------------------------
# Plans


@dataclass
class StepPlan:
    """One generated step: its ``step.start`` shell (``start``), its deltas, and the final step."""

    start: dict[str, Any]
    final: dict[str, Any]
    deltas: Sequence[dict[str, Any]] = ()
    # Text steps stream ``text_chunks`` as ``{"type": "text", "text": chunk}`` deltas instead.
    text_chunks: Sequence[str] | None = None
    # The reply's main text: mid-stream directives (stall, error, malformed, huge) act here.
    main: bool = False
    # Set for the main step: where in ``text_chunks`` the mid-stream directives fire.
    middle: int = 0

    def delta_count(self) -> int:
        return len(self.text_chunks) if self.text_chunks is not None else len(self.deltas)

    def iter_deltas(self) -> Iterator[dict[str, Any]]:
        if self.text_chunks is not None:
            for chunk in self.text_chunks:
                yield {"type": "text", "text": chunk}
        else:
            yield from self.deltas


@dataclass
class ReplyPlan:
    steps: list[StepPlan]
    input_tokens: int
    output_tokens: int
    thought_tokens: int

    def usage(self, output_fraction: float = 1.0) -> dict[str, Any]:
        output = math.ceil(self.output_tokens * output_fraction)
        total = self.input_tokens + output + self.thought_tokens
        usage: dict[str, Any] = {
            "total_input_tokens": self.input_tokens,
            "total_output_tokens": output,
            "total_thought_tokens": self.thought_tokens,
            "total_cached_tokens": 0,
            "total_tool_use_tokens": 0,
            "total_tokens": total,
            "input_tokens_by_modality": [{"modality": "text", "tokens": self.input_tokens}],
            "output_tokens_by_modality": [{"modality": "text", "tokens": output}],
        }
        return usage


# --------------------------------------------------------------------------------------------
# Conversation


@dataclass
class Conversation:
    """What the model "knows": every user message so far (oldest first) and the turn number."""

    user_messages: list[str]
    turn: int
    transcript_words: int
    attachments: list[str] = field(default_factory=list)
    # False when this turn's input has no user_input step (e.g. only function results).
    has_new_message: bool = True

    @property
    def current(self) -> str:
        return self.user_messages[-1] if self.user_messages else ""

    @property
    def first(self) -> str:
        return self.user_messages[0] if self.user_messages else ""


def content_text(content: Any) -> str:
    """The text of a step's ``content`` (a list of Content, one Content, or a bare string)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return ""
    parts = [
        block["text"]
        for block in content
        if isinstance(block, dict) and block.get("type", "text") == "text"
        if isinstance(block.get("text"), str)
    ]
    return "\n".join(parts)


def content_attachments(content: Any) -> list[str]:
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return []
    found = []
    for block in content:
        if isinstance(block, dict) and block.get("type") in CONTENT_TYPES - {"text"}:
            mime = block.get("mime_type")
            found.append(f"{block['type']} ({mime})" if mime else str(block["type"]))
    return found


def step_text(step: dict[str, Any]) -> str:
    if step.get("type") in ("user_input", "model_output"):
        return content_text(step.get("content"))
    return ""


def last_user_text(steps: Sequence[dict[str, Any]]) -> str:
    """Text of the last ``user_input`` step (where directives are read from)."""
    for step in reversed(steps):
        if step.get("type") == "user_input":
            return content_text(step.get("content"))
    return ""


def build_conversation(
    history: Sequence[dict[str, Any]], input_steps: Sequence[dict[str, Any]]
) -> Conversation:
    """``history``: earlier turns' steps, oldest first (from the previous_interaction_id chain)."""
    transcript = [*history, *input_steps]
    messages = [
        remove_tokens(content_text(step.get("content")))
        for step in transcript
        if step.get("type") == "user_input"
    ]
    turn = len(messages)
    has_new_message = any(step.get("type") == "user_input" for step in input_steps)
    if not has_new_message:
        turn += 1  # e.g. a function_result-only turn still is a turn
    words = sum(len(step_text(step).split()) for step in transcript)
    attachments: list[str] = []
    for step in reversed(input_steps):
        if step.get("type") == "user_input":
            attachments = content_attachments(step.get("content"))
            break
    return Conversation(
        user_messages=messages,
        turn=max(turn, 1),
        transcript_words=words,
        attachments=attachments,
        has_new_message=has_new_message,
    )


@dataclass
class GenerationContext:
    request: dict[str, Any]
    conversation: Conversation
    directives: Directives
    seed: bytes

    @property
    def generation_config(self) -> dict[str, Any]:
        config = self.request.get("generation_config")
        return config if isinstance(config, dict) else {}

    def rng(self, salt: str) -> random.Random:
        digest = hashlib.sha256(self.seed + salt.encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))


def conversation_seed(request: dict[str, Any], conversation: Conversation) -> bytes:
    material = json.dumps(
        {
            "messages": conversation.user_messages,
            "turn": conversation.turn,
            "system": request.get("system_instruction"),
            "model": request.get("model") or request.get("agent"),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).digest()


def make_context(
    request: dict[str, Any],
    history: Sequence[dict[str, Any]],
    input_steps: Sequence[dict[str, Any]],
    directives: Directives,
) -> GenerationContext:
    conversation = build_conversation(history, input_steps)
    return GenerationContext(
        request=request,
        conversation=conversation,
        directives=directives,
        seed=conversation_seed(request, conversation),
    )


# --------------------------------------------------------------------------------------------
# Prose

SENTENCES = (
    "That is a good place to start, and there is plenty to say about it.",
    "Let me walk through it one piece at a time, so nothing gets lost along the way.",
    "The short version is that small, steady steps usually beat one heroic leap.",
    "It helps to name the goal first and only then pick the tools.",
    "Most problems like this one get easier once the moving parts are written down.",
    "A quick sketch on paper often settles questions that an hour of debate would not.",
    "The details matter, but the overall shape matters more at this stage.",
    "There is rarely a single right answer here; there are trade-offs worth seeing clearly.",
    "Good defaults go a long way, and they are easy to change later.",
    "If something feels unclear, that is usually a sign to simplify rather than to add.",
    "Think of it like tending a garden: a little attention every day keeps it healthy.",
    "Consistency tends to win over cleverness when other people have to read the result.",
    "It is worth checking the assumptions once more before building on top of them.",
    "A working example, even a rough one, teaches more than a perfect plan.",
    "The first draft only has to exist; the second draft is where it gets good.",
    "When in doubt, measure first and optimise second.",
    "Clear names and short functions do most of the heavy lifting in the long run.",
    "Every decision here can be revisited, so it is fine to choose and move on.",
    "Sometimes the best next step is simply to ask one more precise question.",
    "Writing the test before the fix makes the fix easier to trust.",
    "The quiet parts of a system, like logs and error messages, deserve care too.",
    "Small, reversible changes keep the risk low and the feedback fast.",
    "It is easier to add a feature later than to remove one people depend on.",
    "A calm, boring solution is often the most reliable one.",
)

BULLETS = (
    "**Start small**: get one path working end to end.",
    "**Write it down**: a short note now saves a long search later.",
    "**Check the edges**: empty inputs, long inputs and slow networks.",
    "**Keep it readable**: future you is also a reader.",
    "**Measure**: numbers settle arguments that opinions cannot.",
    "**Automate the boring parts**: let tools repeat what people forget.",
    "**Ask for feedback early**: a second pair of eyes is cheap.",
    "**Prefer plain words**: jargon hides mistakes.",
    "**Leave it tidy**: clean up as you go rather than at the end.",
    "**Plan for failure**: retries, timeouts and clear error messages.",
    "**Rest**: a fresh mind spots what a tired one misses.",
    "**Celebrate progress**: finished beats perfect.",
)

CLOSERS = (
    "I hope that helps — tell me more and I will keep going.",
    "Happy to dig deeper into any of these points.",
    "Let me know which part you would like to explore next.",
    "That should be enough to get moving; ask again whenever you like.",
    "Shall we take the next step together?",
)

EMULATOR_NOTE = "_(Offline emulator reply: the same conversation always gets the same words.)_"

FILLER_WORDS = " ".join(SENTENCES).split()
SENTENCE_STARTS = [
    sum(len(sentence.split()) for sentence in SENTENCES[:i]) for i in range(len(SENTENCES))
]


def quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > QUOTE_LIMIT:
        text = text[: QUOTE_LIMIT - 1].rstrip() + "…"
    return f"“{text}”"


def reply_text(ctx: GenerationContext) -> str:
    """The model_output text: quotes the conversation, then deterministic filler prose."""
    if ctx.directives.words is not None:
        return filler_words(ctx.directives.words, ctx.rng("words").choice(SENTENCE_STARTS))
    conversation = ctx.conversation
    rng = ctx.rng("prose")
    opening = f"**Turn {conversation.turn}.**"
    if not conversation.has_new_message:
        opening += " Thanks, I have what you sent back."
    elif conversation.current:
        opening += f" You said: {quote(conversation.current)}."
    else:
        opening += " You sent no text this time."
    if len(conversation.user_messages) > 1 or (
        conversation.user_messages and not conversation.has_new_message
    ):
        opening += f" Earlier you said: {quote(conversation.first)}."
    if conversation.attachments:
        opening += " You also shared: " + ", ".join(conversation.attachments) + "."
    system = ctx.request.get("system_instruction")
    if isinstance(system, str) and system.strip():
        opening += f" I am following your instructions: {quote(system)}."
    paragraph = " ".join(rng.sample(SENTENCES, rng.randint(2, 3)))
    bullets = "\n".join(f"- {item}" for item in rng.sample(BULLETS, 3))
    closing = rng.choice(CLOSERS)
    return f"{opening}\n\n{paragraph}\n\n{bullets}\n\n{closing} {EMULATOR_NOTE}"


def filler_words(count: int, offset: int = 0) -> str:
    """Exactly ``count`` whitespace-separated words of prose, a paragraph break every 60."""
    if count <= 0:
        return ""
    size = len(FILLER_WORDS)
    words = [FILLER_WORDS[(offset + i) % size] for i in range(count)]
    for i in range(59, count - 1, 60):
        words[i] += "\n\n"
    return " ".join(words).replace("\n\n ", "\n\n")


def filler_chars(count: int) -> str:
    """Exactly ``count`` characters of prose (for one huge delta), ending in a space."""
    if count <= 0:
        return ""
    unit = " ".join(SENTENCES) + " "
    text = (unit * (count // len(unit) + 1))[:count]
    return text[:-1] + " "


def chunk_words(text: str, per_delta: int = 1) -> list[str]:
    """Split into deltas of ``per_delta`` words, each keeping its trailing whitespace."""
    tokens = WORD_RE.findall(text)
    lead = len(text) - len(text.lstrip())
    if lead and tokens:
        tokens[0] = text[:lead] + tokens[0]
    if per_delta <= 1:
        return tokens
    return ["".join(tokens[i : i + per_delta]) for i in range(0, len(tokens), per_delta)]


def token_estimate(words: int) -> int:
    return math.ceil(words * 1.3)


def signature(ctx: GenerationContext, salt: str, size: int = 96) -> str:
    material = b""
    counter = 0
    while len(material) < size:
        material += hashlib.sha256(ctx.seed + f"{salt}:{counter}".encode()).digest()
        counter += 1
    return base64.b64encode(material[:size]).decode()


def short_id(ctx: GenerationContext, prefix: str, salt: str) -> str:
    return prefix + hashlib.sha256(ctx.seed + salt.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# Step families


def thought_family(ctx: GenerationContext) -> list[StepPlan]:
    config = ctx.generation_config
    if not config.get("thinking_level") or ctx.request.get("agent"):
        return []
    sig = signature(ctx, "thought")
    final: dict[str, Any] = {"type": "thought"}
    deltas: list[dict[str, Any]] = []
    if config.get("thinking_summaries") == "auto":
        summary = (
            f"**Reading turn {ctx.conversation.turn}.** The user wrote "
            f"{quote(ctx.conversation.current)}; I will answer warmly and keep it practical."
        )
        block = {"type": "text", "text": summary}
        deltas.append({"type": "thought_summary", "content": dict(block)})
        final["summary"] = [block]
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


def model_output_family(ctx: GenerationContext) -> list[StepPlan]:
    text = reply_text(ctx)
    chunks = chunk_words(text, ctx.directives.delta_words)
    middle = len(chunks) // 2
    if ctx.directives.huge:
        big = filler_chars(ctx.directives.huge)
        chunks.insert(middle, big)
        text = "".join(chunks)
    return [
        StepPlan(
            start={"type": "model_output"},
            final={"type": "model_output", "content": [{"type": "text", "text": text}]},
            text_chunks=chunks,
            main=True,
            middle=middle,
        )
    ]


StepFamily = Callable[[GenerationContext], list[StepPlan]]

STEP_FAMILIES: list[StepFamily] = [thought_family, unknown_step_family, model_output_family]


def plan_reply(ctx: GenerationContext) -> ReplyPlan:
    steps = [plan for family in STEP_FAMILIES for plan in family(ctx)]
    system = ctx.request.get("system_instruction")
    system_words = len(system.split()) if isinstance(system, str) else 0
    input_tokens = max(1, token_estimate(ctx.conversation.transcript_words + system_words))
    output_words = sum(len(content_text(p.final.get("content")).split()) for p in steps)
    thought_tokens = 0
    for plan in steps:
        if plan.final.get("type") == "thought":
            summary = content_text(plan.final.get("summary"))
            thought_tokens += 64 + token_estimate(len(summary.split()))
    return ReplyPlan(
        steps=steps,
        input_tokens=input_tokens,
        output_tokens=max(1, token_estimate(output_words)),
        thought_tokens=thought_tokens,
    )
