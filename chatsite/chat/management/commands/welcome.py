import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import translation
from django.utils.translation import gettext as _


def shell_language() -> str:
    """The terminal's language (LANGUAGE, LC_ALL, LC_MESSAGES, LANG: `he_IL.UTF-8` → `he`),
    when the site speaks it; else the site's default."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        code = os.environ.get(name, "").split(":")[0].split(".")[0].split("_")[0].lower()
        if code in dict(settings.LANGUAGES):
            return code
    return settings.LANGUAGE_CODE


class Command(BaseCommand):
    help = "Print how to reach and sign in to this chatsite."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, url, **options):
        with translation.override(shell_language()):
            lines = self.lines(url)
        width = max(len(line) for line in lines)
        self.stdout.write("┌" + "─" * (width + 2) + "┐")
        for line in lines:
            self.stdout.write(f"│ {line.ljust(width)} │")
        self.stdout.write("└" + "─" * (width + 2) + "┘")

    def lines(self, url) -> list[str]:
        users = get_user_model().objects.count()
        lines = [_("chatsite is starting on %(url)s") % {"url": url}]
        if settings.GEMINI_EMULATED:
            lines.append(
                _("Offline: no GEMINI_API_KEY, so replies come from the built-in emulator.")
            )
        if settings.ALLOW_SIGNUP:
            lines.append(
                _("Sign in at %(login)s — or create an account at %(signup)s")
                % {"login": f"{url}accounts/login/", "signup": f"{url}accounts/signup/"}
            )
        else:
            lines.append(
                _("Sign in at %(login)s (sign-up is off).") % {"login": f"{url}accounts/login/"}
            )
        if not users:
            lines.append(_("No accounts yet. For an admin account: make superuser"))
        return lines
