"""Activity blocks: a run of consecutive thought and tool steps shown as one collapsible line
("Researched · 3 searches"), each step inside still its own disclosure.

The summary is built from the step types alone. static/chatsite/activity.js builds the same
words in the browser while a reply streams (keep the two in step: ACTIVITY_WORDS there), and
adds durations it measured itself; the API gives steps no timestamps, so a saved turn's summary
names no duration rather than invent one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

# A step whose type is here counts towards that noun in the summary.
COUNTED = {
    "google_search_call": "search",
    "google_maps_call": "search",
    "file_search_call": "search",
    "retrieval_call": "search",
    "url_context_call": "read",
    "code_execution_call": "run",
    "function_call": "tool",
    "mcp_server_tool_call": "tool",
}
# In summary order: (noun, "N of them", past verb, running verb). The first noun present names
# the verb; a run of thoughts alone is "Thought" / "Thinking". Translated when used; the browser
# gets the same words (context.SCRIPT_TEXT and SCRIPT_PLURALS).
NOUNS = (
    ("search", ngettext_lazy("%(count)s search", "%(count)s searches", "count"),
     _("Researched"), _("Researching")),
    ("read", ngettext_lazy("%(count)s page read", "%(count)s page reads", "count"),
     _("Read pages"), _("Reading pages")),
    ("run", ngettext_lazy("%(count)s run", "%(count)s runs", "count"),
     _("Ran code"), _("Running code")),
    ("tool", ngettext_lazy("%(count)s tool call", "%(count)s tool calls", "count"),
     _("Used tools"), _("Using tools")),
)  # fmt: skip
THOUGHT_VERBS = (_("Thought"), _("Thinking"))
OTHER_VERBS = (_("Worked"), _("Working"))


def is_activity(step) -> bool:
    """Every step but the answer is activity: thoughts, tool calls and results, unknown steps."""
    return not (isinstance(step, dict) and step.get("type") == "model_output")


def summary_text(types: list[str], *, running: bool) -> str:
    counts: dict[str, int] = {}
    for kind in types:
        noun = COUNTED.get(kind)
        if noun:
            counts[noun] = counts.get(noun, 0) + 1
    parts = [
        str(words % {"count": counts[noun]}) for noun, words, _, _ in NOUNS if counts.get(noun)
    ]
    verbs = next(
        ((past, now) for noun, _, past, now in NOUNS if counts.get(noun)),
        THOUGHT_VERBS if "thought" in types else OTHER_VERBS,
    )
    return " · ".join([str(verbs[1] if running else verbs[0]), *parts])


@dataclass
class Activity:
    types: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    # Per step: it must stay in sight (Google's search suggestions), so once the block closes
    # it is shown right after it instead of inside.
    in_sight: list[bool] = field(default_factory=list)

    def add(self, kind: str, html: str, *, in_sight: bool) -> None:
        self.types.append(kind)
        self.html.append(html)
        self.in_sight.append(in_sight)


def render_activity(activity: Activity, *, answered: bool, running: bool) -> SafeString:
    """One block around the steps' HTML: closed once an answer follows it, open while it is the
    last thing in a reply; "…ing" while the reply runs and no answer has started."""
    running = running and not answered
    pairs = list(zip(activity.html, activity.in_sight, strict=True))
    inside = [h for h, keep in pairs if not (answered and keep)]
    after = [h for h, keep in pairs if answered and keep]
    html = render_to_string(
        "chat/steps.html#activity",
        {
            "summary": summary_text(activity.types, running=running),
            "steps_html": mark_safe("".join(inside)),  # noqa: S308 - rendered steps
            "open": not answered,
            "running": running,
        },
    )
    return mark_safe(html + "".join(after))  # noqa: S308 - rendered by autoescaping templates
