"""Start the real app under daphne in a subprocess, as `make run` does (used by the browser
and scale-out tests)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "browser-pass-phrase-7"
# collectstatic's output, shared by this run's servers (incremental after the first) and by no
# other run: CI runs two suites at once. Removed when the run ends (conftest.py).
STATIC_ROOT = ROOT / "var" / f"test-static-{os.getpid()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_postgres_database(name: str) -> str | None:
    """With DATABASE_URL on PostgreSQL (CI's second run), a fresh database of our own."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return None
    import psycopg

    base = url.rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def app_env(var_dir: Path, emulator_base_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.pop("GEMINI_API_KEY", None)
    env.update(
        CHATSITE_VAR_DIR=str(var_dir),
        STATIC_ROOT=str(STATIC_ROOT),
        GEMINI_API_BASE_URL=emulator_base_url,
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        SECRET_KEY="test-secret-shared-by-every-process-of-one-site",
        GEMINI_TITLE_MODEL="",  # titles on only where a test asks (browser/test_conversations)
    )
    env.update(extra)
    return env


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def set_up_site(env: dict, users=("ada", "mallory")) -> None:
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    manage(env, "createsuperuser", "--noinput", "--username", "admin", "--email", "a@example.com")
    for name in users:
        manage(env, "shell", "-c",
               "from django.contrib.auth.models import User; "
               f"User.objects.create_user({name!r}, password={PASSWORD!r})")  # fmt: skip


class AppProcess:
    """One daphne process serving chatsite.asgi on a free loopback port."""

    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
             "chatsite.asgi:application"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not start:\n{log_path.read_text()}")

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()


def stop_process(proc: subprocess.Popen) -> None:
    """Asks a server process to end, and ends it if it has not within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
