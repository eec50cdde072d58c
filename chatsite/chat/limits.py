"""Team controls on sending: a per-person message rate, a daily token budget, the model list.

Each refusal is a `LimitReached` whose text tells the person what happened and when they can
go on; nothing they typed is lost (the composer keeps it).
"""

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext
from django_ratelimit.core import get_usage

from .models import Turn


class LimitReached(ValueError):
    pass


# One whole sentence per period: languages decline "this minute" and "today" differently.
PERIODS = {
    "s": gettext_noop("You have sent %(count)s messages this second, the most allowed."),
    "m": gettext_noop("You have sent %(count)s messages this minute, the most allowed."),
    "h": gettext_noop("You have sent %(count)s messages this hour, the most allowed."),
    "d": gettext_noop("You have sent %(count)s messages today, the most allowed."),
}


def allowed_models() -> list[str]:
    return [*settings.GEMINI_MODELS, *settings.GEMINI_AGENTS]


def check_model(name: str) -> None:
    if name not in allowed_models():
        raise LimitReached(
            gettext(
                "“%(name)s” is not offered here any more. Pick another model for this conversation."
            )
            % {"name": name}
        )


def check_rate(user) -> None:
    """Counts this message; refuses it past RATE_LIMIT_MESSAGES."""
    rate = settings.RATE_LIMIT_MESSAGES
    if not rate:
        return
    usage = get_usage(
        None, group="chatsite.messages", key=lambda group, request: str(user.pk),
        rate=rate, increment=True,
    )  # fmt: skip
    if usage and usage["should_limit"]:
        count, _, unit = rate.partition("/")
        sentence = PERIODS.get(unit[-1:], PERIODS["m"])
        wait = max(1, int(usage.get("time_left") or 1))
        again = ngettext("Try again in %(n)s second.", "Try again in %(n)s seconds.", wait)
        raise LimitReached(f"{gettext(sentence) % {'count': count}} {again % {'n': wait}}")


def reserve_for(turn: Turn) -> int:
    """What a running reply holds of the budget until it settles: its output limit, else
    BUDGET_RESERVE_TOKENS. Counted so concurrent replies cannot all start against one budget."""
    generation = (turn.request or {}).get("generation_config") or {}
    limit = generation.get("max_output_tokens")
    if isinstance(limit, int) and limit > 0:
        return limit
    return settings.BUDGET_RESERVE_TOKENS


def tokens_used_today(user) -> int:
    """Tokens of today's finished turns, plus a reservation for each running one (settled, i.e.
    replaced by what it used, when it finishes)."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    today = Turn.objects.filter(conversation__owner=user, created_at__gte=midnight)
    used = today.filter(status__in=Turn.FINAL).aggregate(total=Sum("total_tokens"))["total"]
    running = today.exclude(status__in=Turn.FINAL).only("request", "total_tokens")
    reserved = sum(max(turn.total_tokens, reserve_for(turn)) for turn in running)
    return (used or 0) + reserved


def check_budget(user) -> None:
    budget = settings.DAILY_TOKEN_BUDGET
    if budget and tokens_used_today(user) >= budget:
        raise LimitReached(
            gettext(
                "You have used today's budget of %(budget)s tokens. "
                "It renews at midnight (%(zone)s)."
            )
            % {"budget": intcomma(budget), "zone": settings.TIME_ZONE}
        )


def check_can_send(user, model: str) -> None:
    """Everything a message must pass before it is saved. Sync: call via sync_to_async."""
    check_model(model)
    check_budget(user)
    check_rate(user)
