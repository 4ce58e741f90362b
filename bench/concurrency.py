"""Concurrent calls on one Daphne process, with zero-cost speech providers.

Run: `.venv/bin/python bench/concurrency.py [--calls 25 50 100 200 400] [--services]`.
For each K (after a single-call baseline) it starts a fresh Daphne with
`PROVIDER_OVERRIDES=stt=bench.fakes:ScriptedSTT,tts=bench.fakes:InstantTTS` and
`WARM_MODELS=false`, so what is measured is our own work: webhooks, framing, base64/JSON,
μ-law decoding, VAD, the consumer, the funnel and the database. K simulated callees (the
`interested` persona's Piper-spoken lines) run in this one asyncio process over real
WebSockets on loopback: each is a `SimulatedCall` (webhooks, TwiML, action URL, status
callbacks as Twilio does them) whose media loop is replaced by one shared ticker that sends
every call's pre-encoded 20 ms frame in turn, so the load generator stays cheap.
Writes `bench/results/concurrency[-services].json`.

Columns (see bench/README.md): late frames — agent frames that arrived more than 40 ms after
the server's pacing schedule (a run's first frame + 20 ms each, less the player's 240 ms lead);
gaps — agent audio underruns mid-line (the caller's playout ran dry); lost — frames missing
from a line (every fake TTS frame carries its index); turn gap — caller's last voiced frame
sent → first agent frame received; CPU — % of one core over the window when all K calls are
up; MB/call — the server's RSS growth from idle to that window, divided by K.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from telephony.audio import silence, split_frames  # noqa: E402

LATE_S = 0.040
TICK_S = 0.005  # the ticker wakes every 5 ms and serves a quarter of the calls
SLOTS = 4
PAUSE_S = 0.7  # the callee answers this long after the agent's audio ended
TARGETS = {"calls": 200, "gap_growth_p95_ms": 20, "lost_frames": 0, "mb_per_call": 5}
FAKES = "stt=bench.fakes:ScriptedSTT,tts=bench.fakes:InstantTTS"
CALL_LIMIT_S = 150  # a call takes ~50 s; one that is not over by then is hung up as failed


@dataclass
class Clip:
    bodies: list[str]  # the JSON tail of each frame's media message, payload included
    last_voiced: int  # index of the last frame webrtcvad calls speech


def prepare_clips() -> list[Clip]:
    from telephony.lines.personas import PERSONAS, speak_lines

    clips = asyncio.run(speak_lines(PERSONAS["interested"].lines))
    prepared = []
    for clip in clips:
        frames = split_frames(clip)
        bodies = [base64.b64encode(frame).decode("ascii") + '"}}' for frame in frames]
        prepared.append(Clip(bodies=bodies, last_voiced=last_voiced_frame(frames)))
    return prepared


def last_voiced_frame(frames: list[bytes]) -> int:
    """The clip's last frame the server's VAD counts as speech (silence around it, as on a call)."""
    from telephony.vad import TurnDetector, VadEvent

    lead = split_frames(silence(1000))
    detector, last = TurnDetector(hangover_ms=500), len(frames) - 1
    for index, frame in enumerate([*lead, *frames, *lead]):
        before = detector.voiced_ms
        result = detector.push(frame)
        started = result is not None and result.event is VadEvent.SPEECH_START
        if started or detector.voiced_ms > before:
            last = index - len(lead)
    return min(max(last, 0), len(frames) - 1)


SILENCE_BODY = base64.b64encode(bytes([0xFF]) * 160).decode("ascii") + '"}}'


@dataclass
class Stats:
    """One call's view of its stream."""

    start_sent_at: float = 0.0
    greeting_s: float | None = None
    gaps_s: list[float] = field(default_factory=list)
    frames: int = 0
    late: int = 0
    late_max_s: float = 0.0
    underruns: int = 0
    underrun_s: float = 0.0
    lost: int = 0
    clears: int = 0


class Stream:
    """The callee's side of one media stream, driven by the shared ticker and its receiver."""

    def __init__(self, link: Any, stream_sid: str, clips: list[Clip], lead_s: float) -> None:
        self.link, self.stats, self.clips, self.lead_s = link, Stats(), clips, lead_s
        self.prefix = '{"event": "media", "sequenceNumber": "'
        self.middle = f'", "streamSid": "{stream_sid}", "media": {{"track": "inbound", "chunk": "'
        self.mark_prefix = f'{{"event": "mark", "streamSid": "{stream_sid}", "mark": {{"name": '
        self.seq = 1  # `start` was sequence 1
        self.chunk = 0
        self.clip: Clip | None = None
        self.pos = 0
        self.next_line = 0
        self.heard_agent = False
        self.last_voiced_at: float | None = None
        self.play_end = 0.0  # when the agent audio queued so far will have played
        self.run_start = 0.0
        self.run_frames = 0
        self.marks: list[tuple[float, str]] = []
        self.expect: tuple[int, int] | None = None  # (next frame index, frame count) of the line
        self.closed = False

    # --- outbound: one frame per tick ---------------------------------------------------------

    def next_message(self, now: float) -> str:
        answer = self.clip is None and self.heard_agent and self.next_line < len(self.clips)
        if answer and now >= self.play_end + PAUSE_S:
            self.clip, self.pos, self.heard_agent = self.clips[self.next_line], 0, False
            self.next_line += 1
        if self.clip is not None:
            body = self.clip.bodies[self.pos]
            if self.pos == self.clip.last_voiced:
                self.last_voiced_at = now
            self.pos += 1
            if self.pos == len(self.clip.bodies):
                self.clip = None
        else:
            body = SILENCE_BODY
        self.seq += 1
        self.chunk += 1
        return (
            f'{self.prefix}{self.seq}{self.middle}{self.chunk}", "timestamp": "{self.chunk * 20}", '
            f'"payload": "{body}'
        )

    def due_marks(self, now: float) -> list[str]:
        due = []
        while self.marks and self.marks[0][0] <= now:
            due.append(self.marks.pop(0)[1])
        return due

    def mark_message(self, name: str) -> str:
        self.seq += 1
        return f'{self.mark_prefix}{json.dumps(name)}}}, "sequenceNumber": "{self.seq}"}}'

    # --- inbound ------------------------------------------------------------------------------

    async def receive(self) -> None:
        from bench.fakes import read_tag

        loop = asyncio.get_running_loop()
        while (text := await self.link.receive()) is not None:
            now = loop.time()
            if text.startswith('{"event": "media"'):
                at = text.find('"payload": "') + 12
                self.on_agent_frame(now, read_tag(base64.b64decode(text[at : at + 8])))
                continue
            message = json.loads(text)
            if message["event"] == "mark":
                name = message["mark"]["name"]
                if self.play_end <= now:
                    await self.link.send(self.mark_message(name))
                else:
                    self.marks.append((self.play_end, name))
            elif message["event"] == "clear":
                self.stats.clears += 1
                self.play_end, self.expect = now, None
                for name in [name for _, name in self.marks]:
                    await self.link.send(self.mark_message(name))
                self.marks = []
        self.closed = True
        if self.expect is not None:
            self.stats.lost += self.expect[1] - self.expect[0]

    def on_agent_frame(self, now: float, tag: tuple[int, int] | None) -> None:
        stats = self.stats
        stats.frames += 1
        self.heard_agent = True
        if stats.greeting_s is None:
            stats.greeting_s = now - stats.start_sent_at
        if self.last_voiced_at is not None and self.clip is None:
            stats.gaps_s.append(now - self.last_voiced_at)
            self.last_voiced_at = None
        index = tag[0] if tag else 0
        if self.play_end < now:  # the caller's playout ran dry
            if index > 0:
                stats.underruns += 1
                stats.underrun_s += now - self.play_end
            self.run_start, self.run_frames = now, 0
        due = self.run_start + max(0.0, self.run_frames * 0.02 - self.lead_s)
        stats.late_max_s = max(stats.late_max_s, now - due)
        if now - due > LATE_S:
            stats.late += 1
        self.run_frames += 1
        self.play_end = max(self.play_end, now) + 0.02
        if tag is not None:
            self.check_order(*tag)

    def check_order(self, index: int, count: int) -> None:
        if self.expect is not None and index != self.expect[0]:
            if index == 0:  # a new line began before the last one was complete
                self.stats.lost += self.expect[1] - self.expect[0]
            else:
                self.stats.lost += abs(index - self.expect[0])
        self.expect = (index + 1, count) if index + 1 < count else None


class Ticker:
    """Every call's next 20 ms frame, sent from one task: a quarter of the calls each 5 ms."""

    def __init__(self) -> None:
        self.slots: list[list[Stream]] = [[] for _ in range(SLOTS)]
        self.behind_max_s = 0.0
        self._added = 0

    def add(self, stream: Stream) -> None:
        self.slots[self._added % SLOTS].append(stream)
        self._added += 1

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        due, slot = loop.time(), 0
        while not stop.is_set():
            now = loop.time()
            self.behind_max_s = max(self.behind_max_s, now - due)
            streams = self.slots[slot]
            for stream in list(streams):
                if stream.closed:
                    streams.remove(stream)
                    continue
                await stream.link.send(stream.next_message(loop.time()))
                for name in stream.due_marks(now) if stream.marks else ():
                    await stream.link.send(stream.mark_message(name))
            slot = (slot + 1) % SLOTS
            due += TICK_S
            if due < loop.time() - 0.1:
                due = loop.time()  # fell far behind: skip ahead rather than burst
            await asyncio.sleep(max(0.0, due - loop.time()))


def make_call_class() -> type:
    from telephony.lines.simulated_call import SimulatedCall

    class LoadCall(SimulatedCall):
        """A SimulatedCall whose media loop is the shared ticker's (cheap at hundreds of calls)."""

        ticker: Ticker
        clips: list[Clip]
        lead_s: float
        stream: Stream | None = None

        async def _stream(self, verb: Any) -> bool:
            link = await self.transport.open_stream(verb.stream_url)
            stream_sid = "MZ" + secrets.token_hex(16)
            self.result.stream_sid = stream_sid
            await link.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            start = {
                "accountSid": self.account_sid,
                "streamSid": stream_sid,
                "callSid": self.result.provider_sid,
                "tracks": ["inbound"],
                "customParameters": verb.parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            }
            self.stream = stream = Stream(link, stream_sid, self.clips, self.lead_s)
            stream.stats.start_sent_at = asyncio.get_running_loop().time()
            await self._send(link, stream_sid, "start", start=start)
            self.ticker.add(stream)
            receiving = asyncio.create_task(stream.receive())
            hung_up = asyncio.create_task(self._ended.wait())
            await asyncio.wait(
                {receiving, hung_up}, timeout=self.time_limit_ms / 1000, return_when=asyncio.FIRST_COMPLETED
            )
            hung_up.cancel()
            by_server = receiving.done()
            if not by_server:  # the line hung up (the warm-up call does) or the call ran too long
                stream.closed = True
                stop = {"accountSid": self.account_sid, "callSid": self.result.provider_sid}
                await self._send(link, stream_sid, "stop", stop=stop)
                receiving.cancel()
            self.result.stream_ended_by = "server" if by_server else "line"
            await link.close()
            return by_server

    return LoadCall


@dataclass
class Window:
    """Server (and client) samples while all K calls are up."""

    idle: common.ProcSample | None = None
    first: common.ProcSample | None = None
    last: common.ProcSample | None = None
    client_first: common.ProcSample | None = None
    client_last: common.ProcSample | None = None
    peak_rss_kb: int = 0


async def run_load(
    bench: common.BenchEnv,
    server: common.Server,
    calls: list[Any],
    clips: list[Clip],
    *,
    warmup: bool = False,
) -> dict:
    from calls.models import Call
    from telephony.lines.simulated import SIMULATED_FROM_NUMBER, signing_token
    from telephony.lines.simulated_call import CallParty
    from telephony.lines.transport import NetworkTransport
    from telephony.playback import LEAD_MS

    call_class = make_call_class()
    ticker = Ticker()
    call_class.ticker, call_class.clips, call_class.lead_s = ticker, clips, LEAD_MS / 1000
    transport = NetworkTransport(bench.base_url)
    sessions = []
    for call in calls:
        assert isinstance(call, Call)
        sessions.append(
            call_class(
                party=CallParty(
                    call_sid=call.sid, to_number=call.to_number, from_number=SIMULATED_FROM_NUMBER
                ),
                persona=_persona(),
                transport=transport,
                base_url=bench.base_url,
                auth_token=signing_token(),
                ring_ms=100,
                time_limit_s=CALL_LIMIT_S,
            )
        )
    window = Window(idle=common.proc_sample(server.pid))
    stop = asyncio.Event()
    ticking = asyncio.create_task(ticker.run(stop))
    # Calls arrive at 10 a second (up to 20 a second for K=400): setting a call up is real work too.
    ramp_s = min(20.0, len(sessions) / 10)
    began = time.monotonic()

    async def placed(index: int, session: Any) -> Any:
        await asyncio.sleep(ramp_s * index / len(sessions))
        if warmup:
            hangups.append(asyncio.create_task(_hang_up_after_first_turn(session)))
        return await session.run()

    hangups: list[asyncio.Task[None]] = []
    tasks = [asyncio.create_task(placed(i, s)) for i, s in enumerate(sessions)]
    watcher = asyncio.create_task(_watch(server, sessions, window, len(sessions)))
    while not all(t.done() for t in tasks):
        await asyncio.wait(tasks, timeout=2)
        common.progress(
            f"K={len(sessions)}: {sum(s.stream is not None and not s.stream.closed for s in sessions)} up, "
            f"{sum(t.done() for t in tasks)} calls done ({time.monotonic() - began:.0f} s)"
        )
    common.progress_done()
    stop.set()
    watcher.cancel()
    await asyncio.gather(ticking, watcher, return_exceptions=True)
    await transport.aclose()
    return summarize(sessions, [t.result() for t in tasks], window, ticker, time.monotonic() - began)


async def _hang_up_after_first_turn(session: Any) -> None:
    while session.stream is None or not session.stream.stats.gaps_s:
        await asyncio.sleep(0.1)
    session.request_hangup()


def _persona() -> Any:
    from telephony.lines.personas import PERSONAS

    return PERSONAS["interested"]


async def _watch(server: common.Server, sessions: list[Any], window: Window, k: int) -> None:
    """Sample the server from the moment all K streams are up until the first one ends."""
    while True:
        await asyncio.sleep(0.5)
        up = [s.stream for s in sessions if s.stream is not None]
        sample = common.proc_sample(server.pid)
        window.peak_rss_kb = max(window.peak_rss_kb, sample.rss_kb)
        if any(stream.closed for stream in up):
            return
        if len(up) == k:
            if window.first is None:
                window.first, window.client_first = sample, common.proc_sample(os.getpid())
            window.last, window.client_last = sample, common.proc_sample(os.getpid())


def summarize(sessions: list[Any], results: list[Any], window: Window, ticker: Ticker, took: float) -> dict:
    streams = [s.stream for s in sessions if s.stream is not None]
    stats = [s.stats for s in streams]
    frames = sum(s.frames for s in stats)
    row: dict[str, Any] = {
        "calls": len(sessions),
        "streams": len(streams),
        "line_errors": sum(len(r.errors) for r in results),
        "frames_received": frames,
        "late_frames": sum(s.late for s in stats),
        "late_percent": round(100 * sum(s.late for s in stats) / frames, 3) if frames else 0.0,
        "late_max_ms": round(1000 * max((s.late_max_s for s in stats), default=0.0), 1),
        "gaps": sum(s.underruns for s in stats),
        "gap_ms_total": round(1000 * sum(s.underrun_s for s in stats)),
        "lost_frames": sum(s.lost for s in stats),
        "clears": sum(s.clears for s in stats),
        "turn_gap_ms": common.summary(1000 * g for s in stats for g in s.gaps_s),
        "greeting_ms": common.summary(1000 * s.greeting_s for s in stats if s.greeting_s is not None),
        "caller_turns": sum(len(s.gaps_s) for s in stats),
        "client_behind_max_ms": round(ticker.behind_max_s * 1000, 1),
        "run_seconds": round(took, 1),
    }
    if window.idle and window.first and window.last and window.last.at - window.first.at >= 2:
        row["window_seconds"] = round(window.last.at - window.first.at, 1)
        row["server_cpu_percent"] = common.cpu_percent(window.first, window.last)
        if window.client_first and window.client_last:
            row["client_cpu_percent"] = common.cpu_percent(window.client_first, window.client_last)
        row["server_rss_idle_mb"] = round(window.idle.rss_kb / 1024, 1)
        row["server_rss_peak_mb"] = round(window.peak_rss_kb / 1024, 1)
        row["mb_per_call"] = round((window.last.rss_kb - window.idle.rss_kb) / 1024 / len(sessions), 2)
    return row


def run_k(k: int, bench: common.BenchEnv, clips: list[Clip]) -> dict[str, Any]:
    from calls import services
    from calls.models import Call

    server = common.Server(bench)
    server.start()
    try:
        warm = [services.call_create(to_number="+12025550100").call]
        asyncio.run(run_load(bench, server, warm, clips, warmup=True))  # imports, caches: not counted
        calls = [services.call_create(to_number=f"+1202555{i % 10000:04d}").call for i in range(k)]
        row = asyncio.run(run_load(bench, server, calls, clips))
        done = Call.objects.filter(sid__in=[c.sid for c in calls])
        row["outcomes"] = {
            f"{status}/{reason}": done.filter(status=status, end_reason=reason).count()
            for status, reason in set(done.values_list("status", "end_reason"))
        }
        return row
    finally:
        server.stop()


def keeps_real_time(row: dict[str, Any]) -> bool:
    completed = row.get("outcomes", {}).get("completed/converted", 0)
    return (
        row["lost_frames"] == 0
        and row["gaps"] == 0
        and row["late_percent"] < 1.0
        and completed == row["calls"]
        and row["line_errors"] == 0
    )


def main(args: argparse.Namespace) -> dict[str, Any]:
    began = time.monotonic()
    bench = common.prepare(
        services=args.services, overrides={"PROVIDER_OVERRIDES": FAKES, "WARM_MODELS": "false"}
    )
    try:
        clips = prepare_clips()
        rows = []
        for k in [1, *args.calls]:
            rows.append(run_k(k, bench, clips))
            common.progress_done()
            print(_line(rows[-1]), flush=True)
            common.write_results(args.out or _name(args), build(args, bench, rows, began))  # so far
    finally:
        common.teardown(bench)
    return build(args, bench, rows, began)


def _name(args: argparse.Namespace) -> str:
    return "concurrency-services" if args.services else "concurrency"


def build(args: argparse.Namespace, bench: common.BenchEnv, rows: list[dict], began: float) -> dict:
    baseline = rows[0]["turn_gap_ms"].get("p95", float("nan"))
    for row in rows:
        row["turn_gap_growth_p95_ms"] = round(row["turn_gap_ms"].get("p95", float("nan")) - baseline, 1)
        row["keeps_real_time"] = keeps_real_time(row)
    real_time = [row["calls"] for row in rows if row["keeps_real_time"]]
    return {
        "benchmark": "concurrency",
        "command": " ".join(sys.argv),
        "machine": common.machine(),
        "setup": {
            "database_and_layer": bench.label,
            "providers": FAKES,
            "callee": "interested persona (Piper-spoken lines), one asyncio process, real WebSockets",
        },
        "rows": rows,
        "largest_k_in_real_time": max(real_time) if real_time else 0,
        "targets": TARGETS,
        "run_seconds": round(time.monotonic() - began, 1),
    }


def _line(row: dict[str, Any]) -> str:
    gap = row["turn_gap_ms"]
    return (
        f"K={row['calls']}: gap p95 {gap.get('p95')} ms, late {row['late_frames']}, "
        f"lost {row['lost_frames']}, "
        f"gaps {row['gaps']}, server CPU {row.get('server_cpu_percent', '-')}%, "
        f"client CPU {row.get('client_cpu_percent', '-')}%, {row.get('mb_per_call', '-')} MB/call"
    )


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(
        f"{report['setup']['database_and_layer']}, zero-cost providers; {m['cpus']} cpus, load average "
        f"{m['load_average_1m']} (1 min) / {m['load_average_5m']} (5 min)"
    )
    headers = (
        "K", "completed", "late frames", "gaps", "lost", "turn gap p50", "p95", "max", "p95 growth",
        "greeting p95", "server CPU %", "client CPU %", "MB/call", "real time",
    )  # fmt: skip
    rows = []
    for row in report["rows"]:
        gap = row["turn_gap_ms"]
        rows.append(
            (
                row["calls"],
                row.get("outcomes", {}).get("completed/converted", 0),
                f"{row['late_frames']} ({row['late_percent']}%)",
                row["gaps"],
                row["lost_frames"],
                gap.get("p50", "-"),
                gap.get("p95", "-"),
                gap.get("max", "-"),
                row["turn_gap_growth_p95_ms"],
                row["greeting_ms"].get("p95", "-"),
                row.get("server_cpu_percent", "-"),
                row.get("client_cpu_percent", "-"),
                row.get("mb_per_call", "-"),
                "yes" if row["keeps_real_time"] else "no",
            )
        )
    print(common.table(headers, rows))
    print(f"largest K in real time: {report['largest_k_in_real_time']}")
    print(f"total run time {report['run_seconds']} s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--calls", type=int, nargs="+", default=[25, 50, 100, 200, 400], help="K values (default 25 … 400)"
    )
    parser.add_argument(
        "--services", action="store_true", help="PostgreSQL + channels-redis instead of SQLite + memory layer"
    )
    parser.add_argument("--out", default="", help="results file name (default concurrency[-services])")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    result = main(arguments)
    print_report(result)
    path = common.write_results(arguments.out or _name(arguments), result)
    print(f"wrote {path.relative_to(common.ROOT)}")
