"""G.711 μ-law at 8 kHz, the only audio Twilio Media Streams carry, and 20 ms framing.

Lookup tables in numpy: decoding a 160-byte frame is one indexing operation, so the
consumer can decode every frame on the event loop without holding it up.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160 μ-law bytes = 160 samples
MULAW_SILENCE = 0xFF

_BIAS = 0x84
_CLIP = 32635


def _build_decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _build_encode_table() -> np.ndarray:
    # Index by (sample >> 2) + 8192: 14-bit resolution is all μ-law keeps anyway.
    samples = (np.arange(16384, dtype=np.int32) - 8192) << 2
    sign = np.where(samples < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(samples), _CLIP) + _BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


_DECODE = _build_decode_table()
_ENCODE = _build_encode_table()


def mulaw_to_pcm16(data: bytes) -> np.ndarray:
    """μ-law bytes to int16 samples at the same rate."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def pcm16_to_mulaw(samples: np.ndarray) -> bytes:
    """int16 samples to μ-law bytes."""
    idx = (samples.astype(np.int32) >> 2) + 8192
    return _ENCODE[idx].tobytes()


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """int16 or float32 samples to another rate, same dtype out."""
    if from_rate == to_rate:
        return samples
    import soxr  # imported here: only the local models need it

    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return out.astype(samples.dtype, copy=False)


def split_frames(mulaw: bytes) -> list[bytes]:
    """Cut μ-law audio into 20 ms frames, padding the last one with silence."""
    frames = [mulaw[i : i + FRAME_BYTES] for i in range(0, len(mulaw), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] = frames[-1] + bytes([MULAW_SILENCE]) * (FRAME_BYTES - len(frames[-1]))
    return frames


def duration_ms(mulaw: bytes) -> float:
    return len(mulaw) * 1000 / SAMPLE_RATE


def silence(ms: int) -> bytes:
    return bytes([MULAW_SILENCE]) * (SAMPLE_RATE * ms // 1000)
