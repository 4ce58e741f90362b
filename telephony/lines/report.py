"""What `place_call` prints: the live transcript with each turn's timings, and the summary.

It reads only the database (the Messages the Conversation persists and the Call's status), so
a Twilio call and a simulated one print the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from calls.models import Call, Message, Role

FAILED_STATUSES = frozenset({"failed", "busy", "no-answer", "canceled"})


def format_message(message: Message, call: Call) -> str:
    at = (message.created_at - call.created_at).total_seconds()
    clock = f"{int(at // 60)}:{at % 60:04.1f}"
    if message.role == Role.ASSISTANT:
        who, state = "agent ", message.funnel_state
        timings = _timings(llm=message.llm_ms, tts=message.tts_first_byte_ms, turn=message.turn_ms)
    else:
        who, state = "caller", message.funnel_state
        timings = _timings(stt=message.stt_ms)
    tags = " ".join(t for t in (state, message.intent) if t)
    cut = " [interrupted]" if message.interrupted else ""
    text = message.text or "…"
    line = f"  {clock:>6}  {who}  {tags:<24} {text}{cut}"
    return f"{line}   ({timings})" if timings else line


def _timings(**values: int | None) -> str:
    return ", ".join(f"{name} {value} ms" for name, value in values.items() if value is not None)


def funnel_path(messages: Iterable[Message]) -> list[str]:
    """The funnel states the call went through, in order, from its Messages."""
    path: list[str] = []
    for message in messages:
        if message.funnel_state and (not path or path[-1] != message.funnel_state):
            path.append(message.funnel_state)
    return path


def percentile(values: list[int], pct: float) -> int | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    status: str
    end_reason: str
    path: list[str]
    duration_s: float | None
    turns: int
    p50_ms: int | None
    p95_ms: int | None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    def lines(self) -> list[str]:
        duration = f"{self.duration_s:.1f} s" if self.duration_s is not None else "not answered"
        turn = (
            f"turn time p50 {self.p50_ms} ms, p95 {self.p95_ms} ms"
            if self.p50_ms is not None
            else "no answered turns"
        )
        return [
            f"Status      {self.status}" + (f" (end reason: {self.end_reason})" if self.end_reason else ""),
            f"Funnel path {' → '.join(self.path) if self.path else '—'}",
            f"Duration    {duration}, {self.turns} messages, {turn}",
        ]


def summarize(call: Call, messages: list[Message]) -> Summary:
    # The opening has no caller turn before it: turn time is how fast we answer the caller.
    answers = [m.turn_ms for m in messages[1:] if m.role == Role.ASSISTANT and m.turn_ms is not None]
    duration = None
    if call.answered_at is not None:
        # A transferred call is still up with the person it went to: count to our last word.
        until = call.ended_at or (messages[-1].created_at if messages else call.answered_at)
        duration = max(0.0, (until - call.answered_at).total_seconds())
    return Summary(
        status=call.status,
        end_reason=call.end_reason,
        path=funnel_path(messages),
        duration_s=duration,
        turns=len(messages),
        p50_ms=percentile(answers, 50),
        p95_ms=percentile(answers, 95),
    )
