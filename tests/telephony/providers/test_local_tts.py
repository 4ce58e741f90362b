from __future__ import annotations

import time

import numpy as np
import pytest

from telephony.audio import mulaw_to_pcm16
from telephony.providers import local_tts
from telephony.providers.base import ProviderError, ProviderTimeout
from telephony.providers.local_tts import PiperTTS, split_for_speech

pytestmark = pytest.mark.slow


def test_it_keeps_the_first_piece_short_and_cuts_at_a_phrase_boundary():
    text = "Hi, this is Alex from Northwind Solar calling about the quote you asked for last week online."

    pieces = split_for_speech(text)

    assert pieces[0] == "Hi, this is Alex from Northwind Solar calling"
    assert " ".join(pieces) == text


def test_it_splits_sentences_and_long_clauses():
    text = (
        "Thanks for taking my call. I will be brief and to the point, because I know your time "
        "matters and you are busy today, so let me get straight to it right now."
    )

    pieces = split_for_speech(text)

    assert pieces[0] == "Thanks for taking my call."
    assert all(len(p.split()) <= local_tts.PIECE_MAX_WORDS for p in pieces)
    assert " ".join(pieces) == text


def test_it_leaves_a_short_line_whole():
    assert split_for_speech("  Sure,  no problem. ") == ["Sure, no problem."]


async def test_it_yields_mulaw_8khz_audio_piece_by_piece(speech_models):
    tts = PiperTTS(timeout=5.0)
    text = "Hi, this is Alex from Northwind Solar calling about the quote you asked for last week online."

    started = time.perf_counter()
    chunks: list[bytes] = []
    first_at = 0.0
    async for chunk in tts.synthesize(text):
        if not chunks:
            first_at = time.perf_counter() - started
        chunks.append(chunk)
    total = time.perf_counter() - started

    assert len(chunks) == len(split_for_speech(text))
    audio = b"".join(chunks)
    seconds = len(audio) / 8000
    assert 3.0 < seconds < 10.0  # ~17 words of speech at 8 kHz, one byte per sample
    assert np.abs(mulaw_to_pcm16(audio).astype(np.int32)).max() > 3000  # speech, not silence
    assert first_at < total


async def test_it_raises_a_typed_timeout_when_synthesis_is_too_slow(speech_models, monkeypatch):
    def slow(text: str) -> bytes:
        time.sleep(0.3)
        return b"\xff"

    monkeypatch.setattr(local_tts, "_synthesize_piece", slow)

    with pytest.raises(ProviderTimeout):
        async for _ in PiperTTS(timeout=0.05).synthesize("Hello."):
            pass


async def test_it_wraps_engine_errors_as_provider_errors(monkeypatch):
    def broken(text: str) -> bytes:
        raise RuntimeError("onnx failed")

    monkeypatch.setattr(local_tts, "_synthesize_piece", broken)

    with pytest.raises(ProviderError, match="RuntimeError"):
        async for _ in PiperTTS(timeout=1.0).synthesize("Hello."):
            pass
