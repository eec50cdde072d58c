"""Import a conversation from its JSON export (exports.py): bounded, validated, all or nothing.

The imported turns keep their words and steps (rendered by the same sanitising renderer as
any other), but not their interaction ids: those belong to another account or have expired.
So the next message sends the conversation so far as steps (services._prepare), and the
chain starts again from its reply.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext, ngettext

from . import branches, limits
from .attachments import human_size
from .conversations import clean_title
from .exports import FORMAT
from .forms import API_TOOLS, THINKING_LEVELS, THINKING_SUMMARIES
from .models import Conversation, Turn

MAX_BYTES = 20 * 1024 * 1024
MAX_TURNS = 2000
MAX_BLOCKS = 100
MAX_INSTRUCTION = 20_000
IMPORTED = "imported"  # marks the turns in Turn.request


class ImportRefused(ValueError):
    """The file is not a conversation we can take; the message says why."""


def read(upload) -> dict:
    if upload is None:
        raise ImportRefused(gettext("Choose a JSON file exported from chatsite."))
    if upload.size > MAX_BYTES:
        raise ImportRefused(
            gettext("That file is %(size)s; the limit is %(limit)s.")
            % {"size": human_size(upload.size), "limit": human_size(MAX_BYTES)}
        )
    try:
        data = json.loads(upload.read())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ImportRefused(
            gettext("That file is not JSON. Export a conversation as JSON first.")
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportRefused(
            gettext(
                "That JSON is not a chatsite conversation export "
                "(its “format” is not “%(format)s”)."
            )
            % {"format": FORMAT}
        )
    return data


def _settings(raw) -> dict:
    """Only settings a person could pick in the composer, checked the same way."""
    raw = raw if isinstance(raw, dict) else {}
    kept: dict = {}
    text = raw.get("system_instruction")
    if isinstance(text, str) and text.strip():
        kept["system_instruction"] = text[:MAX_INSTRUCTION]
    tools = raw.get("tools")
    allowed = {value for value, _ in API_TOOLS}
    if isinstance(tools, list):
        kept["tools"] = [t for t in tools if isinstance(t, str) and t in allowed] or None
    for key, choices in (
        ("thinking_level", THINKING_LEVELS),
        ("thinking_summaries", THINKING_SUMMARIES),
    ):
        value = raw.get(key)
        if isinstance(value, str) and value in {v for v, _ in choices if v}:
            kept[key] = value
    return {k: v for k, v in kept.items() if v}


def _user_input(blocks, number: int) -> list[dict]:
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise ImportRefused(
            gettext("Turn %(number)d: its message is not a list of at most %(limit)d parts.")
            % {"number": number, "limit": MAX_BLOCKS}
        )
    kept = []
    for block in blocks:
        if not isinstance(block, dict):
            raise ImportRefused(
                gettext("Turn %(number)d: a part of its message is not an object.")
                % {"number": number}
            )
        if "attachment" in block:
            # The file belonged to the exporting account and is not in the export.
            name = name if isinstance(name := block.get("name"), str) else "file"
            kept.append({"type": "text", "text": f"[attached file: {name[:200]}]"})
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            kept.append({"type": "text", "text": block["text"]})
        elif block.get("type") in ("image", "audio", "video", "document") and isinstance(
            block.get("data"), str
        ):
            kept.append(block)
    return kept


def _turn(raw, number: int) -> Turn:
    if not isinstance(raw, dict):
        raise ImportRefused(gettext("Turn %(number)d is not an object.") % {"number": number})
    steps = raw.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise ImportRefused(
            gettext("Turn %(number)d: “steps” is not a list of steps.") % {"number": number}
        )
    if not all(isinstance(s.get("type"), str) for s in steps):
        raise ImportRefused(gettext("Turn %(number)d: a step has no “type”.") % {"number": number})
    status = raw.get("status")
    if not isinstance(status, str) or status not in Turn.FINAL:
        status = Turn.Status.INCOMPLETE  # it never finished where it came from
    usage = raw.get("usage") if isinstance(raw.get("usage"), dict) else {}
    error = raw.get("error") if isinstance(raw.get("error"), dict) else None
    model = model if isinstance(model := raw.get("model"), str) else ""
    turn = Turn(
        status=status, model=model[:100], user_input=_user_input(raw.get("user_input"), number),
        steps=steps, usage=usage, error=error, request={IMPORTED: True},
    )  # fmt: skip
    turn.refresh_search_text()
    turn.total_tokens = 0  # spent by someone, some day: not today's budget
    return turn


def import_conversation(user, upload) -> Conversation:
    """A new conversation of `user` from an uploaded export, or ImportRefused (nothing saved)."""
    data = read(upload)
    raw_turns = data.get("turns")
    if not isinstance(raw_turns, list) or not raw_turns:
        raise ImportRefused(gettext("That export has no turns."))
    if len(raw_turns) > MAX_TURNS:
        raise ImportRefused(
            ngettext(
                "That export has %(count)s turn; the limit is %(limit)s.",
                "That export has %(count)s turns; the limit is %(limit)s.",
                len(raw_turns),
            )
            % {"count": f"{len(raw_turns):,}", "limit": f"{MAX_TURNS:,}"}
        )
    turns = [_turn(raw, n) for n, raw in enumerate(raw_turns, start=1)]
    model = data.get("model")
    if not isinstance(model, str) or model not in limits.allowed_models():
        model = settings.GEMINI_MODEL
    title = clean_title(title if isinstance(title := data.get("title"), str) else "", 200)
    with transaction.atomic():
        convo = Conversation.objects.create(
            owner=user, title=title or "Imported conversation", model=model,
            title_by=Conversation.TitleBy.PERSON, settings=_settings(data.get("settings")),
        )  # fmt: skip
        convo.branch = _save_versions(convo, raw_turns, turns, data.get("branch"))
        convo.save(update_fields=["branch"])
    return convo


def _old_id(raw, key):
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _save_versions(convo, raw_turns, turns, branch) -> dict:
    """Save the turns, each after the turn it followed in the export (its versions stay
    versions); returns the choice that puts the export's branch on screen. A turn that names
    no earlier turn (an older export, or a hand-made one) follows the turn before it."""
    new: dict[int, Turn] = {}
    firsts = []
    previous = None
    for raw, turn in zip(raw_turns, turns, strict=True):
        named = _old_id(raw, "parent_turn") if "parent_turn" in raw else _old_id(raw, "parent_id")
        another_first = "parent_turn" in raw and named is None and previous is not None
        turn.conversation = convo
        turn.parent = None if another_first else previous
        if named in new:
            turn.parent = new[named]
        turn.save()
        if another_first:
            firsts.append(turn.pk)
        if (old := _old_id(raw, "id")) is not None:
            new[old] = turn
        previous = turn
    choice: dict = {branches.FIRSTS: firsts} if firsts else {}
    branch = branch if isinstance(branch, list) else []
    shown = [new[pk] for pk in branch if isinstance(pk, int) and pk in new]
    if shown:
        tree = branches.Tree([(t.pk, t.parent_id) for t in turns], choice)
        choice = tree.choosing(shown[-1].pk)
    return choice
