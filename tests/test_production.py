"""Production: check --deploy does what the README says, CSP, health, logs, Docker."""

import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from .servers import ROOT, free_port


def readme_production() -> tuple[str, dict[str, str]]:
    """The README's "Production settings": its paragraph and its env block, as written
    (placeholders like `<50+ random characters>` get a value of that shape)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Production settings", 1)[1]
    text, block = section.split("```sh\n", 1)
    env = {}
    for line in block.split("```", 1)[0].splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            env[name] = value
    if env["SECRET_KEY"].startswith("<"):
        env["SECRET_KEY"] = "a-long-random-production-secret-key-with-many-characters-0123456789"
    return text, env


def run_manage(tmp_path, *args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    clean.update(CHATSITE_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def check_ids(result) -> set[str]:
    return set(re.findall(r"\(([a-z_]+\.[EWI]\d{3})\)", result.stdout + result.stderr))


def test_check_deploy_reports_what_the_readme_says_under_its_production_env(tmp_path):
    text, env = readme_production()
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "HTTPS", "HSTS_SECONDS"} <= set(env)
    named = set(re.findall(r"`([a-z_]+\.[EWI]\d{3})`", text))
    result = run_manage(tmp_path, "check", "--deploy", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert check_ids(result) == named, result.stdout + result.stderr
    if not named:
        assert "System check identified no issues" in result.stdout

    # "…with both, the check reports nothing": the settings the paragraph names, added.
    extra = dict(item.split("=", 1) for item in re.findall(r"`([A-Z_]+=true)`", text))
    assert extra, "the README names the settings that silence the warnings"
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **env, **extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_does_complain_on_the_laptop_defaults(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0 and "security.W" in result.stderr + result.stdout


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_of_own_assets_only(client, user):
    client.force_login(user)
    csp = client.get("/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no inline scripts, no eval, no CDN
    assert directives["style-src"] == "'self'"
    assert directives["frame-src"] == "'self'"  # only our own sandboxed suggestions frame
    assert directives["object-src"] == "'none'"


@pytest.mark.django_db(transaction=True)
def test_healthz_checks_the_database_and_the_channel_layer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db(transaction=True)
def test_healthz_says_503_and_which_part_failed(client, settings):
    from channels.layers import channel_layers

    nowhere = {"hosts": ["redis://127.0.0.1:1/0"]}  # nothing listens on port 1
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": nowhere}
    }
    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and body["channel_layer"].startswith("error")


def test_logs_never_carry_the_api_key(settings, caplog):
    from chatsite.logs import RedactSecrets

    settings.GEMINI_API_KEY = "AIzaSy-the-real-key-123"
    key = "AIzaSy-the-real-key-123"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "calling with %s", (key,), None)
    RedactSecrets().filter(record)
    assert "the-real-key" not in record.getMessage() and "[redacted]" in record.getMessage()


def test_json_logs_are_one_object_per_line(tmp_path):
    code = "import logging, django; django.setup(); logging.getLogger('chatsite').warning('hello')"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="chatsite.settings", LOG_FORMAT="json",
               CHATSITE_VAR_DIR=str(tmp_path))  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    line = json.loads(out.stderr.strip().splitlines()[-1])
    assert (
        line["message"] == "hello" and line["level"] == "WARNING" and line["logger"] == "chatsite"
    )


def test_the_images_start_command_migrates_and_serves_health(tmp_path):
    """No Docker engine runs here, so run the image's CMD (bin/start) directly."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(CHATSITE_VAR_DIR=str(tmp_path), PORT=str(port), HOST="127.0.0.1",
               STATIC_ROOT=str(tmp_path / "static"), ALLOWED_HOSTS="chat.example.com")  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT,
                   env=env, check=True, timeout=120)  # fmt: skip
    env["PATH"] = f"{os.path.dirname(sys.executable)}:{env['PATH']}"
    proc = subprocess.Popen([str(ROOT / "bin" / "start")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            health = subprocess.run([sys.executable, str(ROOT / "bin" / "healthcheck")], env=env,
                                    capture_output=True, timeout=10)  # fmt: skip
            if health.returncode == 0:
                break
            time.sleep(0.3)
        assert health.returncode == 0, health.stderr
        request = urllib.request.Request(f"http://127.0.0.1:{port}/accounts/login/",
                                         headers={"Host": "chat.example.com"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=5) as page:  # noqa: S310
            assert page.status == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_dockerfile_is_multi_stage_non_root_with_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
    assert "\nUSER chatsite" in text
    assert "collectstatic" in text and "HEALTHCHECK" in text
    assert 'CMD ["bin/start"]' in text


def test_compose_runs_the_app_with_postgres_redis_and_volumes():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"app", "db", "redis"}
    env = services["app"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
    assert "uploads:/data" in services["app"]["volumes"]
    assert {"pgdata", "uploads"} <= set(compose["volumes"])
    assert services["app"]["depends_on"]["db"]["condition"] == "service_healthy"
