"""One decision per caller turn, and the reply that speaks it. No Django here.

A policy answers each event (answer, utterance, silence) with a `Turn`: the `Decision` code made and
the pieces of the line — fixed text, or streamed parts from a writer or chat model. `Reply` plays the
pieces sentence by sentence; if a streamed part fails it speaks the policy's fallback line instead and
the decision becomes end / `llm_error`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from funnel.writers import split_sentences
from telephony.providers.base import ProviderError

Action = Literal["continue", "end", "transfer"]
CONTINUE: Action = "continue"
END: Action = "end"
TRANSFER: Action = "transfer"

# End reasons the policies give (calls.Call.end_reason).
CALLER_DNC = "caller_dnc"
HANDOFF = "handoff"
HANDOFF_UNCONFIGURED = "handoff_unconfigured"
NOT_INTERESTED = "not_interested"
CALLER_GOODBYE = "caller_goodbye"
SILENCE_TIMEOUT = "silence_timeout"
LLM_ERROR = "llm_error"
CONVERTED = "converted"
UNCLEAR = "unclear"
DELIVERED = "delivered"
COMPLETED = "completed"

FALLBACK_LINE = "Sorry, I'm having some trouble on my end, so I'll let you go. Goodbye!"
SILENCE_LINE = "It seems I've lost you, so I'll let you go. Goodbye!"
TRANSFER_LINE = "Transferring you now."
NO_TRANSFER_LINE = "I'm sorry, I can't transfer you right now. Please call us back later. Goodbye!"
DNC_LINE = "Understood. I've taken your number off our list and we won't call you again. Goodbye!"


@dataclass(frozen=True)
class Decision:
    say: str  # the whole line; for streamed lines it is filled in once the line is complete
    next_state: str  # funnel State value; "" for modes without a funnel
    action: Action = CONTINUE
    end_reason: str = ""
    intent: str = ""

    @property
    def final(self) -> bool:
        return self.action != CONTINUE


# A streamed piece yields text chunks, or a Decision that replaces the turn's decision (a tool call).
Streamed = Callable[[], AsyncIterator["str | Decision"]]
Piece = str | Streamed


@dataclass
class Turn:
    decision: Decision
    pieces: list[Piece] = field(default_factory=list)
    from_state: str = ""
    fallback: str = FALLBACK_LINE


class Policy(Protocol):
    """One per call. `state` is the funnel state ("" outside the funnel); `history` is what was said."""

    state: str
    history: list[dict[str, str]]

    def opening(self) -> Turn: ...

    async def on_utterance(self, text: str) -> Turn: ...

    def on_silence(self) -> Turn: ...


def fixed(decision: Decision, from_state: str = "") -> Turn:
    """A turn whose whole line is `decision.say`."""
    return Turn(decision=decision, pieces=[decision.say] if decision.say else [], from_state=from_state)


OnDecision = Callable[[Decision, Decision], Awaitable[None]]


class Reply:
    """The line of one turn, sentence by sentence. `decision` is final once `sentences()` is drained."""

    def __init__(self, turn: Turn, *, started: float | None = None, on_decision: OnDecision | None = None):
        self.turn = turn
        self.decision = turn.decision
        self.llm_ms: int | None = None
        self._started = started if started is not None else time.monotonic()
        self._on_decision = on_decision
        self._spoken: list[str] = []
        self._done = False

    @property
    def text(self) -> str:
        return " ".join(self._spoken)

    @property
    def done(self) -> bool:
        return self._done

    async def sentences(self) -> AsyncIterator[str]:
        if self._done:  # a second pass replays the line without running the writer again
            for sentence in list(self._spoken):
                yield sentence
            return
        buffer = ""
        try:
            for piece in self.turn.pieces:
                if isinstance(piece, str):
                    buffer = f"{buffer} {piece}".strip() + " "
                    done, buffer = split_sentences(buffer)
                    for sentence in done:
                        yield self._spoke(sentence)
                    continue
                async with contextlib.aclosing(piece()) as stream:
                    async for item in stream:
                        if isinstance(item, Decision):
                            await self._decide(item)
                            continue
                        buffer += item
                        done, buffer = split_sentences(buffer)
                        for sentence in done:
                            yield self._spoke(sentence)
            if buffer.strip():
                yield self._spoke(buffer.strip())
        except (ProviderError, TimeoutError):
            # The unfinished sentence is dropped: the caller hears whole sentences only.
            await self._decide(
                replace(self.decision, action=END, end_reason=LLM_ERROR, next_state=_end_state(self.decision))
            )
            done, rest = split_sentences(self.turn.fallback + " ")
            for sentence in [*done, rest.strip()]:
                if sentence:
                    yield self._spoke(sentence)
        self._done = True
        if self.decision.say != self.text:
            self.decision = replace(self.decision, say=self.text)

    async def drain(self) -> str:
        async for _ in self.sentences():
            pass
        return self.text

    def _spoke(self, sentence: str) -> str:
        if self.llm_ms is None:
            self.llm_ms = int((time.monotonic() - self._started) * 1000)
        self._spoken.append(sentence)
        return sentence

    async def _decide(self, decision: Decision) -> None:
        previous, self.decision = self.decision, decision
        if self._on_decision is not None:
            await self._on_decision(previous, decision)


def _end_state(decision: Decision) -> str:
    return "END" if decision.next_state else ""
