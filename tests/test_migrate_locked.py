"""Containers that start together on one PostgreSQL database migrate one at a time: the first
applies the migrations, the others wait for it and find nothing to do. (Plain `migrate` run
twice at once fails: both create the same tables.)"""

import os
import subprocess
import sys

import pytest

from .servers import ROOT, fresh_postgres_database

pytestmark = pytest.mark.services

if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    reason = "needs DATABASE_URL=postgres://… (CI's second run sets it)"
    if os.environ.get("CHATSITE_REQUIRE_SERVICES") == "1":
        raise RuntimeError(reason)
    pytest.skip(reason, allow_module_level=True)


def test_three_starts_at_once_on_a_fresh_database_all_succeed_and_one_migrates(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": fresh_postgres_database("chatsite_migrate_locked"),
        "CHATSITE_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "migrate-locked-test",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    starts = [
        subprocess.Popen(
            [sys.executable, "manage.py", "migrate_locked"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for _ in range(3)
    ]
    outputs = [start.communicate(timeout=110)[0] for start in starts]
    assert [start.returncode for start in starts] == [0, 0, 0], "\n".join(outputs)
    assert sum("Applying chat.0001_initial... OK" in out for out in outputs) == 1, outputs
