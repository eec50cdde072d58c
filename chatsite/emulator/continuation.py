"""Long decodes (§8.2): a per-hop word limit, ``requires_continuation`` and continuation tokens.

A reply whose main text is longer than the hop limit (``[emulator:hop_words=N]``; else the
server's ``hop_words``, 20 000 words by default) stops after N words with status
``requires_continuation`` and a ``continuation_token``. Creating again with that token
continues the *same* decode as a new interaction (a "hop"), until the last hop completes; the
hops' texts joined are exactly the whole reply. Hops of a long decode also put checkpoint
tokens on mid-stream ``interaction.status_update`` events, so a client whose stream broke
right after one can continue from there.

Tokens are opaque to clients: the owner interaction's id and a decode offset (in text deltas),
with an HMAC so that a made-up or altered token is refused (400). The decode itself lives on
the owner interaction's record, so a token works as long as the emulator remembers it.

A hop with ``store: true`` has no input to echo; its steps start with the echo of the turn it
continues (the issuing interaction's echoed input), as §8.2 describes hops, then the continued
model_output — with ``store: false`` the resent input gives the same echo. The SDK strips
leading ``user_input`` steps of later hops when it merges them, so merged steps are right
either way, and step indices of every hop's stream start at the same place.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import Any

from .plans import ReplyPlan, StepPlan, text_output, token_estimate

_SECRET = secrets.token_bytes(32)
CHECKPOINTS_PER_HOP = 3


def make_token(owner_id: str, offset: int) -> str:
    payload = f"{owner_id}:{offset}".encode()
    mac = hmac.new(_SECRET, payload, hashlib.sha256).digest()[:18]
    return _b64(payload) + "." + _b64(mac)


def read_token(token: str) -> tuple[str, int] | None:
    """``(owner_id, offset)`` of a token this process issued, else None."""
    try:
        encoded_payload, encoded_mac = token.split(".", 1)
        payload = _unb64(encoded_payload)
        mac = _unb64(encoded_mac)
    except (ValueError, binascii.Error):
        return None
    expected = hmac.new(_SECRET, payload, hashlib.sha256).digest()[:18]
    if not hmac.compare_digest(mac, expected):
        return None
    owner, _, offset = payload.decode().rpartition(":")
    if not owner or not offset.isdigit():
        return None
    return owner, int(offset)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Decode:
    """The whole main output of a long reply, cut into hops on text-delta boundaries."""

    start: dict[str, Any]
    chunks: list[str]
    chunk_words: list[int]
    offsets: list[int]  # byte offset where each chunk starts, plus the total at the end
    annotations: list[dict[str, Any]]
    media_deltas: list[dict[str, Any]]  # image/audio deltas: they go out with the last hop
    hop_words: int
    input_tokens: int
    media_tokens: dict[str, int]

    @classmethod
    def from_step(
        cls, plan: StepPlan, hop_words: int, input_tokens: int, media_tokens: dict[str, int]
    ) -> Decode:
        chunks = list(plan.text_chunks or ())
        offsets = [0]
        for chunk in chunks:
            offsets.append(offsets[-1] + len(chunk.encode()))
        content = plan.final.get("content") or []
        text_block: dict[str, Any] = next((b for b in content if b.get("type") == "text"), {})
        return cls(
            start=copy.deepcopy(plan.start),
            chunks=chunks,
            chunk_words=[len(chunk.split()) for chunk in chunks],
            offsets=offsets,
            annotations=copy.deepcopy(text_block.get("annotations") or []),
            media_deltas=[d for d in plan.deltas if d.get("type") != "text_annotation_delta"],
            hop_words=hop_words,
            input_tokens=input_tokens,
            media_tokens=dict(media_tokens),
        )

    @property
    def total_words(self) -> int:
        return sum(self.chunk_words)

    def hop_end(self, start: int) -> int:
        words = 0
        end = start
        while end < len(self.chunks) and (words < self.hop_words or self.chunk_words[end] == 0):
            words += self.chunk_words[end]
            end += 1
        return end

    def _annotations(self, start: int, end: int) -> list[dict[str, Any]]:
        low, high = self.offsets[start], self.offsets[end]
        kept = []
        for annotation in self.annotations:
            a_start = annotation.get("start_index", 0)
            a_end = annotation.get("end_index", a_start)
            if a_end <= low or a_start >= high:
                continue
            item = dict(annotation)
            item["start_index"] = max(a_start, low) - low
            item["end_index"] = min(a_end, high) - low
            kept.append(item)
        return kept

    def hop(self, start: int) -> tuple[StepPlan, int]:
        """The main step of the hop that starts at chunk ``start``, and where it ends."""
        end = self.hop_end(start)
        last = end >= len(self.chunks)
        chunks = self.chunks[start:end]
        text = "".join(chunks)
        annotations = self._annotations(start, end)
        content, deltas = text_output(text, annotations) if chunks else ([], [])
        if last:
            content += [dict(d) for d in self.media_deltas]
            deltas += [dict(d) for d in self.media_deltas]
        final = {**self.start, "content": content}
        size = len(chunks)
        interval = max(1, math.ceil(size / CHECKPOINTS_PER_HOP))
        checkpoints = {p: start + p for p in range(interval, size, interval)}
        step = StepPlan(
            start=copy.deepcopy(self.start),
            final=final,
            deltas=deltas,
            text_chunks=chunks,
            main=True,
            middle=size // 2,
            checkpoints=checkpoints,
        )
        return step, end

    def hop_plan(self, start: int) -> ReplyPlan:
        step, end = self.hop(start)
        last = end >= len(self.chunks)
        words = sum(self.chunk_words[start:end])
        return ReplyPlan(
            steps=[step],
            input_tokens=self.input_tokens,
            output_tokens=max(1, token_estimate(words)),
            thought_tokens=0,
            final_status="completed" if last else "requires_continuation",
            media_tokens=dict(self.media_tokens) if last else {},
            decode=self,
            continue_from=None if last else end,
        )


def limit_first_hop(plan: ReplyPlan, hop_words: int, *, enabled: bool = True) -> ReplyPlan:
    """Cut the plan's main output at the hop limit (no change for replies that fit)."""
    if not enabled:
        return plan
    position = next(
        (
            i
            for i, step in enumerate(plan.steps)
            if step.main and step.final.get("type") == "model_output" and step.text_chunks
        ),
        None,
    )
    if position is None:
        return plan
    main = plan.steps[position]
    if len("".join(main.text_chunks or ()).split()) <= hop_words:  # the common case, fast
        return plan
    decode = Decode.from_step(main, hop_words, plan.input_tokens, plan.media_tokens)
    step, end = decode.hop(0)
    plan.steps[position] = step
    kept = sum(decode.chunk_words[:end])
    plan.output_tokens = max(1, plan.output_tokens - token_estimate(decode.total_words - kept))
    plan.media_tokens = {}
    plan.final_status = "requires_continuation"
    plan.decode = decode
    plan.continue_from = end
    return plan
