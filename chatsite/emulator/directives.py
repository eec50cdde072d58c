"""Test/fault directives: ``[emulator:key]`` or ``[emulator:key=value]`` in the last user text.

Directives let tests, benchmarks and people ask the emulator for special behaviour
deterministically, through the ordinary request body. Unknown keys and unparsable values are
ignored (so a typo never breaks a request); numbers are clamped to sane bounds.

| key            | effect                                                                   |
|----------------|--------------------------------------------------------------------------|
| pace=<ms>      | delay between deltas for this interaction (overrides the server's)       |
| words=<n>      | the reply text is exactly n words of filler (n <= 200000)                |
| delta_words=<n>| n words per text delta (default 1)                                       |
| fail=<s>[x<c>] | the first c (default 1) identical create bodies fail with HTTP status s  |
| retry_after=<s>| Retry-After header (seconds) on a `fail` response                        |
| drop=<n>       | the create stream's connection is cut after n text deltas                |
| stall=<ms>     | pause once, in the middle of the reply                                   |
| error          | an `error` event mid-stream; the interaction ends `failed`               |
| malformed      | one frame whose data is not JSON, mid-stream                             |
| huge=<chars>   | one text delta of that many characters (<= 5000000)                      |
| unknown_step   | also emit a step of a type the API has not defined                       |
| hostile        | every text field the emulator makes up carries XSS payloads (hostile.py) |
| code_error     | the code of a code_execution step raises (the result has is_error: true) |
| call=<name>    | call this function, even one not declared (a model may name a tool it    |
|                | was not offered)                                                         |
| hop_words=<n>  | per-hop decode limit in words (server default 20000): longer foreground |
|                | model replies end `requires_continuation` with a continuation_token      |
|                | (background and agent runs are continued by the server itself)           |
| echo           | the reply text is the message itself, directives removed, its lines kept |
|                | (streams given Markdown, e.g. for the live-formatting tests)             |
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN_RE = re.compile(r"\[emulator:([A-Za-z_][A-Za-z0-9_]*)(?:=([^\]\s]*))?\]")
FAIL_RE = re.compile(r"^(\d{3})(?:[xX*](\d+))?$")

MAX_WORDS = 200_000
MAX_HUGE = 5_000_000
MAX_DELAY_MS = 600_000
MAX_FAIL_COUNT = 1_000
DEFAULT_HOP_WORDS = 20_000  # the server's default; Emulator(hop_words=...) changes it


@dataclass(frozen=True)
class Directives:
    pace_ms: float | None = None
    words: int | None = None
    delta_words: int = 1
    fail_status: int | None = None
    fail_count: int = 1
    retry_after: int | None = None
    drop_after: int | None = None
    stall_ms: float | None = None
    error: bool = False
    malformed: bool = False
    huge: int | None = None
    unknown_step: bool = False
    hostile: bool = False
    code_error: bool = False
    call: str | None = None
    echo: str | None = None
    hop_words: int | None = None  # None: the server's limit
    # Every token seen, known or not: {key: value-or-None}.
    raw: dict[str, str | None] = field(default_factory=dict)

    def for_continuation(self) -> Directives:
        """What a continuation hop, or a turn that only answers function calls, keeps of the
        directives in force: pacing and content, not the faults."""
        return Directives(
            pace_ms=self.pace_ms,
            delta_words=self.delta_words,
            hostile=self.hostile,
            hop_words=self.hop_words,
            raw=self.raw,
        )

    @property
    def any_mid_stream(self) -> bool:
        return bool(self.stall_ms or self.error or self.malformed or self.huge is not None)


def _int(value: str | None, low: int, high: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return max(low, min(high, number))


def _ms(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if number != number:  # NaN
        return None
    return max(0.0, min(float(MAX_DELAY_MS), number))


def parse(text: str | None) -> Directives:
    """Parse every ``[emulator:...]`` token in ``text``."""
    if not text or "[emulator:" not in text:
        return Directives()
    raw: dict[str, str | None] = {}
    for token in TOKEN_RE.finditer(text):
        raw[token.group(1).lower()] = token.group(2)

    values: dict[str, object] = {}
    if "pace" in raw:
        values["pace_ms"] = _ms(raw["pace"])
    if "words" in raw:
        values["words"] = _int(raw["words"], 0, MAX_WORDS)
    if "delta_words" in raw:
        values["delta_words"] = _int(raw["delta_words"], 1, MAX_WORDS) or 1
    if raw.get("fail"):
        match = FAIL_RE.match(raw["fail"] or "")
        if match and 400 <= int(match.group(1)) <= 599:
            values["fail_status"] = int(match.group(1))
            values["fail_count"] = _int(match.group(2), 0, MAX_FAIL_COUNT) or (
                0 if match.group(2) else 1
            )
    if "retry_after" in raw:
        values["retry_after"] = _int(raw["retry_after"], 0, 3600)
    if "drop" in raw:
        values["drop_after"] = _int(raw["drop"], 1, 10 * MAX_WORDS)
    if "stall" in raw:
        values["stall_ms"] = _ms(raw["stall"])
    if "error" in raw:
        values["error"] = True
    if "malformed" in raw:
        values["malformed"] = True
    if "huge" in raw:
        values["huge"] = _int(raw["huge"], 1, MAX_HUGE)
    if "unknown_step" in raw:
        values["unknown_step"] = True
    if "hostile" in raw:
        values["hostile"] = True
    if "code_error" in raw:
        values["code_error"] = True
    if raw.get("call"):
        values["call"] = raw["call"]
    if "hop_words" in raw:
        values["hop_words"] = _int(raw["hop_words"], 1, MAX_WORDS)
    if "echo" in raw:
        values["echo"] = TOKEN_RE.sub("", text).strip()
    values = {key: value for key, value in values.items() if value is not None}
    return Directives(raw=raw, **values)  # type: ignore[arg-type]


def remove_tokens(text: str) -> str:
    """The text without directive tokens, whitespace collapsed."""
    return " ".join(TOKEN_RE.sub(" ", text).split())
