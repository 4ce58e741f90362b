from __future__ import annotations

import re
import socket

import numpy as np
import pytest

from telephony.audio import split_frames
from telephony.providers import local_stt, local_tts
from telephony.providers.base import ProviderError
from telephony.providers.local_stt import WhisperSTT
from telephony.providers.local_tts import PiperTTS

pytestmark = pytest.mark.slow


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


async def _speak(text: str) -> bytes:
    return b"".join([chunk async for chunk in PiperTTS(timeout=10.0).synthesize(text)])


async def test_it_transcribes_what_piper_said_over_twilio_audio(speech_models):
    sentence = "Please send me the pricing details by email."
    audio = await _speak(sentence)
    session = await WhisperSTT(timeout=10.0).open()

    for frame in split_frames(audio):  # 20 ms μ-law frames, as Twilio sends them
        await session.feed(frame)
    transcript = await session.end_utterance()

    assert _words(transcript.text) == _words(sentence)
    assert transcript.is_final


async def test_it_starts_afresh_after_each_utterance_and_after_discard(speech_models):
    stt = WhisperSTT(timeout=10.0)
    session = await stt.open()
    await session.feed(await _speak("Loud noise in the background."))
    await session.discard()
    await session.feed(await _speak("Yes, I am interested."))

    first = await session.end_utterance()
    second = await session.end_utterance()

    assert _words(first.text) == ["yes", "i", "am", "interested"]
    assert second.text == ""


async def test_it_wraps_engine_errors_as_provider_errors(monkeypatch):
    def broken(mulaw: bytes) -> str:
        raise RuntimeError("ctranslate2 failed")

    monkeypatch.setattr(local_stt, "transcribe_mulaw", broken)
    session = await WhisperSTT(timeout=1.0).open()
    await session.feed(b"\xff" * 1600)

    with pytest.raises(ProviderError, match="RuntimeError"):
        await session.end_utterance()


def test_it_loads_both_models_with_the_network_unavailable(monkeypatch):
    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    # The uncached loaders: this really loads from the packaged files, not the shared copy.
    model = local_stt._load_model()
    voice = local_tts._load_voice()

    segments, _ = model.transcribe(np.zeros(16000, dtype=np.float32), language="en", beam_size=1)
    list(segments)
    assert voice.config.sample_rate > 8000


async def test_it_transcribes_a_short_turn_on_a_short_window(speech_models, monkeypatch):
    audio = await _speak("Please send me the pricing details by email.")
    full_window = []
    model = local_stt.load_whisper_model()
    monkeypatch.setattr(model, "transcribe", lambda *a, **k: full_window.append(1) or ([], None))

    text = local_stt.transcribe_mulaw(audio)

    assert _words(text) == _words("Please send me the pricing details by email.")
    assert full_window == []  # the 30 s window was not needed


async def test_it_redoes_a_looping_short_window_on_the_full_window(speech_models, monkeypatch):
    audio = await _speak("No thanks.")
    monkeypatch.setattr(local_stt, "_repeats", lambda text: True)  # as if Whisper looped

    assert _words(local_stt.transcribe_mulaw(audio)) == ["no", "thanks"]


@pytest.mark.parametrize(
    ("text", "loops"),
    [
        ("No No No No No", True),
        ("Hello? Hello? Hello?", True),
        ("Who is this? Who is this? Who is", True),
        ("No, no.", True),
        ("No thanks, I'm not interested.", False),
        ("Yes.", False),
    ],
)
def test_it_spots_whisper_repeating_itself(text, loops):
    assert local_stt._repeats(text) is loops
