"""Structured output: the JSON schema a turn asked for, and each answer's verdict against it.

The person writes the schema, so checking an answer runs their regular expressions: that is
done once, off the event loop, with the safe engine (chatsite/safeschema.py), when the answer's
step stops; the verdict is kept on the turn (`Turn.schema_verdicts`, keyed by a digest of the
answer's text) and every page — the live stream, the conversation, the admin's transcript —
only reads it. A turn saved before verdicts were kept shows its JSON with no verdict.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterable

from chatsite import safeschema

log = logging.getLogger(__name__)


def schema_of(response_format) -> dict | None:
    """The JSON schema of a turn's `response_format` ({} for JSON with no schema), or None."""
    formats = response_format if isinstance(response_format, list) else [response_format]
    for fmt in formats:
        if isinstance(fmt, dict) and fmt.get("mime_type") == "application/json":
            return fmt.get("schema") if isinstance(fmt.get("schema"), dict) else {}
    return None


def answer_text(step) -> str | None:
    """The text of a model_output that is shown as structured JSON (text blocks only)."""
    if not isinstance(step, dict) or step.get("type") != "model_output":
        return None
    content = c if isinstance(c := step.get("content"), list) else []
    if not all(isinstance(b, dict) and b.get("type") == "text" for b in content):
        return None
    return "".join(b["text"] for b in content if isinstance(b.get("text"), str))


def key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def _check(text: str, schema: dict) -> dict | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None  # not JSON: the page says so without any schema
    return safeschema.check(value, schema)


async def check_answers(steps: Iterable[dict], response_format, known: dict | None) -> dict:
    """Verdicts for the structured answers among `steps`: the ones in `known` are kept, the
    others are checked in a worker thread. Verdicts of texts no longer shown are dropped
    (an answer continued over hops is checked again as a whole)."""
    schema = schema_of(response_format)
    known = known if isinstance(known, dict) else {}
    if schema is None:
        return known
    verdicts = {}
    for step in steps:
        text = answer_text(step)
        if text is None:
            continue
        digest = key(text)
        if digest in known:
            verdicts[digest] = known[digest]
        elif digest not in verdicts:
            try:
                verdict = await asyncio.to_thread(_check, text, schema)
            except Exception:  # e.g. no worker thread while the process stops: no verdict
                log.exception("could not check a structured answer")
                continue
            if verdict is not None:
                verdicts[digest] = verdict
    return verdicts
