"""Scripted calls (seed 000): say the message, then "Goodbye!", then hang up. No Django here.

Nothing the caller says changes the line or the flow; their words are still recorded with an intent,
so a do-not-call request is honoured (the conversation adds the number) even here.
"""

from __future__ import annotations

from funnel.classifier import classify_rules
from funnel.policies.base import DELIVERED, END, SILENCE_TIMEOUT, Decision, Turn, fixed


class ScriptedPolicy:
    def __init__(self, *, message: str) -> None:
        self.message = message.strip()
        self.state = ""
        self.history: list[dict[str, str]] = []

    def opening(self) -> Turn:
        return fixed(Decision(f"{self.message} Goodbye!", "", END, DELIVERED, ""))

    async def on_utterance(self, text: str) -> Turn:
        return Turn(decision=Decision("", "", END, DELIVERED, classify_rules(text).value))

    def on_silence(self) -> Turn:
        return Turn(decision=Decision("", "", END, SILENCE_TIMEOUT, "silence"))
