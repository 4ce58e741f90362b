"""The whole simulated call as a stereo WAV: the callee on the left, the agent on the right.

Both sides are written frame by frame on the line's own clock, so what you hear is what each
party heard and when, barge-ins and cut-offs included.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from telephony.audio import SAMPLE_RATE, mulaw_to_pcm16


class CallRecording:
    def __init__(self) -> None:
        self._caller: list[bytes] = []
        self._agent: list[bytes] = []

    def add(self, caller_frame: bytes, agent_frame: bytes) -> None:
        self._caller.append(caller_frame)
        self._agent.append(agent_frame)

    @property
    def seconds(self) -> float:
        return sum(len(f) for f in self._caller) / SAMPLE_RATE

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        left = mulaw_to_pcm16(b"".join(self._caller))
        right = mulaw_to_pcm16(b"".join(self._agent))
        stereo = np.empty(left.size * 2, dtype="<i2")
        stereo[0::2], stereo[1::2] = left, right
        with wave.open(str(target), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(stereo.tobytes())
        return target
