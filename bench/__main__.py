"""`python -m bench` (`make bench`): every scenario on the embedded defaults (SQLite + in-memory
channel layer) and on PostgreSQL + Redis, then one table.

    python -m bench                                  # both set-ups, full counts
    python -m bench --only defaults --quick          # one set-up, smaller counts
    python -m bench --scenarios ttft,relay           # a subset
    python -m bench --write docs/benchmarks.md       # also regenerate the results in the doc

Each set-up runs in its own process (bench/mode.py) with its own temporary directory, emulator
and daphne; the PostgreSQL database `chatsite_bench` is created before and dropped after.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import report, servers
from bench.config import PROFILES
from bench.mode import SCENARIOS


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        total_kib = int(f.readline().split()[1])
    return (
        f"{os.cpu_count()} × {model}, {total_kib / 1024 / 1024:.1f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )


def commit(ref: str | None) -> str:
    if ref:
        found = subprocess.run(
            ["git", "rev-parse", "--short", ref],
            cwd=servers.ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return f"`{found}` (`--app-ref {ref}`: a clean snapshot of that commit)"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=servers.ROOT, capture_output=True,
            text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "chatsite", "templates", "static"],
            cwd=servers.ROOT, capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        return f"`{head}`" + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def shown_args(argv: list[str]) -> list[str]:
    """The command line as the report shows it (without where raw results were saved)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json="):
            out.append(arg)
    return out


def run_mode(mode: str, profile: str, scenarios: list[str], timeout: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="chatsite-bench-") as tmp:
        out = Path(tmp) / "results.json"
        args = [sys.executable, "-m", "bench.mode", "--mode", mode, "--profile", profile,
                "--scenarios", ",".join(scenarios), "--out", str(out)]  # fmt: skip
        child = subprocess.Popen(
            args, cwd=servers.app_root(), env=servers.child_env(dict(os.environ))
        )
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            # SIGINT: the set-up stops its daphne and emulator and keeps the finished scenarios.
            print(f"[{mode}] stopped after {timeout} s", flush=True)
            child.send_signal(signal.SIGINT)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        except BaseException:
            child.send_signal(signal.SIGINT)
            child.wait(30)
            raise
        if not out.exists():
            return {"mode": mode, "scenarios": {"run": {"error": "the set-up's process died"}}}
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="chatsite's benchmarks, on SQLite + in-memory layer and PostgreSQL + Redis.",
    )
    parser.add_argument("--only", choices=sorted(servers.MODES), action="append",
                        help="run only this set-up (repeatable)")  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="smaller counts (about 4 min for both set-ups)"
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)}")  # fmt: skip
    parser.add_argument("--write", type=Path, help="regenerate the results in this markdown file")
    parser.add_argument("--json", type=Path, help="also save the raw results here")
    parser.add_argument("--app-ref", metavar="REF",
                        help="bench a clean snapshot of this git commit (git archive) instead of "
                        "the working tree")  # fmt: skip
    args = parser.parse_args()
    profile = PROFILES["quick" if args.quick else "full"]
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    snapshot = None
    if args.app_ref:
        snapshot = tempfile.TemporaryDirectory(prefix="chatsite-bench-app-")
        archive = subprocess.run(["git", "archive", args.app_ref], cwd=servers.ROOT,
                                 capture_output=True, check=True, timeout=60).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", snapshot.name], input=archive, check=True)
        os.environ["BENCH_APP_ROOT"] = snapshot.name
    try:
        run_all(args, profile, scenarios)
    finally:
        if snapshot is not None:
            snapshot.cleanup()


def run_all(args, profile, scenarios) -> None:
    started = time.monotonic()
    all_results: dict = {}
    for mode in args.only or list(servers.MODES):
        if mode == "postgres":
            missing = servers.services_available()
            if missing:
                print(f"[postgres] skipped: nothing answers at {missing}", flush=True)
                continue
            servers.create_postgres_db()
        try:
            all_results[mode] = run_mode(mode, profile.name, scenarios, profile.mode_timeout_s)
        finally:
            if mode == "postgres":
                servers.drop_postgres_db()

    rows = [row for mode, r in all_results.items() for row in report.rows_for(mode, r)]
    print()
    print(report.plain(rows))
    seconds = time.monotonic() - started
    print(f"\n{len(rows)} rows in {seconds:.0f} s")
    meta = {
        "command": " ".join(["python -m bench", *shown_args(sys.argv[1:])]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "profile": profile.name,
        "seconds": seconds,
        "commit": commit(args.app_ref),
        "machine": machine(),
    }
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": all_results}, indent=1))
    if args.write:
        report.write_doc(args.write, report.generated_section(meta, all_results, rows))
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
