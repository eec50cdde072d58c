"""Compile the translation catalogs (locale/*/LC_MESSAGES/*.po → .mo) with polib, pure Python.

Django's own `compilemessages` needs GNU gettext's msgfmt; this runs on a fresh machine and in
the image's build stage. `make run`, `make test` and the Dockerfile call it; the .mo files are
build output (gitignored), so a catalog and its compiled form can never disagree in git.
"""

import os
from pathlib import Path

import polib  # type: ignore[import-untyped]  # no stubs; one call
from django.conf import settings
from django.core.management.base import BaseCommand


def compile_all(paths=None) -> list[Path]:
    """Every .po under the LOCALE_PATHS compiled beside itself when it is newer than its .mo.
    Written to a temporary name and renamed, so a running server never reads half a file."""
    written = []
    for root in paths or settings.LOCALE_PATHS:
        for po in sorted(Path(root).glob("*/LC_MESSAGES/*.po")):
            mo = po.with_suffix(".mo")
            if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
            tmp = mo.with_name(f".{mo.name}.{os.getpid()}")
            polib.pofile(str(po)).save_as_mofile(str(tmp))
            os.replace(tmp, mo)
            written.append(mo)
    return written


class Command(BaseCommand):
    help = "Compile the translation catalogs (.po → .mo) without GNU gettext."

    def handle(self, *args, **options):
        written = compile_all()
        if options["verbosity"] > 1 or written:
            self.stdout.write(f"Compiled {len(written)} catalog(s).")
