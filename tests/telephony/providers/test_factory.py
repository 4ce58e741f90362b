from __future__ import annotations

import importlib.util

import pytest
from django.core.exceptions import ImproperlyConfigured

from telephony.providers import factory
from telephony.providers.base import SpeechToText, TextToSpeech
from telephony.providers.deepgram_stt import DeepgramSTT
from telephony.providers.elevenlabs_tts import ElevenLabsTTS
from telephony.providers.fallback import FallbackSTT, FallbackTTS
from telephony.providers.local_stt import WhisperSTT
from telephony.providers.local_tts import PiperTTS


def test_it_uses_the_local_models_and_offline_writer_without_keys(settings):
    settings.STT_PROVIDER = settings.TTS_PROVIDER = "auto"
    settings.LLM_PROVIDER = "auto"

    stt, tts = factory.get_stt(), factory.get_tts()

    assert isinstance(stt, WhisperSTT) and isinstance(stt, SpeechToText)
    assert isinstance(tts, PiperTTS) and isinstance(tts, TextToSpeech)
    assert factory.get_chat_model() is None


def test_it_uses_cloud_providers_with_a_local_backup_when_keys_are_set(settings):
    settings.STT_PROVIDER = settings.TTS_PROVIDER = "auto"
    settings.DEEPGRAM_API_KEY = "dg"
    settings.ELEVENLABS_API_KEY = "el"
    settings.ELEVENLABS_VOICE_ID = "voice-9"
    settings.PROVIDER_TIMEOUT_SECONDS = 3.5
    hook_calls: list[str] = []

    stt = factory.get_stt(on_fallback=hook_calls.append)
    tts = factory.get_tts(on_fallback=hook_calls.append)

    assert isinstance(stt, FallbackSTT)
    assert isinstance(stt.primary, DeepgramSTT) and isinstance(stt.backup, WhisperSTT)
    assert stt.primary.timeout == 3.5
    assert isinstance(tts, FallbackTTS)
    assert isinstance(tts.primary, ElevenLabsTTS) and isinstance(tts.backup, PiperTTS)
    assert tts.primary.voice_id == "voice-9"
    assert stt.switch.on_fallback is not None


def test_it_honours_an_explicit_local_choice_even_with_keys(settings):
    settings.STT_PROVIDER = "local"
    settings.TTS_PROVIDER = "local"
    settings.LLM_PROVIDER = "offline"
    settings.DEEPGRAM_API_KEY = settings.ELEVENLABS_API_KEY = settings.OPENAI_API_KEY = "set"

    assert isinstance(factory.get_stt(), WhisperSTT)
    assert isinstance(factory.get_tts(), PiperTTS)
    assert factory.get_chat_model() is None


@pytest.mark.parametrize(
    ("setting", "value", "getter", "variable"),
    [
        ("STT_PROVIDER", "deepgram", factory.get_stt, "DEEPGRAM_API_KEY"),
        ("TTS_PROVIDER", "elevenlabs", factory.get_tts, "ELEVENLABS_API_KEY"),
        ("LLM_PROVIDER", "openai", factory.get_chat_model, "OPENAI_API_KEY"),
    ],
)
def test_it_names_the_missing_key_when_a_cloud_provider_is_chosen_without_it(
    settings, setting, value, getter, variable
):
    setattr(settings, setting, value)

    with pytest.raises(ImproperlyConfigured, match=variable):
        getter()


@pytest.mark.skipif(
    importlib.util.find_spec("telephony.providers.openai_llm") is None, reason="openai_llm not written yet"
)
def test_it_builds_the_openai_chat_model_from_settings(settings):
    settings.LLM_PROVIDER = "auto"
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    settings.LLM_TIMEOUT_SECONDS = 2.5

    model = factory.get_chat_model()

    from telephony.providers.openai_llm import OpenAIChat

    assert isinstance(model, OpenAIChat)
    assert (model.model, model.timeout) == ("gpt-4o-mini", 2.5)


def test_it_builds_the_classes_provider_overrides_names(settings):
    settings.PROVIDER_OVERRIDES = "stt=bench.fakes:ScriptedSTT, tts=bench.fakes:InstantTTS"
    settings.PROVIDER_TIMEOUT_SECONDS = 2.5
    settings.DEEPGRAM_API_KEY = "dg"  # an override wins over the cloud choice too

    stt, tts = factory.get_stt(), factory.get_tts()

    from bench.fakes import InstantTTS, ScriptedSTT

    assert isinstance(stt, ScriptedSTT) and isinstance(stt, SpeechToText)
    assert isinstance(tts, InstantTTS) and isinstance(tts, TextToSpeech)
    assert (stt.timeout, tts.timeout) == (2.5, 2.5)


def test_it_overrides_only_the_roles_named(settings):
    settings.PROVIDER_OVERRIDES = "tts=bench.fakes:InstantTTS"
    settings.STT_PROVIDER = "local"

    assert isinstance(factory.get_stt(), WhisperSTT)
    assert factory.get_tts().name == "instant"


@pytest.mark.parametrize(
    "value",
    [
        "stt=bench.fakes:NoSuchClass",
        "tts=no_such_module_here:InstantTTS",
        "stt=bench.fakes",
        "llm=bench.fakes:ScriptedSTT",
        "stt",
    ],
)
def test_it_names_provider_overrides_when_its_value_is_bad(settings, value):
    settings.PROVIDER_OVERRIDES = value

    with pytest.raises(ImproperlyConfigured, match="PROVIDER_OVERRIDES"):
        factory.get_stt()
        factory.get_tts()
