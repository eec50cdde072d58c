"""Settings come from the environment, with safe defaults and a clear error for a bad value."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def check(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    clean.update(CHATSITE_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_defaults_pass_the_system_check(tmp_path):
    result = check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").exists()  # one random key per installation


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "nonsense"),
        ("GEMINI_API_BASE_URL", "not a url"),
        ("GEMINI_TIMEOUT", "-1"),
        ("STREAM_FLUSH_MS", "soon"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, name, value):
    result = check(tmp_path, **{name: value})
    assert result.returncode != 0
    assert f'Environment variable "{name}" invalid' in result.stderr


def test_settings_read_the_documented_names(tmp_path):
    code = (
        "import django, os; django.setup(); from django.conf import settings as s; "
        "print(s.GEMINI_API_BASE_URL, s.GEMINI_MODEL, s.ALLOWED_HOSTS, s.GEMINI_EMULATED, "
        "s.CHANNEL_LAYERS['default']['BACKEND'], s.DATABASES['default']['ENGINE'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        CHATSITE_VAR_DIR=str(tmp_path),
        GEMINI_API_BASE_URL="http://127.0.0.1:8765/v1beta",
        GEMINI_MODEL="gemini-2.5-flash",
        ALLOWED_HOSTS="chat.example.com,localhost",
        GEMINI_API_KEY="k-123456",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL="postgres://u@127.0.0.1:5432/chat",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "http://127.0.0.1:8765/v1beta",
        "gemini-2.5-flash",
        "['chat.example.com',",
        "'localhost']",
        "False",
        "channels_redis.core.RedisChannelLayer",
        "django.db.backends.postgresql",
    ]
