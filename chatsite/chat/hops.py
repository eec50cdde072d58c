"""One reply over several interactions ("hops"): a long decode continued with its
`continuation_token`, or a round of our function results after `requires_action`.

`ReplySteps` keeps what the reply shows and saves across hops (the runner folds events into it);
the functions below build the next hop's request, and the history body sent when the chained
interaction has expired upstream.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from chatsite.gemini import APIError, NotFoundError, StepAssembler

from . import branches, tools
from .attachments import strip_echo
from .models import Conversation, Turn
from .rendering import continue_output

MAX_HOPS = 20  # continuation hops for one reply


class ReplySteps:
    """The reply's steps across hops: element index (as the page numbers them) → step."""

    def __init__(self, user_input) -> None:
        self.user_input = user_input
        self.assembler = StepAssembler()
        self.hop = 0
        self.prior_steps: list[dict] = []  # saved form of the finished hops' steps
        self.prior_shown: dict[int, dict] = {}  # element index → step, finished hops
        self.offset = 0  # element index of this hop's step 0
        self.joined: dict[int, int] = {}  # this hop's index → the element it continues
        self.usage: dict = {}
        self.answered: set[str | None] = set()  # function calls we have answered

    def element(self, index: Any) -> int:  # the event's index as received
        return self.joined.get(index, index + self.offset)

    def hop_steps(self) -> list[tuple[int, dict]]:
        items = sorted(self.assembler.steps_by_index.items())
        if self.hop:  # later hops echo their input: the user's again, or our function results
            items = [
                (i, s)
                for i, s in items
                if s.get("type") != "user_input"
                and not (s.get("type") == "function_result" and s.get("call_id") in self.answered)
            ]
        return items

    def shown(self) -> dict[int, dict]:
        """Element index → step as the page shows it (continued answers joined)."""
        shown = dict(self.prior_shown)
        for index, step in self.hop_steps():
            element = self.element(index)
            if index in self.joined:
                step = continue_output(self.prior_shown[element], step)
            shown[element] = step
        return shown

    def saved(self) -> list[dict]:
        """The steps as received, every hop's in order (the page joins continued answers)."""
        steps = self.prior_steps + [copy.deepcopy(s) for _, s in self.hop_steps()]
        return strip_echo(steps, self.user_input)  # the files' bytes are not kept twice

    def total_usage(self) -> dict:
        return add_usage(self.usage, self.assembler.usage or {})

    def call_of(self, step: dict) -> dict:
        """For a result step, the call it answers (its card says so)."""
        if not isinstance(step.get("call_id"), str):
            return {}
        for index, other in self.shown().items():
            if other.get("id") == step["call_id"]:
                return {"call": other, "call_index": index}
        return {}

    def continues_answer(self, index) -> int | None:
        """A later hop's first answer step runs on from the last shown answer: that element."""
        step = self.assembler.steps_by_index.get(index) or {}
        last = max(self.prior_shown, default=None)
        if not (self.hop and step.get("type") == "model_output") or last is None:
            return None
        return last if self.prior_shown[last].get("type") == "model_output" else None

    def next_hop(self, extra_steps: Sequence[dict] = ()) -> list[tuple[int, dict]]:
        """Close this hop; what the reply showed so far stays, and `extra_steps` (our function
        results) join it. Returns those steps with their element indices."""
        self.prior_shown = self.shown()
        self.prior_steps = self.saved()
        self.usage = self.total_usage()
        element = max(self.prior_shown, default=-1) + 1
        added = []
        for step in extra_steps:
            self.prior_steps.append(step)
            self.prior_shown[element] = step
            added.append((element, step))
            element += 1
        self.offset = element
        self.joined = {}
        self.hop += 1
        self.assembler = StepAssembler()
        return added

    async def next_request(self, body: dict) -> dict | None:
        """The next interaction of this reply, if it needs one: the decode stopped at its limit
        (`requires_continuation`), or the model called our functions (`requires_action`)."""
        if self.hop + 1 >= MAX_HOPS:
            return None
        status = self.assembler.status
        if status == Turn.Status.REQUIRES_CONTINUATION:
            token = self.assembler.continuation_token
            if not token or token == body.get("continuation_token"):
                return None
            if not client_continues(body):
                return None  # the server goes on by itself
            return continuation_body(body, token, self.assembler.interaction_id)
        if status == Turn.Status.REQUIRES_ACTION:
            return await self._function_round(body)
        return None

    async def _function_round(self, body: dict) -> dict | None:
        """Run the function calls of this hop that have no result yet; an exception becomes an
        `is_error` result, never a crash. The request carrying their results, or None."""
        offered = {t.get("name") for t in body.get("tools") or [] if t.get("type") == "function"}
        calls = [s for _, s in self.hop_steps() if s.get("type") == "function_call"]
        if not calls:
            return None
        allowed = offered & await tools.enabled()  # an admin may switch one off mid-reply
        results = []
        for call in calls:
            if call.get("id") in self.answered:
                continue
            arguments = call.get("arguments")
            outcome = await tools.call(
                call.get("name"), arguments if isinstance(arguments, dict) else {}, allowed=allowed
            )
            results.append(tools.function_result_step(call, outcome))
            self.answered.add(call.get("id"))
        if not results:
            return None
        dropped = ("input", "previous_interaction_id", "continuation_token")
        hop = {k: v for k, v in body.items() if k not in dropped}
        hop.update(input=results, previous_interaction_id=self.assembler.interaction_id)
        return hop


async def with_history(body: dict, turn: Turn) -> dict:
    """The chained interaction is gone (stored interactions expire; an emulator forgets on
    restart): send this branch's turns so far as steps instead, so the reply still knows it."""
    steps: list[dict] = []
    tree = await branches.aload(Conversation(pk=turn.conversation_id))
    path = tree.ancestors(turn.pk)  # this branch's turns only, not its other versions
    earlier = Turn.objects.filter(pk__in=path).exclude(status=Turn.Status.PENDING)
    async for older in earlier.order_by("created_at", "pk"):
        said = [s for s in older.steps if s.get("type") != "user_input"]
        steps.append({"type": "user_input", "content": _history_content(older.user_input)})
        steps += [{k: v for k, v in s.items() if not k.startswith("_")} for s in said]
    steps.append({"type": "user_input", "content": _history_content(body.get("input"))})
    rest = {k: v for k, v in body.items() if k not in ("previous_interaction_id", "input")}
    return {**rest, "input": steps}


def chain_gone(exc: APIError) -> bool:
    """The chained interaction is no longer there: not found (404), or refused as expired
    (a 400 that names it)."""
    return isinstance(exc, NotFoundError) or "previous_interaction" in (exc.message or "")


def client_continues(body: dict) -> bool:
    """As the SDK: background and agent runs are continued by the server, not by us."""
    return not (body.get("background") or body.get("agent") or body.get("agent_config"))


def continuation_body(body: dict, token: str, owner_id: str | None) -> dict:
    """The next hop of a long decode: the same request (its config, tools, system instruction
    and response format) with the token; stored, it names the interaction that issued the
    token and leaves out the input, as the SDK does."""
    hop = {k: v for k, v in body.items() if k != "continuation_token"}
    hop["continuation_token"] = token
    if hop.get("store", True) is not False:
        hop.pop("input", None)
        hop["previous_interaction_id"] = owner_id
    return hop


def _history_content(blocks) -> list[dict]:
    """A turn's input as history: files the API no longer has become a short mention."""
    if isinstance(blocks, str):
        return [{"type": "text", "text": blocks}]
    out = []
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and "attachment" in block:
            out.append({"type": "text", "text": f"[attached file: {block.get('name', 'file')}]"})
        elif isinstance(block, dict) and block.get("type") in (
            "text", "image", "audio", "video", "document",
        ):  # fmt: skip
            out.append(block)
    return out or [{"type": "text", "text": ""}]


def add_usage(total: dict, more: dict) -> dict:
    """Usage over hops: integer fields add up (per-modality lists are kept from the last)."""
    out = dict(total)
    for key, value in (more or {}).items():
        if isinstance(value, int) and isinstance(out.get(key), int):
            out[key] += value
        else:
            out[key] = value
    return out


def delta_text(delta) -> str:
    """The text a delta adds to its element: answer text, or thought-summary text."""
    if not isinstance(delta, dict):
        return ""
    if delta.get("type") == "text" and isinstance(delta.get("text"), str):
        return delta["text"]
    if delta.get("type") == "thought_summary":
        content = delta.get("content")
        if isinstance(content, dict) and content.get("type") == "text":
            text = content.get("text")
            return text if isinstance(text, str) else ""
    return ""
