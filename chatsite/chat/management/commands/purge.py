"""`manage.py purge`: remove conversations older than RETENTION_DAYS (or --days), with their
media and attachments, and delete their interactions upstream. For cron; the app also runs it
daily by itself when RETENTION_DAYS is set."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chatsite.chat import retention


class Command(BaseCommand):
    help = "Remove conversations idle longer than RETENTION_DAYS (and their upstream data)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Override RETENTION_DAYS for this run.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be removed; remove nothing."
        )

    def handle(self, *args, days=None, dry_run=False, **options):
        days = settings.RETENTION_DAYS if days is None else days
        if days is not None and days < 0:
            raise CommandError("--days must be 0 (off) or more.")
        if not days:
            self.stdout.write("Retention is off (RETENTION_DAYS=0): nothing to purge.")
            return
        result = retention.purge(days, dry_run=dry_run)
        if dry_run:
            self.stdout.write(f"Would remove (idle over {days} days): {result.summary()}.")
            for pk in result.conversations:
                self.stdout.write(f"  conversation {pk}")
            return
        self.stdout.write(
            f"Removed (idle over {days} days): {result.summary()}; upstream "
            f"{result.upstream_deleted} deleted, {result.upstream_failed} failed."
        )
