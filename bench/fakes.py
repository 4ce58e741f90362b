"""Zero-cost speech providers, so a benchmark measures our own work and nothing else.

`bench/concurrency.py` starts its server with
`PROVIDER_OVERRIDES=stt=bench.fakes:ScriptedSTT,tts=bench.fakes:InstantTTS`: the framing,
codec, VAD, consumer, funnel and database work all run for real, while speech recognition
and synthesis cost nothing. Both classes follow the Protocols in `telephony/providers/base.py`.

- `ScriptedSTT`: each session (one per call) answers its utterances with the next line of
  the `interested` persona's script, instantly, whatever the audio; then empty transcripts.
- `InstantTTS`: pre-made μ-law as long as the line would take to say (`MS_PER_CHAR`), at once.
  Every 20 ms frame starts with a tag (`TAG`, frame index, frame count) so a client can tell
  a lost or reordered frame from a gap in the speech (`read_tag`).
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from functools import lru_cache

from telephony.audio import FRAME_BYTES, MULAW_SILENCE
from telephony.lines.personas import PERSONAS
from telephony.providers.base import PartialHandler, Transcript

SCRIPT = PERSONAS["interested"].lines
MS_PER_CHAR = 60  # ~16 characters a second: an unhurried phone voice
CHUNK_FRAMES = 50  # one second per chunk, the first one as early as the rest
TAG = b"\x7e\x7d"
_HEADER = struct.Struct(">2sHH")  # tag, frame index, frame count in this line


class ScriptedSession:
    def __init__(self) -> None:
        self._next = 0
        self.fed_bytes = 0

    async def feed(self, mulaw: bytes) -> None:
        self.fed_bytes += len(mulaw)

    async def end_utterance(self) -> Transcript:
        if self._next >= len(SCRIPT):
            return Transcript("")
        self._next += 1
        return Transcript(SCRIPT[self._next - 1])

    async def discard(self) -> None:
        return None

    async def close(self) -> None:
        return None


class ScriptedSTT:
    name = "scripted"

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout

    async def warm(self) -> None:
        return None

    async def open(self, *, on_partial: PartialHandler | None = None) -> ScriptedSession:
        return ScriptedSession()


@lru_cache(maxsize=512)
def tagged_audio(frames: int) -> bytes:
    """`frames` frames of near-silent μ-law, each opening with its tag (made once per length)."""
    body = bytes([MULAW_SILENCE]) * (FRAME_BYTES - _HEADER.size)
    return b"".join(_HEADER.pack(TAG, index, frames) + body for index in range(frames))


def read_tag(frame: bytes) -> tuple[int, int] | None:
    """(frame index, frame count) of an `InstantTTS` frame, None for any other audio."""
    if len(frame) < _HEADER.size or frame[:2] != TAG:
        return None
    _tag, index, count = _HEADER.unpack_from(frame)
    return index, count


class InstantTTS:
    name = "instant"

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout

    async def warm(self) -> None:
        return None

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        frames = max(1, round(len(text) * MS_PER_CHAR / 20))
        audio = tagged_audio(frames)
        step = CHUNK_FRAMES * FRAME_BYTES
        for start in range(0, len(audio), step):
            yield audio[start : start + step]
