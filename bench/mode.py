"""One set-up (`defaults` or `postgres`), every scenario: `python -m bench.mode --mode M --out F`.

Runs in its own process because Django's settings (database, channel layer) are fixed once per
process. It starts the emulator, migrates a fresh database, starts daphne, runs the scenarios in
order, stops everything it started and writes the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import PROFILES, Profile
from bench.servers import (
    Proc,
    app_env,
    start_daphne,
    start_emulator,
    tail,
    wait_for_quiet,
)

SCENARIOS = ("ttft", "relay", "bytes", "dbwrites", "page", "memory", "search", "scaleout")


@dataclass
class Context:
    """What a scenario gets: the running processes, addresses and a signed-in user."""

    mode: str
    profile: Profile
    var_dir: Path
    env: dict[str, str]
    emulator: Proc
    emulator_url: str  # …/v1beta
    daphne: Proc
    app_url: str
    user: object = None
    cookie: str = ""
    notes: list[str] = field(default_factory=list)

    def start_daphne(self, name: str) -> tuple[Proc, str]:
        return start_daphne(self.env, self.var_dir, name)


MODULES = {"bytes": "bytes_per_char"}


def _scenario(name: str):
    import importlib

    if "." in name:  # a module of your own with a run(ctx), e.g. for a one-off diagnosis
        return importlib.import_module(name)
    return importlib.import_module(f"bench.scenarios.{MODULES.get(name, name)}")


def _save(path: str, results: dict) -> None:
    Path(path).write_text(json.dumps(results, indent=1, default=str))


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _versions() -> dict:
    from importlib.metadata import version

    from django.db import connection

    found = {name: version(name) for name in ("Django", "channels", "daphne")}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            found["PostgreSQL"] = cursor.fetchone()[0].split()[0]
    else:
        import sqlite3

        found["SQLite"] = sqlite3.sqlite_version
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        import redis

        found["Redis"] = redis.Redis.from_url(redis_url).info("server")["redis_version"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True)
    parser.add_argument("--profile", default="full", choices=sorted(PROFILES))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    names = [s for s in args.scenarios.split(",") if s]

    var_dir = Path(tempfile.mkdtemp(prefix=f"chatsite-bench-{args.mode}-"))
    results: dict = {"mode": args.mode, "profile": profile.name, "scenarios": {}}
    emulator = daphne = None
    try:
        emulator, emulator_url = start_emulator(var_dir)
        env = app_env(args.mode, var_dir, emulator_url)
        os.environ.update(env)  # before Django reads its settings
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        call_command("collectstatic", verbosity=0, interactive=False)  # as `make run` does
        from bench import clients

        clients.MODEL = settings.GEMINI_MODEL
        results["database"] = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        results["channel_layer"] = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
        results["stream_flush_ms"] = settings.STREAM_FLUSH_MS
        results["versions"] = _versions()
        results["load_before"] = _loadavg()
        daphne, app_url = start_daphne(env, var_dir)

        from bench import fixtures

        user = fixtures.make_user("bench")
        ctx = Context(
            mode=args.mode,
            profile=profile,
            var_dir=var_dir,
            env=env,
            emulator=emulator,
            emulator_url=emulator_url,
            daphne=daphne,
            app_url=app_url,
            user=user,
            cookie=fixtures.session_cookie(user),
        )
        for name in names:
            quiet = wait_for_quiet()
            started = time.monotonic()
            print(f"[{args.mode}] {name} … (machine {quiet['busy_percent']} % busy)", flush=True)
            # What a set-up stopped for taking too long leaves: an error row, not no row.
            results["scenarios"][name] = {"error": "not finished: the set-up ran out of time"}
            _save(args.out, results)
            try:
                outcome = _scenario(name).run(ctx)
            except Exception:
                outcome = {"error": traceback.format_exc(limit=8)}
                print(outcome["error"], flush=True)
                if daphne.popen.poll() is not None:
                    outcome["daphne_log"] = tail(daphne.log_path)
            outcome["seconds"] = round(time.monotonic() - started, 1)
            outcome["machine_before"] = quiet
            results["scenarios"][name] = outcome
            _save(args.out, results)  # a set-up stopped for taking too long keeps what it has
            print(f"[{args.mode}] {name} done in {outcome['seconds']} s", flush=True)
        results["daphne_log_tail"] = tail(daphne.log_path, 15)
        results["load_after"] = _loadavg()
    finally:
        for proc in (daphne, emulator):
            if proc is not None:
                proc.stop()
        _save(args.out, results)
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
