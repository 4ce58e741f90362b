"""When the caller starts and stops talking, decided frame by frame with webrtcvad.

Time here is counted in 20 ms frames, never read from a clock, so the same audio gives the
same turns whether it arrives in real time or all at once (tests feed it fast).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

import webrtcvad

from telephony.audio import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, mulaw_to_pcm16

MIN_SPEECH_MS = 120  # shorter voiced bursts (a click, a cough) are not a turn
PREROLL_MS = 200  # audio before the detected start, so STT hears the first syllable whole
AGGRESSIVENESS = 2  # webrtcvad 0–3: 2 ignores line hiss without clipping soft speech


class VadEvent(Enum):
    SPEECH_START = "speech_start"  # the caller is talking: `audio` holds pre-roll + speech so far
    SPEECH = "speech"  # one more frame of the current utterance in `audio`
    SPEECH_END = "speech_end"  # the caller stopped for the hangover: the turn is over


@dataclass
class VadResult:
    event: VadEvent
    audio: list[bytes] = field(default_factory=list)


class TurnDetector:
    def __init__(
        self,
        *,
        hangover_ms: int,
        min_speech_ms: int = MIN_SPEECH_MS,
        preroll_ms: int = PREROLL_MS,
        aggressiveness: int = AGGRESSIVENESS,
    ) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._hangover = max(1, hangover_ms // FRAME_MS)
        self._min_speech = max(1, min_speech_ms // FRAME_MS)
        self._preroll: deque[bytes] = deque(maxlen=max(1, preroll_ms // FRAME_MS))
        self._candidate: list[bytes] = []
        self._candidate_voiced = 0
        self._speaking = False
        self._silent_run = 0
        self.voiced_ms = 0  # voiced audio in the current utterance (barge-in measures this)

    @property
    def speaking(self) -> bool:
        return self._speaking

    def is_speech(self, frame: bytes) -> bool:
        return self._vad.is_speech(mulaw_to_pcm16(frame).tobytes(), SAMPLE_RATE)

    def push(self, frame: bytes) -> VadResult | None:
        """Feed one 20 ms μ-law frame; returns what it changed, if anything."""
        if len(frame) != FRAME_BYTES:
            return None
        voiced = self.is_speech(frame)
        if self._speaking:
            return self._push_speaking(frame, voiced)
        return self._push_idle(frame, voiced)

    def reset(self) -> None:
        self._preroll.clear()
        self._candidate = []
        self._candidate_voiced = 0
        self._speaking = False
        self._silent_run = 0
        self.voiced_ms = 0

    def _push_idle(self, frame: bytes, voiced: bool) -> VadResult | None:
        if not self._candidate and not voiced:
            self._preroll.append(frame)
            return None
        self._candidate.append(frame)
        if voiced:
            self._candidate_voiced += 1
            self._silent_run = 0
        else:
            self._silent_run += 1
        if self._silent_run >= self._hangover:
            # A burst too short to be speech: it becomes pre-roll like any other noise.
            for old in self._candidate:
                self._preroll.append(old)
            self._candidate = []
            self._candidate_voiced = 0
            self._silent_run = 0
            return None
        if self._candidate_voiced < self._min_speech:
            return None
        self._speaking = True
        self.voiced_ms = self._candidate_voiced * FRAME_MS
        audio = [*self._preroll, *self._candidate]
        self._preroll.clear()
        self._candidate = []
        self._candidate_voiced = 0
        return VadResult(VadEvent.SPEECH_START, audio)

    def _push_speaking(self, frame: bytes, voiced: bool) -> VadResult:
        if voiced:
            self.voiced_ms += FRAME_MS
            self._silent_run = 0
        else:
            self._silent_run += 1
        if self._silent_run >= self._hangover:
            self._speaking = False
            self._silent_run = 0
            return VadResult(VadEvent.SPEECH_END, [frame])
        return VadResult(VadEvent.SPEECH, [frame])
