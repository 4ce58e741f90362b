from __future__ import annotations

import os

import pytest

# Tests never read a developer's .env: what they need they set themselves.
os.environ.setdefault("VOICEAGENT_IGNORE_DOTENV", "1")

API_KEY = "test-key-0123456789"


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.API_KEY = API_KEY
    settings.PUBLIC_BASE_URL = "https://voice.example.test"
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
