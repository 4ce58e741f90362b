from __future__ import annotations

import io

import httpx
import pytest
import respx
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.slow

KEYS = {"DEEPGRAM_API_KEY": "dg-secret", "ELEVENLABS_API_KEY": "el-secret", "OPENAI_API_KEY": "sk-secret"}


def _run() -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("providers", "check", stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def _cloud(settings) -> None:
    for name, value in KEYS.items():
        setattr(settings, name, value)
    settings.STT_PROVIDER = settings.TTS_PROVIDER = settings.LLM_PROVIDER = "auto"
    settings.ELEVENLABS_VOICE_ID = "voice-1"
    settings.OPENAI_BASE_URL = ""


def test_it_loads_the_local_models_and_reports_their_load_time(settings):
    settings.STT_PROVIDER = settings.TTS_PROVIDER = settings.LLM_PROVIDER = "auto"

    output, error = _run()

    assert error is None
    assert "stt: local OK (whisper model loaded," in output
    assert "tts: local OK (piper model loaded," in output
    assert "llm: offline OK" in output
    assert " ms)" in output


@respx.mock
def test_it_pings_each_cloud_provider_once_with_its_key(settings):
    _cloud(settings)
    deepgram = respx.get("https://api.deepgram.com/v1/projects").mock(
        return_value=httpx.Response(200, json={"projects": []})
    )
    voice = respx.get("https://api.elevenlabs.io/v1/voices/voice-1").mock(
        return_value=httpx.Response(200, json={"voice_id": "voice-1", "name": "Rachel"})
    )
    models = respx.get("https://api.openai.com/v1/models").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "data": [{"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "openai"}],
            },
        )
    )

    output, error = _run()

    assert error is None, output
    assert "stt: deepgram OK" in output and "tts: elevenlabs OK (voice Rachel" in output
    assert "llm: openai OK (configured model available" in output
    assert deepgram.call_count == voice.call_count == models.call_count == 1
    assert models.calls.last.request.headers["Authorization"] == "Bearer sk-secret"
    assert not any(key in output for key in KEYS.values())


@respx.mock
def test_it_exits_non_zero_and_never_prints_a_key_when_a_check_fails(settings):
    _cloud(settings)
    settings.STT_PROVIDER = "local"
    respx.get("https://api.elevenlabs.io/v1/voices/voice-1").mock(
        return_value=httpx.Response(401, json={"detail": {"status": "invalid_api_key"}})
    )
    respx.get("https://api.openai.com/v1/models").mock(return_value=httpx.Response(401, json={"error": {}}))

    output, error = _run()

    assert error is not None and "2 provider check(s) failed" in str(error)
    assert "tts: elevenlabs FAILED" in output and "401" in output
    assert "llm: openai FAILED" in output
    assert "stt: local OK" in output
    assert not any(key in output + str(error) for key in KEYS.values())


def test_it_reports_a_cloud_provider_chosen_without_its_key(settings):
    settings.STT_PROVIDER = "deepgram"
    settings.TTS_PROVIDER = "local"
    settings.LLM_PROVIDER = "offline"

    output, error = _run()

    assert error is not None
    assert "stt: misconfigured" in output and "DEEPGRAM_API_KEY" in output
