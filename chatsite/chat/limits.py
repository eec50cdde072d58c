"""Team controls on sending: a per-person message rate, a daily token budget, the model list.

Each refusal is a `LimitReached` whose text tells the person what happened and when they can
go on; nothing they typed is lost (the composer keeps it).
"""

import math
import time

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


# person id → when (time.monotonic) the rate lets them send again, for those this process has
# seen refused: they are refused again without a round trip, and without a request upstream.
_over_until: dict[int, float] = {}


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
        wait = max(1, int(usage.get("time_left") or 1))
        _over_until[user.pk] = time.monotonic() + wait
        raise _refusal(rate, wait)


def check_rate_seen(user) -> None:
    """Without counting or any I/O: refuses a person this process has seen go over the rate,
    until their window ends (check_rate counts; it may be a round trip to Redis)."""
    until = _over_until.get(user.pk)
    if until is None:
        return
    left = until - time.monotonic()
    if left <= 0 or not settings.RATE_LIMIT_MESSAGES:
        _over_until.pop(user.pk, None)
        return
    raise _refusal(settings.RATE_LIMIT_MESSAGES, max(1, math.ceil(left)))


def _refusal(rate: str, wait: int) -> LimitReached:
    count, _, unit = rate.partition("/")
    sentence = PERIODS.get(unit[-1:], PERIODS["m"])
    again = ngettext("Try again in %(n)s second.", "Try again in %(n)s seconds.", wait)
    return LimitReached(f"{gettext(sentence) % {'count': count}} {again % {'n': wait}}")


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


def check_can_send(user, model: str, *, count: bool = True) -> None:
    """Everything a message must pass before it is saved. Sync: call via sync_to_async.
    `count=False`: the rate is only checked as far as this process knows (check_rate_seen);
    the caller counts it with check_rate before saving."""
    check_model(model)
    check_budget(user)
    if count:
        check_rate(user)
    else:
        check_rate_seen(user)
