"""A real OpenID Connect provider for the single sign-on tests: django-oauth-toolkit in a second
Django process on a free loopback port (settings, urls and a login page here), started once per
test module by `ProviderProcess`. Users carry e-mails and groups; a test-only endpoint switches it
into misbehaving (a wrong audience, a foreign signing key, an expired token)."""

import subprocess
import sys
import time
from pathlib import Path

import httpx

from ..servers import ROOT, free_port, stop_process

CLIENT_ID = "chatsite-test-client"
CLIENT_SECRET = "chatsite-test-secret-that-is-long-enough"
PASSWORD = "provider-pass-phrase-9"
# name: (e-mail, groups)
PEOPLE = {
    "grace": ("grace@example.com", ["engineering"]),
    "linus": ("linus@example.com", ["engineering", "chat-admins"]),
    "eve": ("eve@elsewhere.test", ["engineering"]),
    "ken": ("ken@example.com", []),
}


class ProviderProcess:
    """The provider under `manage.py runserver` (threaded, no reloader) with its own SQLite."""

    def __init__(self, var: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.url}/o"
        self.env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
            "PROVIDER_ISSUER": self.issuer,
            "PROVIDER_DB": str(var / "provider.sqlite3"),
        }
        subprocess.run(
            [sys.executable, "-m", "tests.oidc_provider.prepare"],
            cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        self._log = open(var / "provider.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{self.port}",
             "--noreload", "--skip-checks"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the provider did not start:\n{(var / 'provider.log').read_text()}")

    def misbehave(self, mode: str) -> None:
        """ "normal", "wrong_audience", "foreign_key" or "expired" for the tokens issued next."""
        httpx.post(f"{self.url}/test/mode/", data={"mode": mode}, timeout=5).raise_for_status()

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()
