"""Simulated callees: who answers a simulated call, what they say, and when.

A persona follows its script one line per agent turn: it waits until the agent's audio has
played and a short pause has passed (as a person would), then speaks its next line; the
`interrupts` persona instead starts talking while the agent is still speaking. It hears the
agent only as audio, so it never reads what the agent meant; lines run out, it stays silent.
Lines are spoken by the local Piper voice and sent as μ-law, like any caller's audio.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from telephony.audio import silence

# One happy path through the funnel: intro → qualify → pitch → close.
_BUYS = (
    "Yes, sure, go ahead.",
    "Yes, we own our home, and the bill is about two hundred dollars a month.",
    "That sounds good, tell me more.",
    "Yes please, book it for Thursday.",
)


class UnknownPersona(ValueError):
    pass


@dataclass(frozen=True)
class Persona:
    name: str
    description: str
    lines: tuple[str, ...]
    # Talk over the agent once this much of its turn has played (None: wait for it to finish).
    interrupt_after_ms: int | None = None
    # How long the callee waits after the agent stops before answering.
    pause_ms: int = 700


PERSONAS: dict[str, Persona] = {
    p.name: p
    for p in (
        Persona("interested", "answers every question and books the consultation", _BUYS),
        Persona("not_interested", "declines at once", ("No thanks, I'm not interested.",)),
        Persona(
            "unclear",
            "mumbles and asks what it is about, then warms up and buys",
            ("Um, sorry, what?", "Hmm, I don't know, maybe.", *_BUYS),
        ),
        Persona(
            "asks_if_ai",
            "asks whether it is talking to a machine, then goes along",
            ("Wait, are you a robot?", *_BUYS),
        ),
        Persona("wants_human", "asks for a person", ("Let me speak to a human, please.",)),
        Persona(
            "do_not_call",
            "asks to be taken off the list",
            ("Please take me off your list and don't call me again.",),
        ),
        Persona("silent", "picks up and says nothing", ()),
        Persona(
            "interrupts",
            "talks over the agent a second into each of its turns",
            _BUYS,
            interrupt_after_ms=1200,
        ),
    )
}


def get_persona(name: str = "", *, say: list[str] | tuple[str, ...] = ()) -> Persona:
    """A persona by name, or a free list of lines (`--say`) spoken one per agent turn."""
    if say:
        lines = tuple(line.strip() for line in say if line.strip())
        if not lines:
            raise UnknownPersona("--say needs at least one non-empty line")
        return Persona("custom", "speaks the given lines", lines)
    try:
        return PERSONAS[name]
    except KeyError:
        raise UnknownPersona(f"unknown persona {name!r}; choose one of {', '.join(PERSONAS)}") from None


@dataclass
class Hearing:
    """What the callee can tell from the line, updated every 20 ms frame."""

    agent_playing: bool  # agent audio is playing in this frame
    agent_turn_ms: int  # how much of the agent's current turn has played
    quiet_ms: int  # how long since the agent last made a sound


class Callee:
    """Decides, frame by frame, when the persona starts its next line."""

    def __init__(self, persona: Persona, clips: list[bytes], *, pause_ms: int | None = None) -> None:
        if len(clips) != len(persona.lines):
            raise ValueError("one audio clip per persona line")
        self.persona = persona
        self.pause_ms = pause_ms if pause_ms is not None else persona.pause_ms
        self._clips = clips
        self._next = 0
        self._heard_agent = False  # agent spoke since our last line

    @property
    def lines_left(self) -> int:
        return len(self._clips) - self._next

    def on_agent_audio(self) -> None:
        self._heard_agent = True

    def decide(self, hearing: Hearing) -> tuple[str, bytes] | None:
        """The line to start now, if any. Called only while the callee is not already talking."""
        if not self._heard_agent or self._next >= len(self._clips):
            return None
        interrupt = self.persona.interrupt_after_ms
        talk_over = interrupt is not None and hearing.agent_playing and hearing.agent_turn_ms >= interrupt
        answer = not hearing.agent_playing and hearing.quiet_ms >= self.pause_ms
        if not (talk_over or answer):
            return None
        line, clip = self.persona.lines[self._next], self._clips[self._next]
        self._next += 1
        self._heard_agent = False
        return line, clip


_spoken: dict[str, bytes] = {}  # personas repeat their lines: synthesise each once per process
_SPOKEN_MAX = 256


async def speak_lines(lines: tuple[str, ...]) -> list[bytes]:
    """Each line as μ-law 8 kHz, by the local Piper voice (loaded once per process)."""
    from telephony.providers.local_tts import synthesize_whole

    clips: list[bytes] = []
    for line in lines:
        if line not in _spoken:
            # Whole lines: a person says a sentence in one breath, not in the agent's short pieces.
            audio = await asyncio.to_thread(synthesize_whole, line)
            if len(_spoken) >= _SPOKEN_MAX:
                _spoken.clear()
            # A short lead-in so the first syllable is not clipped by the agent's VAD.
            _spoken[line] = silence(100) + audio
        clips.append(_spoken[line])
    return clips
