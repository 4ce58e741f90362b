"""One provider per role, chosen from settings.

`auto` means the cloud provider when its key is set, else the embedded local one; naming a
cloud provider without its key is a configuration error that names the missing variable.
Cloud speech providers come wrapped with the local model as backup, and the caller passes
its per-call `on_fallback(role)` hook so a fallback is counted on that call.
`PROVIDER_OVERRIDES` ("stt=package.module:Class,tts=…") replaces a role's provider with any
class built as `Class(timeout=PROVIDER_TIMEOUT_SECONDS)` (the benchmarks' zero-cost fakes).
"""

from __future__ import annotations

import importlib
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from telephony.providers.base import ChatModel, SpeechToText, TextToSpeech
from telephony.providers.fallback import FallbackHook, FallbackSTT, FallbackTTS
from telephony.providers.local_stt import WhisperSTT
from telephony.providers.local_tts import PiperTTS
from voiceagent.logging import get_logger

log = get_logger("telephony.providers")

_CLOUD = {
    "stt": ("STT_PROVIDER", "deepgram", "DEEPGRAM_API_KEY"),
    "tts": ("TTS_PROVIDER", "elevenlabs", "ELEVENLABS_API_KEY"),
    "llm": ("LLM_PROVIDER", "openai", "OPENAI_API_KEY"),
}
_LOCAL = {"stt": "local", "tts": "local", "llm": "offline"}
_OVERRIDABLE = ("stt", "tts")


def provider_overrides() -> dict[str, str]:
    """`PROVIDER_OVERRIDES` as {role: "module:Class"}; ImproperlyConfigured on a malformed value."""
    overrides: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in settings.PROVIDER_OVERRIDES.split(","))):
        role, _, target = (piece.strip() for piece in item.partition("="))
        module, _, name = target.partition(":")
        if role not in _OVERRIDABLE or not module or not name.isidentifier():
            raise ImproperlyConfigured(
                f"PROVIDER_OVERRIDES item {item!r} is invalid: expected stt=module.path:Class or tts=…"
            )
        overrides[role] = target
    return overrides


def _override(role: str) -> object | None:
    """An instance of the class PROVIDER_OVERRIDES names for `role`, else None."""
    target = provider_overrides().get(role)
    if target is None:
        return None
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ImproperlyConfigured(f"PROVIDER_OVERRIDES: cannot load {target!r} for {role}: {exc}") from None
    return cls(timeout=settings.PROVIDER_TIMEOUT_SECONDS)


def provider_for(role: str) -> str:
    """The provider name the settings select for `role` (stt, tts or llm)."""
    setting, cloud, key_setting = _CLOUD[role]
    choice = getattr(settings, setting)
    has_key = bool(getattr(settings, key_setting))
    if choice == "auto":
        return cloud if has_key else _LOCAL[role]
    if choice == cloud and not has_key:
        raise ImproperlyConfigured(f"{setting}={cloud} needs {key_setting} to be set")
    return choice


def get_stt(*, on_fallback: FallbackHook | None = None) -> SpeechToText:
    override = _override("stt")
    if override is not None:
        return override  # type: ignore[return-value]
    local = WhisperSTT(timeout=settings.PROVIDER_TIMEOUT_SECONDS)
    if provider_for("stt") == "local":
        return local
    from telephony.providers.deepgram_stt import DeepgramSTT

    deepgram = DeepgramSTT(api_key=settings.DEEPGRAM_API_KEY, timeout=settings.PROVIDER_TIMEOUT_SECONDS)
    return FallbackSTT(deepgram, local, on_fallback=on_fallback)


def get_tts(*, on_fallback: FallbackHook | None = None) -> TextToSpeech:
    override = _override("tts")
    if override is not None:
        return override  # type: ignore[return-value]
    local = PiperTTS(timeout=settings.PROVIDER_TIMEOUT_SECONDS)
    if provider_for("tts") == "local":
        return local
    from telephony.providers.elevenlabs_tts import ElevenLabsTTS

    elevenlabs = ElevenLabsTTS(
        api_key=settings.ELEVENLABS_API_KEY,
        voice_id=settings.ELEVENLABS_VOICE_ID,
        timeout=settings.PROVIDER_TIMEOUT_SECONDS,
    )
    return FallbackTTS(elevenlabs, local, on_fallback=on_fallback)


def get_chat_model() -> ChatModel | None:
    """The cloud chat model, or None for the offline writer and classifier."""
    if provider_for("llm") == "offline":
        return None
    from telephony.providers.openai_llm import OpenAIChat  # imported lazily: the SDK is heavy

    return OpenAIChat(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL or None,
        model=settings.OPENAI_MODEL,
        timeout=settings.LLM_TIMEOUT_SECONDS,
    )


def warm_local_models_in_background() -> threading.Thread:
    """Load Whisper and Piper on a background thread, so the first call does not wait for them.

    Both are loaded whatever the settings choose: they are the cloud providers' fallbacks.
    """
    from telephony.providers.local_stt import load_whisper_model
    from telephony.providers.local_tts import load_piper_voice

    def warm() -> None:
        for load in (load_piper_voice, load_whisper_model):
            try:
                load()
            except Exception:  # a missing model shows up on the call that needs it, with its reason
                log.exception("model warm-up failed", extra={"event": "model_warm_failed"})

    # Not a daemon: a process that exits mid-load would abort inside the models' C++ code.
    thread = threading.Thread(target=warm, name="warm-models")
    thread.start()
    return thread
