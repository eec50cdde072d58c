"""The htmx and JSON frames a turn sends to the tabs that watch it: whole-turn, assistant part,
meta line and status. Server-rendered from the same partials as the page."""

import json

from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.loader import render_to_string
from django.utils.translation import ngettext

from .models import Turn
from .templatetags.turn_actions import written_by


def oob_append(target: str, html: str) -> str:
    return f'<div hx-swap-oob="beforeend:#{target}">{html}</div>'


def oob_replace(html: str) -> str:
    # render_step's root element carries the id; htmx swaps the element with that id.
    return html.replace(">", ' hx-swap-oob="outerHTML">', 1)


def turn_added_frame(turn: Turn) -> str:
    """A new turn for the tabs. One of words only, with no other version and no clock to show,
    goes as `{"turn": [id, parent, words, model]}` (a few dozen bytes beside its words) and the
    tab draws it from its page's new-turn template, the partial below drawn for turn 0; any
    other as that partial's HTML."""
    if _plain(turn):
        parent = turn.parent_id if turn.parent_id is not None else ""
        payload = {"turn": [turn.pk, parent, turn.user_text, written_by(turn)]}
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    html = render_to_string("chat/conversation.html#turn", {"turn": turn}).strip()
    return oob_append("transcript", html)


def _plain(turn: Turn) -> bool:
    """Drawn from the new-turn template as it is: words only, pending, in the foreground, and
    the only version of itself (a new version's frame carries its "N / M")."""
    words = all(
        isinstance(b, dict) and b.get("type") == "text" and "attachment" not in b
        for b in turn.user_input or ()
    )
    return (
        words
        and turn.status == Turn.Status.PENDING
        and not turn.background
        and getattr(turn, "version", None) is None
    )


def status_frame(turn: Turn) -> str:
    return json.dumps({"status": [turn.pk, turn.status]}, separators=(",", ":"))


def meta_frame(turn: Turn, source_from: str | None = None) -> str:
    """The meta line; `source_from`: the tabs hold the answer's Markdown already, as the text
    of that live element (livemd.js), so "Copy" takes it from there, not a second copy here."""
    context = {"turn": turn, "source_from": source_from}
    return oob_replace(render_to_string("chat/conversation.html#turn-meta", context).strip())


def assistant_frame(turn: Turn) -> str:
    return oob_replace(render_to_string("chat/conversation.html#assistant", {"turn": turn}))


def finished_frame(turn: Turn, source_from: str) -> dict:
    """A completed answer's status with what its meta line needs (a few dozen bytes): the tab
    draws the line from its page's answer-actions template (chat.js finishMeta) — the same
    partial the page draws finished turns with. `source_from`: the live answer's element, whose
    text "Copy" takes."""
    total = (turn.usage or {}).get("total_tokens") or 0
    tokens = ""
    if isinstance(total, int) and total > 0:
        shown = intcomma(total)
        tokens = ngettext("%(shown)s token", "%(shown)s tokens", total) % {"shown": shown}
    return {"status": [turn.pk, turn.status], "meta": {"tokens": tokens, "source": source_from}}
