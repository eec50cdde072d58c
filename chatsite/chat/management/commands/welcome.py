from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print how to reach and sign in to this chatsite."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, url, **options):
        users = get_user_model().objects.count()
        lines = [f"chatsite is starting on {url}"]
        if settings.GEMINI_EMULATED:
            lines.append("Offline: no GEMINI_API_KEY, so replies come from the built-in emulator.")
        if settings.ALLOW_SIGNUP:
            lines.append(
                f"Sign in at {url}accounts/login/ — or create an account at {url}accounts/signup/"
            )
        else:
            lines.append(f"Sign in at {url}accounts/login/ (sign-up is off).")
        if not users:
            lines.append("No accounts yet. For an admin account: make superuser")
        width = max(len(line) for line in lines)
        self.stdout.write("┌" + "─" * (width + 2) + "┐")
        for line in lines:
            self.stdout.write(f"│ {line.ljust(width)} │")
        self.stdout.write("└" + "─" * (width + 2) + "┘")
