from __future__ import annotations

import os

import pytest

# Tests never read a developer's .env: what they need they set themselves.
os.environ.setdefault("VOICEAGENT_IGNORE_DOTENV", "1")

API_KEY = "test-key-0123456789"


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def pytest_configure(config) -> None:
    url = _postgres_url()
    config._postgres_missing = None
    if url is None:
        return
    import psycopg

    try:
        # Connect to the server's maintenance database: pytest-django creates test_<name> itself.
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            raise pytest.UsageError(f"PostgreSQL is required (REQUIRE_SERVICES=1): {exc}") from None
        config._postgres_missing = str(exc).splitlines()[0] if str(exc) else "unreachable"


def pytest_collection_modifyitems(config, items) -> None:
    if getattr(config, "_postgres_missing", None):
        skip = pytest.mark.skip(reason=f"PostgreSQL not reachable: {config._postgres_missing}")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.API_KEY = API_KEY
    settings.PUBLIC_BASE_URL = "https://voice.example.test"
    # Twilio (and the simulated line) send the public host in the Host header.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "voice.example.test"]
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_CONFIGURED = False
    settings.OPENAI_API_KEY = ""
    settings.DEEPGRAM_API_KEY = ""
    settings.ELEVENLABS_API_KEY = ""
    settings.HANDOFF_NUMBER = ""
    settings.AGENT_URL = ""


def require_services() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def service_unavailable(what: str) -> None:
    """Skip, or fail under REQUIRE_SERVICES=1, when PostgreSQL or Redis is not there."""
    if require_services():
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not reachable")
    pytest.skip(f"{what} not reachable")
