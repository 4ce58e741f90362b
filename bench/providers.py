"""Latency of the local speech providers on this machine.

Run: `.venv/bin/python bench/providers.py [--runs N]`. Prints Whisper latency for 1, 3 and 6 s
utterances (μ-law 8 kHz, as Twilio sends them) and Piper's time to first audio and real-time
factor for a 20-word sentence; writes `bench/results/providers.json`.
Targets on 2 cores: Piper first chunk ≤ 150 ms, Whisper ≤ 350 ms for a 3 s utterance.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagent.settings")

import django  # noqa: E402

django.setup()

from telephony.audio import SAMPLE_RATE, silence  # noqa: E402
from telephony.providers import local_stt, local_tts  # noqa: E402
from telephony.providers.local_stt import WhisperSTT  # noqa: E402
from telephony.providers.local_tts import PiperTTS  # noqa: E402

SENTENCE_20_WORDS = (
    "Hi, this is Alex from Northwind Solar calling about the solar quote "
    "you asked for on our website last week."
)
SPEECH = (
    "Yes, I would like to hear more about the solar panels for my house, "
    "and please send the pricing details to my email address before Friday afternoon."
)
UTTERANCE_SECONDS = (1, 3, 6)
TARGETS = {"piper_first_chunk_ms": 150, "whisper_3s_ms": 350}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": _ms(statistics.median(ordered)),
        "p95_ms": _ms(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]),
        "min_ms": _ms(ordered[0]),
    }


async def bench_piper(runs: int) -> dict[str, object]:
    tts = PiperTTS(timeout=30)
    firsts: list[float] = []
    totals: list[float] = []
    audio_seconds = 0.0
    for run in range(runs + 1):  # the first run warms the ONNX session up and is not counted
        started = time.perf_counter()
        first = 0.0
        audio = b""
        async for chunk in tts.synthesize(SENTENCE_20_WORDS):
            if not audio:
                first = time.perf_counter() - started
            audio += chunk
        total = time.perf_counter() - started
        if run:
            firsts.append(first)
            totals.append(total)
            audio_seconds = len(audio) / SAMPLE_RATE
    return {
        "words": len(SENTENCE_20_WORDS.split()),
        "pieces": local_tts.split_for_speech(SENTENCE_20_WORDS),
        "audio_seconds": round(audio_seconds, 2),
        "first_chunk": _summary(firsts),
        "total": _summary(totals),
        "real_time_factor": round(statistics.median(totals) / audio_seconds, 3),
    }


async def bench_whisper(runs: int) -> dict[str, object]:
    speech = b"".join([chunk async for chunk in PiperTTS(timeout=30).synthesize(SPEECH)])
    stt = WhisperSTT(timeout=60)
    results: dict[str, object] = {}
    for seconds in UTTERANCE_SECONDS:
        audio = (speech + silence(6000))[: seconds * SAMPLE_RATE]
        samples: list[float] = []
        text = ""
        for run in range(runs + 1):
            started = time.perf_counter()
            text = await stt.transcribe(audio)
            if run:
                samples.append(time.perf_counter() - started)
        summary = _summary(samples)
        results[f"{seconds}s"] = {
            **summary,
            "ms_per_audio_second": round(summary["median_ms"] / seconds, 1),
            "text": text,
        }
    return results


def _load_times() -> dict[str, float]:
    started = time.perf_counter()
    local_stt.load_whisper_model()
    whisper = time.perf_counter() - started
    started = time.perf_counter()
    local_tts.load_piper_voice()
    piper = time.perf_counter() - started
    return {"whisper_ms": _ms(whisper), "piper_ms": _ms(piper)}


async def main(runs: int) -> dict[str, object]:
    loads = _load_times()
    piper = await bench_piper(runs)
    whisper = await bench_whisper(runs)
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # Other processes skew these figures: the load average says how busy the cores were.
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "runs": runs,
        "load": loads,
        "piper": piper,
        "whisper": whisper,
        "targets": TARGETS,
        "meets_targets": {
            "piper_first_chunk": piper["first_chunk"]["median_ms"] <= TARGETS["piper_first_chunk_ms"],
            "whisper_3s": whisper["3s"]["median_ms"] <= TARGETS["whisper_3s_ms"],
        },
    }


def _print(report: dict[str, object]) -> None:
    load, piper, whisper = report["load"], report["piper"], report["whisper"]
    print(f"machine: {report['machine']['cpus']} cpus, load average {report['machine']['load_average_1m']}")
    print(f"load: whisper {load['whisper_ms']} ms, piper {load['piper_ms']} ms")
    print(
        f"piper ({piper['words']} words, {piper['audio_seconds']} s audio): first chunk "
        f"median {piper['first_chunk']['median_ms']} ms (min {piper['first_chunk']['min_ms']}, "
        f"p95 {piper['first_chunk']['p95_ms']}), total "
        f"{piper['total']['median_ms']} ms, real-time factor {piper['real_time_factor']}"
    )
    for seconds in UTTERANCE_SECONDS:
        row = whisper[f"{seconds}s"]
        print(
            f"whisper {seconds} s utterance: median {row['median_ms']} ms "
            f"(min {row['min_ms']}, p95 {row['p95_ms']}), "
            f"{row['ms_per_audio_second']} ms per audio second — {row['text']!r}"
        )
    print("meets targets:", report["meets_targets"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement (after one warm-up)")
    args = parser.parse_args()
    report = asyncio.run(main(args.runs))
    _print(report)
    out = ROOT / "bench" / "results" / "providers.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
