"""Start and stop the processes under test (daphne, the emulator) and read their CPU and memory.

Everything listens on 127.0.0.1 only, on free ports, and is stopped by the bench itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository (and the bench package)
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

# The two set-ups every scenario runs on.
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Overridable, so that two benches on one machine do not share (and drop) one database.
POSTGRES_BENCH_DB = os.environ.get("BENCH_POSTGRES_DB", "chatsite_bench")
MODES = {
    "defaults": {},
    "postgres": {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{POSTGRES_BENCH_DB}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '1')}",
    },
}


def app_root() -> Path:
    """Where the app under test lives: the working tree, or a snapshot (`--app-ref`)."""
    return Path(os.environ.get("BENCH_APP_ROOT") or ROOT)


def child_env(env: dict[str, str]) -> dict[str, str]:
    """Children import `chatsite` from the app root and `bench` from here."""
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([str(app_root()), str(ROOT)]))
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), 0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{log.name} exited early:\n{tail(log)}") from None
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def app_env(mode: str, var_dir: Path, emulator_url: str) -> dict[str, str]:
    """The environment of the app under test (and of the bench process that shares its DB)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST", "DJANGO_", "GEMINI_", "DATABASE_URL", "REDIS_URL"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        CHATSITE_VAR_DIR=str(var_dir),
        SECRET_KEY="bench-secret-key-not-for-production-" + "x" * 20,
        GEMINI_API_BASE_URL=emulator_url,
        LOG_LEVEL="WARNING",
        DEBUG="false",
        PYTHONUNBUFFERED="1",
        # One bench user sends what a whole team would: keep the per-person rate check running
        # (same code path) but never refusing, and no daily token budget.
        RATE_LIMIT_MESSAGES="1000000/m",
        DAILY_TOKEN_BUDGET="0",
    )
    env.update(MODES[mode])
    return env


class Proc:
    """A child process we started, its log file, and its /proc figures."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args, cwd=app_root(), env=child_env(env), stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self.popen.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time so far (/proc/<pid>/stat fields 14 and 15)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()


class CpuMeter:
    """CPU share of a process over a window: `with CpuMeter(proc) as m: ...; m.percent`."""

    def __init__(self, proc: Proc | None = None):
        self.proc = proc

    def cpu_seconds(self) -> float:
        if self.proc is None:
            t = os.times()
            return t.user + t.system
        return self.proc.cpu_seconds()

    def __enter__(self) -> CpuMeter:
        self.t0, self.c0 = time.monotonic(), self.cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.monotonic() - self.t0
        self.cpu = self.cpu_seconds() - self.c0
        self.percent = 100 * self.cpu / self.wall if self.wall > 0 else 0.0


class SystemCpu:
    """Cores busy machine-wide over a window (/proc/stat), to tell our load from others'."""

    @staticmethod
    def busy_seconds() -> float:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return (sum(fields[:8]) - idle) / CLK_TCK

    def __enter__(self) -> SystemCpu:
        self.t0, self.b0 = time.monotonic(), self.busy_seconds()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.monotonic() - self.t0
        self.percent = 100 * (self.busy_seconds() - self.b0) / wall if wall > 0 else 0.0


class Interference:
    """CPU that processes other than ours took during a block (% of one core):
    `with Interference(daphne, emulator) as other: ...; other.percent`."""

    def __init__(self, *procs: Proc | None):
        self.meters = [CpuMeter(p) for p in procs if p is not None] + [CpuMeter(None)]

    def __enter__(self) -> Interference:
        self.machine = SystemCpu().__enter__()
        for m in self.meters:
            m.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for m in self.meters:
            m.__exit__(None, None, None)
        self.machine.__exit__(None, None, None)
        self.percent = max(0.0, self.machine.percent - sum(m.percent for m in self.meters))


_quiet_budget = {"left_s": 120.0}  # per process: at most this much waiting in all


def wait_for_quiet(threshold: float = 25.0, max_wait: float = 30.0) -> dict:
    """Latency figures mean little while other processes load this 2-core machine: wait (up to
    `max_wait` s, and 120 s per set-up in all) until the whole machine is under `threshold` % of
    one core busy for a second. Returns how busy it was and how long we waited."""
    started = time.monotonic()
    while True:
        with SystemCpu() as machine:
            time.sleep(1.0)
        waited = time.monotonic() - started
        if machine.percent <= threshold or waited >= max_wait or waited >= _quiet_budget["left_s"]:
            _quiet_budget["left_s"] = max(0.0, _quiet_budget["left_s"] - waited + 1.0)
            return {"busy_percent": round(machine.percent), "waited_s": round(waited)}


def start_emulator(log_dir: Path) -> tuple[Proc, str]:
    """The emulator as its own process (bench/emulator_proc.py: the real app, emit times kept)."""
    port = free_port()
    proc = Proc(
        "emulator",
        [sys.executable, "-m", "bench.emulator_proc", "--port", str(port)],
        {**os.environ, "PYTHONUNBUFFERED": "1"},
        log_dir,
    )
    wait_for_port(port, proc.popen, proc.log_path)
    return proc, f"http://{HOST}:{port}/v1beta"


def start_daphne(env: dict[str, str], log_dir: Path, name: str = "daphne") -> tuple[Proc, str]:
    """The app as `make run` serves it: one daphne process."""
    port = free_port()
    proc = Proc(
        name,
        [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), "chatsite.asgi:application"],
        env,
        log_dir,
    )
    wait_for_port(port, proc.popen, proc.log_path)
    return proc, f"http://{HOST}:{port}"


# -- PostgreSQL: the bench's own database, created and dropped here ------------------------------


def create_postgres_db() -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {POSTGRES_BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {POSTGRES_BENCH_DB}")


def drop_postgres_db() -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {POSTGRES_BENCH_DB} WITH (FORCE)")


def services_available() -> str | None:
    """None when PostgreSQL and Redis answer on loopback, else what is missing."""
    missing = []
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        try:
            socket.create_connection((HOST, port), 1).close()
        except OSError:
            missing.append(f"{name} on {HOST}:{port}")
    return ", ".join(missing) or None
