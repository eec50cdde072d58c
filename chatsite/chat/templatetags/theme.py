from django import template
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from chatsite.chat.models import Account

register = template.Library()

# The quick toggle's cycle; the settings page offers the same three.
CYCLE = [Account.Theme.SYSTEM, Account.Theme.LIGHT, Account.Theme.DARK]
ICONS = {Account.Theme.SYSTEM: "system", Account.Theme.LIGHT: "sun", Account.Theme.DARK: "moon"}
LABELS = {
    Account.Theme.SYSTEM: _("System"),
    Account.Theme.LIGHT: _("Light"),
    Account.Theme.DARK: _("Dark"),
}


def following(theme: str) -> str:
    """The theme after this one in the toggle's cycle (system → light → dark → system)."""
    order = [str(t) for t in CYCLE]
    return order[(order.index(theme) + 1) % len(order)] if theme in order else order[0]


@register.inclusion_tag("chat/theme_toggle.html", takes_context=True)
def theme_toggle(context):
    """The sidebar's theme button: shows the person's theme, submits the next one."""
    request = context.get("request")
    signed_in = request is not None and request.user.is_authenticated
    current = str(Account.for_user(request.user).theme) if signed_in else str(CYCLE[0])
    return {
        "action": reverse("theme"),
        "csrf_token": context.get("csrf_token"),
        "current": current,
        "next": following(current),
        "choices": [(str(t), LABELS[t], ICONS[t]) for t in CYCLE],
    }
