"""`migrate`, one process at a time: when several containers start at once on PostgreSQL, the
first takes an advisory lock and migrates; the others wait for it, then find nothing to do."""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

LOCK_KEY = 0x63686174  # any fixed number every process agrees on ("chat")


class Command(BaseCommand):
    help = (
        "Apply migrations; on PostgreSQL under an advisory lock, so concurrent starts take turns."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait", type=float, default=60, help="Seconds to wait for the database to answer."
        )

    def handle(self, *args, wait, verbosity, **options):
        # A connection of its own holds the lock, so nothing migrate does with the default
        # connection can let it go early; the lock also ends with this process.
        holder = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            self._connect(holder, wait)
            if holder.vendor == "postgresql":
                with holder.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
            call_command("migrate", interactive=False, verbosity=verbosity)
        finally:
            holder.close()  # closing the session releases the lock

    def _connect(self, holder, wait: float) -> None:
        """A database that is still starting (as beside a container) gets `wait` seconds."""
        deadline = time.monotonic() + wait
        while True:
            try:
                holder.ensure_connection()
                return
            except OperationalError as exc:
                if time.monotonic() >= deadline:
                    raise CommandError(f"the database did not answer in {wait:g} s: {exc}")
                self.stderr.write(f"waiting for the database: {exc}")
                time.sleep(1)
