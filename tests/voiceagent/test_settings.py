"""Settings load from the environment and fail loudly, naming the variable, on a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "DATABASE_URL", "REDIS_URL"))
    }
    clean.update({"VOICEAGENT_IGNORE_DOTENV": "1", "DJANGO_SETTINGS_MODULE": "voiceagent.settings"})
    clean.update(env)
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], "
        "s.TURN_BUDGET_SECONDS, s.SILENCE_TIMEOUT_SECONDS, s.DEFAULT_REGION, s.HANDOFF_NUMBER or '-')"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_it_runs_on_embedded_defaults(tmp_path):
    result = load_settings(SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    assert result.returncode == 0, result.stderr
    engine, layer, budget, silence, region, handoff = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert layer == "channels.layers.InMemoryChannelLayer"
    assert (float(budget), float(silence), region, handoff) == (1.8, 8.0, "US", "-")


def test_it_switches_to_postgres_and_redis_from_urls():
    result = load_settings(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == [
        "django.db.backends.postgresql",
        "channels_redis.core.RedisChannelLayer",
    ]


def test_it_stores_the_handoff_number_as_e164():
    result = load_settings(HANDOFF_NUMBER="(415) 555-0199")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "+14155550199"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TURN_BUDGET_SECONDS", "fast"),
        ("TURN_BUDGET_SECONDS", "-1"),
        ("SILENCE_TIMEOUT_SECONDS", "0"),
        ("RETENTION_DAYS", "soon"),
        ("PUBLIC_BASE_URL", "voice.example.com"),
        ("OPENAI_BASE_URL", "localhost:8080"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("DATABASE_URL", "mysql://root@127.0.0.1/test"),
        ("DEFAULT_REGION", "XX"),
        ("HANDOFF_NUMBER", "12"),
        ("TWILIO_PHONE_NUMBER", "not-a-number"),
        ("TWILIO_ACCOUNT_SID", "XY123"),
        ("STT_PROVIDER", "watson"),
        ("DEBUG", "maybe"),
    ],
)
def test_it_fails_at_start_naming_the_bad_variable(name, value):
    env = {name: value}
    if name == "TWILIO_ACCOUNT_SID":
        env["TWILIO_AUTH_TOKEN"] = "secret-token-value"
    result = load_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr
    assert "secret-token-value" not in result.stderr


def test_it_requires_twilio_sid_and_token_together():
    result = load_settings(TWILIO_ACCOUNT_SID="AC" + "0" * 32)
    assert result.returncode != 0
    assert "TWILIO_AUTH_TOKEN" in result.stderr


def test_it_lets_channels_redis_block_longer_than_the_redis_socket_timeout():
    # redis-py 8 defaults to a 5 s socket timeout, as long as channels-redis's blocking pop:
    # without a longer one every stream consumer crashed after 5 idle seconds.
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "from channels_redis.core import RedisChannelLayer as L; "
        "h = s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]; "
        "print(h['address'], h['socket_timeout'] > L.brpop_timeout)"
    )
    env = {**os.environ, "VOICEAGENT_IGNORE_DOTENV": "1", "DJANGO_SETTINGS_MODULE": "voiceagent.settings"}
    env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://127.0.0.1:6379/0", "True"]
