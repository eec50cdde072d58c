"""The data of reply generation: step plans, the conversation, the generation context.

Pure: no I/O, no clocks. Everything random comes from a PRNG seeded by a hash of the
conversation (:meth:`GenerationContext.rng`), so the same request always gets the same reply.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .directives import DEFAULT_HOP_WORDS, Directives, remove_tokens

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

WORD_RE = re.compile(r"\S+\s*")
URL_IN_TEXT_RE = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)
KEYWORD_RE = re.compile(r"[^\W_][\w'’-]*", re.UNICODE)
STOPWORDS = frozenset(
    " ".join(
        (
            "a about above after again all also am an and any are as at be because been",
            "before being below between both but by can could did do does doing down during",
            "each few for from further had has have having he her here hers him his how i if",
            "in into is it its itself just me more most my no nor not now of off on once",
            "only or other our ours out over own please same she should so some such tell",
            "than that the their theirs them then there these they this those through to too",
            "under until up very was we were what when where which while who whom why will",
            "with would you your yours show give find me let lets can't don't i'm what's",
            "search look explain describe write make run compute calculate count using use",
            "get know need want like some many much see won win wins happened happen best",
            "top good new latest letters words",
        )
    ).split()
)


# --------------------------------------------------------------------------------------------
# Plans


@dataclass
class StepPlan:
    """One generated step: its ``step.start`` shell (``start``), its deltas, and the final step.

    Deltas stream in this order: ``text_chunks`` (each as a ``text`` delta), then ``deltas``
    (annotations, media, tool payloads, …).
    """

    start: dict[str, Any]
    final: dict[str, Any]
    deltas: Sequence[dict[str, Any]] = ()
    text_chunks: Sequence[str] | None = None
    # The reply's main text: mid-stream directives (stall, error, malformed, huge) act here.
    main: bool = False
    # Set for the main step: where in its deltas the mid-stream directives fire.
    middle: int = 0
    # Seconds to wait before the step starts (agents "work"); scaled by the run's pace.
    delay: float = 0.0
    # After this many of the step's deltas, a checkpoint continuation token for that decode
    # offset goes out on an ``interaction.status_update`` (long, multi-hop decodes only).
    checkpoints: dict[int, int] = field(default_factory=dict)

    def delta_count(self) -> int:
        return len(self.text_chunks or ()) + len(self.deltas)

    def iter_deltas(self) -> Iterator[dict[str, Any]]:
        for chunk in self.text_chunks or ():
            yield {"type": "text", "text": chunk}
        yield from self.deltas


@dataclass
class ReplyPlan:
    steps: list[StepPlan]
    input_tokens: int
    output_tokens: int
    thought_tokens: int
    tool_use_tokens: int = 0
    final_status: str = "completed"
    # modality -> output tokens other than text (image, audio)
    media_tokens: dict[str, int] = field(default_factory=dict)
    grounding: dict[str, int] = field(default_factory=dict)  # tool type -> count
    # Long decodes (see continuation.py): the whole output, and where this hop stopped.
    decode: Any = None
    continue_from: int | None = None

    def usage(self, output_fraction: float = 1.0) -> dict[str, Any]:
        output = math.ceil(self.output_tokens * output_fraction)
        media = {k: math.ceil(v * output_fraction) for k, v in self.media_tokens.items()}
        total_output = output + sum(media.values())
        total = self.input_tokens + total_output + self.thought_tokens + self.tool_use_tokens
        by_modality = [{"modality": "text", "tokens": output}]
        by_modality += [{"modality": k, "tokens": v} for k, v in media.items()]
        usage: dict[str, Any] = {
            "total_input_tokens": self.input_tokens,
            "total_output_tokens": total_output,
            "total_thought_tokens": self.thought_tokens,
            "total_cached_tokens": 0,
            "total_tool_use_tokens": self.tool_use_tokens,
            "total_tokens": total,
            "input_tokens_by_modality": [{"modality": "text", "tokens": self.input_tokens}],
            "output_tokens_by_modality": by_modality,
        }
        if self.tool_use_tokens:
            usage["tool_use_tokens_by_modality"] = [
                {"modality": "text", "tokens": self.tool_use_tokens}
            ]
        if self.grounding:
            usage["grounding_tool_count"] = [
                {"type": kind, "count": count} for kind, count in self.grounding.items()
            ]
        return usage


class TextBuilder:
    """Builds a text block piece by piece, with annotations at UTF-8 *byte* offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.annotations: list[dict[str, Any]] = []

    def add(self, text: str, annotation: dict[str, Any] | None = None) -> None:
        start = self.size
        self.parts.append(text)
        self.size += len(text.encode())
        if annotation is not None:
            self.annotations.append({**annotation, "start_index": start, "end_index": self.size})

    @property
    def text(self) -> str:
        return "".join(self.parts)


# A section of the answer: pieces of text, each optionally annotated (a citation).
Section = list[tuple[str, dict[str, Any] | None]]


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
    # This turn's function results (the client's answers to our function calls).
    function_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> str:
        return self.user_messages[-1] if self.user_messages else ""

    @property
    def first(self) -> str:
        return self.user_messages[0] if self.user_messages else ""


def text_output(
    text: str, annotations: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An answer's text block and the non-text deltas that go with it: its annotations arrive
    as one `text_annotation_delta` after the text."""
    block: dict[str, Any] = {"type": "text", "text": text}
    if not annotations:
        return [block], []
    block["annotations"] = annotations
    return [block], [{"type": "text_annotation_delta", "annotations": annotations}]


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


def trailing_client_steps(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    tail: list[dict[str, Any]] = []
    for step in reversed(steps):
        if step.get("type") not in CLIENT_STEP_TYPES:
            break
        tail.append(step)
    tail.reverse()
    return tail


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
    # This turn's own input is the trailing run of client steps (stateless history before it).
    own = trailing_client_steps(input_steps) or list(input_steps)
    has_new_message = any(step.get("type") == "user_input" for step in own)
    if not has_new_message:
        turn += 1  # e.g. a function_result-only turn still is a turn
    words = sum(len(step_text(step).split()) for step in transcript)
    attachments: list[str] = []
    for step in reversed(input_steps):
        if step.get("type") == "user_input":
            attachments = content_attachments(step.get("content"))
            break
    results = [step for step in own if step.get("type") == "function_result"]
    return Conversation(
        user_messages=messages,
        turn=max(turn, 1),
        transcript_words=words,
        attachments=attachments,
        has_new_message=has_new_message,
        function_results=results,
    )


@dataclass
class GenerationContext:
    request: dict[str, Any]
    conversation: Conversation
    directives: Directives
    seed: bytes
    history: Sequence[dict[str, Any]] = ()
    # Filled while planning: answer sections from tools, the final status, usage extras.
    sections: list[Section] = field(default_factory=list)
    final_status: str = "completed"
    tool_use_words: int = 0
    grounding: dict[str, int] = field(default_factory=dict)
    # Code of code_execution steps -> its real execution (filled before planning).
    executions: dict[str, Any] = field(default_factory=dict)
    # The per-hop decode limit in words (the hop_words directive, else the server's).
    hop_words: int = DEFAULT_HOP_WORDS

    @property
    def generation_config(self) -> dict[str, Any]:
        config = self.request.get("generation_config")
        return config if isinstance(config, dict) else {}

    @property
    def agent(self) -> str:
        agent = self.request.get("agent")
        return agent if isinstance(agent, str) else ""

    @property
    def model(self) -> str:
        model = self.request.get("model")
        return model if isinstance(model, str) else ""

    @property
    def hostile(self) -> bool:
        return self.directives.hostile

    @property
    def message(self) -> str:
        """This turn's user text, directives stripped."""
        return self.conversation.current if self.conversation.has_new_message else ""

    def rng(self, salt: str) -> random.Random:
        digest = hashlib.sha256(self.seed + salt.encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def tools(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The request's tools (optionally of one type) that tool_choice lets the model use."""
        tools = [t for t in self.request.get("tools") or [] if isinstance(t, dict)]
        choice = self.generation_config.get("tool_choice")
        allowed: list[str] | None = None
        if isinstance(choice, str) and choice == "none":
            return []
        if isinstance(choice, dict) and isinstance(choice.get("allowed_tools"), dict):
            rule = choice["allowed_tools"]
            if rule.get("mode") == "none":
                return []
            names = rule.get("tools")
            if isinstance(names, list):
                allowed = [n for n in names if isinstance(n, str)]
        if allowed is not None:
            tools = [t for t in tools if t.get("name") in allowed or t.get("type") in allowed]
        if kind is not None:
            tools = [t for t in tools if t.get("type") == kind]
        return tools


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
        history=history,
        hop_words=directives.hop_words or DEFAULT_HOP_WORDS,
    )


# --------------------------------------------------------------------------------------------
# Small helpers


def chunk_words(text: str, per_delta: int = 1) -> list[str]:
    """Split into deltas of ``per_delta`` words, each keeping its trailing whitespace."""
    tokens = WORD_RE.findall(text)
    lead = len(text) - len(text.lstrip())
    if lead and tokens:
        tokens[0] = text[:lead] + tokens[0]
    elif lead:
        tokens = [text]
    if per_delta <= 1:
        return tokens
    return ["".join(tokens[i : i + per_delta]) for i in range(0, len(tokens), per_delta)]


def split_fragments(text: str, pieces: int) -> list[str]:
    """``text`` cut into about ``pieces`` non-empty fragments (characters, not words)."""
    if not text:
        return []
    size = max(1, math.ceil(len(text) / max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def token_estimate(words: int) -> int:
    return math.ceil(words * 1.3)


def signature(ctx: GenerationContext, salt: str, size: int = 96) -> str:
    material = b""
    counter = 0
    while len(material) < size:
        material += hashlib.sha256(ctx.seed + f"{salt}:{counter}".encode()).digest()
        counter += 1
    return base64.b64encode(material[:size]).decode()


def short_id(ctx: GenerationContext, prefix: str, salt: str, size: int = 12) -> str:
    return prefix + hashlib.sha256(ctx.seed + salt.encode()).hexdigest()[:size]


def keywords(text: str, limit: int = 5) -> list[str]:
    """The content words of ``text`` (stopwords and short words dropped), in order, unique."""
    found: list[str] = []
    text = URL_IN_TEXT_RE.sub(" ", text)
    for word in KEYWORD_RE.findall(text):
        clean = word.strip("'’-")
        if len(clean) < 3 and not clean.isdigit():
            continue
        if clean.lower() in STOPWORDS or clean.lower() in (w.lower() for w in found):
            continue
        found.append(clean)
        if len(found) == limit:
            break
    return found


def topic_of(text: str) -> str:
    """A short, title-cased topic for ``text`` ("Euro 2024 Winner"); "Gemini" for no text."""
    words = keywords(text, 3)
    if not words:
        return "Gemini"
    return " ".join(w if w[:1].isupper() or w.isdigit() else w.capitalize() for w in words)


def slug(text: str, sep: str = "-") -> str:
    words = re.findall(r"[^\W_]+", text)
    return sep.join(words) or "topic"
