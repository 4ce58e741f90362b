"""The funnel policy: seed 004's sales call, one decision per caller turn. No Django here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from funnel.classifier import IntentClassifier
from funnel.engine import State, advance
from funnel.intents import Intent
from funnel.policies.base import (
    CALLER_DNC,
    CALLER_GOODBYE,
    CONTINUE,
    CONVERTED,
    DNC_LINE,
    END,
    HANDOFF,
    HANDOFF_UNCONFIGURED,
    NO_TRANSFER_LINE,
    NOT_INTERESTED,
    SILENCE_LINE,
    SILENCE_TIMEOUT,
    TRANSFER,
    TRANSFER_LINE,
    UNCLEAR,
    Decision,
    Turn,
    fixed,
)
from funnel.prompts import ScriptLines
from funnel.writers import LineKind, LineRequest, LineWriter, state_question


class FunnelPolicy:
    def __init__(
        self,
        *,
        script: ScriptLines,
        classifier: IntentClassifier,
        writer: LineWriter,
        handoff_configured: bool,
    ) -> None:
        self.script = script
        self.classifier = classifier
        self.writer = writer
        self.handoff_configured = handoff_configured
        self.state: str = State.INIT
        self.reasks = 0
        self.history: list[dict[str, str]] = []

    def opening(self) -> Turn:
        return self._decide(Intent.ANSWERED)

    async def on_utterance(self, text: str) -> Turn:
        intent = await self.classifier.classify(
            text, state=self.state, question=state_question(self.state, self.script)
        )
        return self._decide(intent)

    def on_silence(self) -> Turn:
        return self._decide(Intent.SILENCE)

    def _decide(self, intent: Intent) -> Turn:
        before = State(self.state)
        after = advance(before, intent, reasks=self.reasks)
        turn = self._turn(before, after, intent)
        turn.from_state = before
        self.reasks = self.reasks + 1 if (intent is Intent.UNCLEAR and after is before) else 0
        self.state = after
        return turn

    def _turn(self, before: State, after: State, intent: Intent) -> Turn:
        s = self.script

        def end(say: str, reason: str, action: str = END) -> Turn:
            return fixed(Decision(say, State.END, action, reason, intent))  # type: ignore[arg-type]

        match intent:
            case Intent.DO_NOT_CALL:
                return end(DNC_LINE, CALLER_DNC)
            case Intent.WANTS_HUMAN if self.handoff_configured:
                return end(TRANSFER_LINE, HANDOFF, TRANSFER)
            case Intent.WANTS_HUMAN:
                return end(NO_TRANSFER_LINE, HANDOFF_UNCONFIGURED)
            case Intent.GOODBYE:
                return end("Thanks for your time. Goodbye!", CALLER_GOODBYE)
            case Intent.NOT_INTERESTED:
                return end(
                    "No problem at all. Thanks for your time, and have a great day. Goodbye!", NOT_INTERESTED
                )
            case Intent.SILENCE:
                return end(SILENCE_LINE, SILENCE_TIMEOUT)
            case Intent.UNCLEAR if after is State.END:
                return end(
                    "I'm sorry, I'm having trouble understanding, so I'll let you go. Thanks, and goodbye!",
                    UNCLEAR,
                )
            case Intent.INTERESTED if after is State.END:
                return end(
                    f"Wonderful, you're all set. Someone from {s.company} will confirm the details shortly. "
                    "Thanks so much, and have a great day!",
                    CONVERTED,
                )
            case Intent.ASKS_IF_AI:
                confirm = f"Yes, I'm an AI assistant calling on behalf of {s.company}."
                return self._written(after, intent, "ai", prefix=confirm)
            case Intent.UNCLEAR:
                return self._written(after, intent, "reask", attempt=self.reasks + 1)
            case _:  # answered, or interested: the next step's own line
                return self._written(after, intent, "state")

    def _written(
        self, state: State, intent: Intent, kind: LineKind, *, prefix: str = "", attempt: int = 0
    ) -> Turn:
        request = LineRequest(
            state=state, script=self.script, kind=kind, attempt=attempt, history=list(self.history)
        )
        pieces: list = [prefix] if prefix else []
        pieces.append(partial(_stream, self.writer, request))
        return Turn(decision=Decision("", state, CONTINUE, "", intent), pieces=pieces)


async def _stream(writer: LineWriter, request: LineRequest) -> AsyncIterator[str]:
    async for chunk in writer.write(request):
        yield chunk
