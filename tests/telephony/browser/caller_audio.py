"""What the fake microphone says: a Piper line (tests/telephony/speech.py) as a 16-bit PCM WAV
for Chromium's `--use-file-for-fake-audio-capture`."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from telephony.audio import SAMPLE_RATE, mulaw_to_pcm16, resample
from tests.telephony.speech import speech

WAV_RATE = 48000  # what a microphone delivers; the page resamples it down to 8 kHz itself


def caller_wav(path: Path, text: str, *, lead_s: float = 1.0, tail_s: float = 6.0) -> Path:
    """`text` spoken by Piper, with silence before and after (Chromium loops the file)."""
    voice = resample(mulaw_to_pcm16(speech(text)), SAMPLE_RATE, WAV_RATE)
    pcm = np.concatenate(
        [
            np.zeros(int(lead_s * WAV_RATE), dtype=np.int16),
            voice.astype(np.int16),
            np.zeros(int(tail_s * WAV_RATE), dtype=np.int16),
        ]
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(WAV_RATE)
        out.writeframes(pcm.tobytes())
    return path
