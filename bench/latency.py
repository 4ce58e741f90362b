"""Turn latency of whole simulated calls: local Whisper + Piper, the offline writer, real Daphne.

Run: `.venv/bin/python bench/latency.py [--calls 20] [--persona interested] [--services]`.
Starts Daphne on a free loopback port with its own database and the local models (warmed, and
one uncounted warm-up call), then places `--calls` simulated calls one after another through
`telephony.lines.SimulatedLine` over real WebSockets (`NetworkTransport`), in real time.
Prints a table and writes `bench/results/latency[-services].json`.

Definitions (client times are taken in this process as frames go out / come in):

- response gap: from the caller's last voiced 20 ms frame of a turn (webrtcvad, as the server's
  VAD sees it) being sent, to the first agent audio frame received after it.
- endpointing: from that last voiced frame to the frame that completes the VAD hangover
  (`VAD_HANGOVER_MS` of unvoiced frames) being sent. The server's turn clock t0 starts when
  its VAD reads that frame; the client runs the same `TurnDetector` on the same frames.
- STT: `Message.stt_ms` of the caller's message: t0 → transcript.
- decision + writer: `turn_ms − stt_ms − tts_first_byte_ms`: classifying, the funnel step,
  the database writes and the writer, up to the first sentence being handed to TTS.
- TTS first audio: `tts_first_byte_ms` of the agent's reply: first sentence → first μ-law chunk.
- transport: response gap − endpointing − `turn_ms`: the end frame reaching the server's VAD,
  and the first reply frame going through the player, the socket and the client.
- our processing: STT + decision + writer + TTS first audio (= `turn_ms`).
- greeting: from the stream's `start` message being sent to the first agent audio frame.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

TARGETS = {"gap_p50_ms": 700, "gap_p95_ms": 900, "processing_p95_ms": 300, "greeting_ms": 300}


@dataclass
class Turn:
    last_voiced_at: float
    end_sent_at: float
    reply_at: float | None = None


@dataclass
class CallClock:
    """Client-side timestamps of one call, fed by `TimedLink` as frames pass."""

    hangover_ms: int
    start_sent_at: float | None = None
    first_agent_at: float | None = None
    turns: list[Turn] = field(default_factory=list)
    _detector: Any = None
    _last_voiced_at: float = 0.0
    _waiting: Turn | None = None

    def __post_init__(self) -> None:
        from telephony.vad import TurnDetector, VadEvent

        self._detector = TurnDetector(hangover_ms=self.hangover_ms)
        self._start, self._end = VadEvent.SPEECH_START, VadEvent.SPEECH_END

    def sent(self, text: str, at: float) -> None:
        message = json.loads(text)
        if message["event"] == "start":
            self.start_sent_at = at
        elif message["event"] == "media":
            frame = base64.b64decode(message["media"]["payload"])
            # webrtcvad adapts to what it has heard: feed each frame once, exactly as the server
            # does, and read "voiced" from the detector's own count of voiced audio.
            voiced_before = self._detector.voiced_ms
            result = self._detector.push(frame)
            started = result is not None and result.event is self._start
            if started or self._detector.voiced_ms > voiced_before:
                self._last_voiced_at = at
            if result is not None and result.event is self._end:
                self._waiting = Turn(last_voiced_at=self._last_voiced_at, end_sent_at=at)
                self.turns.append(self._waiting)

    def received(self, text: str, at: float) -> None:
        if not text.startswith('{"event": "media"'):
            return
        if self.first_agent_at is None:
            self.first_agent_at = at
        if self._waiting is not None:
            self._waiting.reply_at = at
            self._waiting = None


class TimedLink:
    def __init__(self, link: Any, clock: CallClock) -> None:
        self._link, self._clock = link, clock

    async def send(self, text: str) -> None:
        self._clock.sent(text, time.monotonic())
        await self._link.send(text)

    async def receive(self) -> str | None:
        text = await self._link.receive()
        if text is not None:
            self._clock.received(text, time.monotonic())
        return text

    async def close(self) -> None:
        await self._link.close()


class TimedTransport:
    """The line's own transport, with every stream frame timestamped on the way through."""

    def __init__(self, inner: Any, clock: CallClock) -> None:
        self._inner, self.clock = inner, clock

    async def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Any:
        return await self._inner.post(url, form, headers)

    async def open_stream(self, url: str) -> TimedLink:
        return TimedLink(await self._inner.open_stream(url), self.clock)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def run_call(line: Any, number: str) -> dict[str, Any]:
    from calls import selectors, services
    from calls.models import Role
    from telephony.lines import simulated

    call = services.call_create(to_number=number).call
    line.place(call)
    result = simulated.join(call.sid, timeout=300)
    clock: CallClock = line.clocks[-1]
    call.refresh_from_db()
    messages = list(selectors.call_transcript(call=call))
    callers = [m for m in messages if m.role == Role.USER]
    turns: list[dict[str, Any]] = []
    for index, turn in enumerate(clock.turns):
        row: dict[str, Any] = {"endpointing_ms": _ms(turn.end_sent_at - turn.last_voiced_at)}
        if turn.reply_at is not None:
            row["gap_ms"] = _ms(turn.reply_at - turn.last_voiced_at)
        # The n-th end of turn the client saw is the n-th caller message (an empty transcript
        # would break this pairing: then the server-side split is left out for the call).
        if len(callers) == len(clock.turns):
            user = callers[index]
            reply = next((m for m in messages if m.seq > user.seq and m.role == Role.ASSISTANT), None)
            row["heard"] = user.text
            if user.stt_ms is not None and reply is not None and reply.turn_ms is not None:
                row.update(
                    stt_ms=user.stt_ms,
                    tts_ms=reply.tts_first_byte_ms,
                    decision_ms=reply.turn_ms - user.stt_ms - (reply.tts_first_byte_ms or 0),
                    processing_ms=reply.turn_ms,
                )
                if "gap_ms" in row:
                    row["transport_ms"] = round(row["gap_ms"] - row["endpointing_ms"] - reply.turn_ms, 1)
        turns.append(row)
    greeting = None
    if clock.start_sent_at is not None and clock.first_agent_at is not None:
        greeting = _ms(clock.first_agent_at - clock.start_sent_at)
    return {
        "call_sid": call.sid,
        "status": call.status,
        "end_reason": call.end_reason,
        "greeting_ms": greeting,
        "turns": turns,
        "said": [line for line in (result.caller_lines if result else [])],
        "line_errors": result.errors if result else ["the call did not finish"],
        "lag_ms": result.lag_ms if result else None,
    }


def make_line(persona: str, hangover_ms: int, base_url: str) -> Any:
    from telephony.lines.simulated import SimulatedLine

    class TimedLine(SimulatedLine):
        clocks: list[CallClock] = []

        def _transport(self) -> Any:
            clock = CallClock(hangover_ms=hangover_ms)
            self.clocks.append(clock)
            return TimedTransport(super()._transport(), clock)

    return TimedLine(persona=persona, base_url=base_url, ring_ms=200)


def main(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {"WARM_MODELS": "true", "VAD_HANGOVER_MS": str(args.hangover_ms)}
    bench = common.prepare(services=args.services, overrides=overrides)
    server = common.Server(bench)
    began = time.monotonic()
    calls: list[dict[str, Any]] = []
    try:
        server.start()
        line = make_line(args.persona, args.hangover_ms, bench.base_url)
        total = args.warmup + args.calls
        for index in range(total):
            counted = index >= args.warmup
            label = f"call {index - args.warmup + 1}/{args.calls}" if counted else "warm-up call"
            common.progress(f"{label} ({time.monotonic() - began:.0f} s)")
            outcome = run_call(line, f"+1202555{index % 10000:04d}")
            if counted:
                calls.append(outcome)
        common.progress_done()
        cpu = common.proc_sample(server.pid)
    finally:
        server.stop()
        common.teardown(bench)
    return report(args, bench, calls, cpu, time.monotonic() - began)


def report(args: argparse.Namespace, bench: Any, calls: list[dict[str, Any]], cpu: Any, took: float) -> dict:
    turns = [t for c in calls for t in c["turns"]]
    figures = {
        "response_gap": common.summary(t["gap_ms"] for t in turns if "gap_ms" in t),
        "endpointing": common.summary(t["endpointing_ms"] for t in turns if "gap_ms" in t),
        "stt": common.summary(t["stt_ms"] for t in turns if "stt_ms" in t),
        "decision_writer": common.summary(t["decision_ms"] for t in turns if "decision_ms" in t),
        "tts_first_audio": common.summary(t["tts_ms"] for t in turns if t.get("tts_ms") is not None),
        "transport": common.summary(t["transport_ms"] for t in turns if "transport_ms" in t),
        "our_processing": common.summary(t["processing_ms"] for t in turns if "processing_ms" in t),
        "greeting": common.summary(c["greeting_ms"] for c in calls if c["greeting_ms"] is not None),
    }
    gap, processing, greeting = figures["response_gap"], figures["our_processing"], figures["greeting"]
    heard = [
        (t.get("heard", ""), said) for c in calls for t, said in zip(c["turns"], c["said"], strict=False)
    ]
    return {
        "benchmark": "latency",
        "command": " ".join(sys.argv),
        "machine": common.machine(),
        "setup": {
            "database_and_layer": bench.label,
            "persona": args.persona,
            "calls": args.calls,
            "warmup_calls": args.warmup,
            "vad_hangover_ms": args.hangover_ms,
            "providers": "local Whisper tiny.en + Piper, offline writer",
        },
        "figures_ms": figures,
        "targets_ms": TARGETS,
        "meets_targets": {
            "gap_p50": gap.get("p50", 1e9) <= TARGETS["gap_p50_ms"],
            "gap_p95": gap.get("p95", 1e9) <= TARGETS["gap_p95_ms"],
            "processing_p95": processing.get("p95", 1e9) <= TARGETS["processing_p95_ms"],
            "greeting_max": greeting.get("max", 1e9) <= TARGETS["greeting_ms"],
        },
        "transcripts_matching_script": sum(_same(a, b) for a, b in heard),
        "caller_turns": len(turns),
        "turns_without_reply": sum("gap_ms" not in t for t in turns),
        "outcomes": _count(f"{c['status']}/{c['end_reason']}" for c in calls),
        "line_errors": [e for c in calls for e in c["line_errors"]],
        "server_cpu_seconds": round(cpu.cpu_s, 1),
        "run_seconds": round(took, 1),
        "calls": calls,
    }


def _same(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return " ".join("".join(ch for ch in text.lower() if ch.isalnum() or ch == " ").split())

    return norm(a) == norm(b)


def _count(items: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


LABELS = {
    "response_gap": "response gap (last voiced frame → first reply frame)",
    "endpointing": "  endpointing (VAD hangover)",
    "stt": "  STT (Whisper)",
    "decision_writer": "  decision + writer",
    "tts_first_audio": "  TTS first audio (Piper)",
    "transport": "  transport (socket, player, queues)",
    "our_processing": "our processing (STT + decision + TTS first audio)",
    "greeting": "greeting (stream start → first agent frame)",
}


def print_report(report: dict[str, Any]) -> None:
    m, setup = report["machine"], report["setup"]
    print(
        f"{setup['calls']} calls, persona {setup['persona']}, {setup['database_and_layer']}, "
        f"VAD hangover {setup['vad_hangover_ms']} ms; {m['cpus']} cpus, load average "
        f"{m['load_average_1m']} (1 min) / {m['load_average_5m']} (5 min)"
    )
    rows = [
        (LABELS[key], f.get("n", 0), f.get("p50", "-"), f.get("p95", "-"), f.get("max", "-"))
        for key, f in report["figures_ms"].items()
    ]
    print(common.table(("ms", "n", "p50", "p95", "max"), rows))
    print(
        f"caller turns {report['caller_turns']}, without a reply {report['turns_without_reply']}, "
        f"transcripts matching the script {report['transcripts_matching_script']}; "
        f"outcomes {report['outcomes']}"
    )
    if report["line_errors"]:
        print("line errors:", report["line_errors"][:5])
    print("meets targets:", report["meets_targets"])
    print(f"total run time {report['run_seconds']} s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=None)
    parser.add_argument("--calls", type=int, default=20, help="calls measured (default 20)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted calls first (default 1)")
    parser.add_argument("--persona", default="interested", help="simulated callee (default interested)")
    parser.add_argument(
        "--hangover-ms", type=int, default=500, help="VAD_HANGOVER_MS for the server (default 500)"
    )
    parser.add_argument(
        "--services", action="store_true", help="PostgreSQL + channels-redis instead of SQLite + memory layer"
    )
    parser.add_argument("--out", default="", help="results file name (default latency[-services])")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    result = main(arguments)
    print_report(result)
    name = arguments.out or ("latency-services" if arguments.services else "latency")
    path = common.write_results(name, result)
    print(f"wrote {path.relative_to(common.ROOT)}")
