"""A reply being said: its segments, what the caller heard of it, and its timings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from telephony.playback import Segment
from telephony.providers.base import TextToSpeech


@dataclass(eq=False)
class Speaking:
    reply: Any
    segments: list[Segment] = field(default_factory=list)
    tts_first_byte_ms: int | None = None
    turn_ms: int | None = None
    recorded: bool = False

    @property
    def interruptible(self) -> bool:
        # Read live: a tool call or a writer failure can turn the line into the last one.
        return self.reply.decision.action == "continue"

    def heard_text(self, now: float | None = None) -> str:
        """Sentences whose marks came back, then the words of the next one in proportion
        to how much of its audio had played when we stopped."""
        now = time.monotonic() if now is None else now
        heard: list[str] = []
        for segment in self.segments:
            if segment.heard:
                heard.append(segment.text)
                continue
            words = segment.text.split()
            count = int(len(words) * segment.heard_fraction(now))
            if count:
                heard.append(" ".join(words[:count]))
            break
        return " ".join(heard)


async def synthesize_all(tts: TextToSpeech | None, text: str) -> bytes:
    if tts is None:
        return b""
    chunks = [chunk async for chunk in tts.synthesize(text)]
    return b"".join(chunks)
