"""The three provider roles the voice pipeline and the funnel depend on.

Every implementation is one small class; the factory in `telephony.providers.factory`
chooses one per role from settings. Nothing here imports Django.

Audio at these boundaries is always G.711 μ-law, 8 kHz mono (what Twilio carries), so no
caller converts formats: providers that need PCM convert inside.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class ProviderError(Exception):
    """A provider failed; `role` is stt/tts/llm and `provider` its name."""

    def __init__(self, role: str, provider: str, message: str) -> None:
        super().__init__(f"{role}/{provider}: {message}")
        self.role = role
        self.provider = provider


class ProviderTimeout(ProviderError):
    pass


class ProviderUnavailable(ProviderError):
    """Not configured, or its model/SDK could not be loaded."""


# --- speech to text ---------------------------------------------------------------------


@dataclass(frozen=True)
class Transcript:
    text: str
    is_final: bool = True
    confidence: float | None = None


PartialHandler = Callable[[Transcript], Awaitable[None]]


@runtime_checkable
class STTSession(Protocol):
    """One per call. The pipeline feeds the caller's audio and asks for the final text
    when its VAD decides the caller's turn is over."""

    async def feed(self, mulaw: bytes) -> None:
        """Audio of the current utterance, 20 ms frames, in order."""

    async def end_utterance(self) -> Transcript:
        """Final transcript of everything fed since the last call; then starts afresh."""

    async def discard(self) -> None:
        """Drop audio fed since the last end_utterance (noise that never became a turn)."""

    async def close(self) -> None: ...


@runtime_checkable
class SpeechToText(Protocol):
    name: str

    async def open(self, *, on_partial: PartialHandler | None = None) -> STTSession: ...


# --- text to speech ---------------------------------------------------------------------


@runtime_checkable
class TextToSpeech(Protocol):
    name: str

    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """μ-law 8 kHz chunks of any length, the first as early as possible."""


# --- language model ---------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = ""


@dataclass(frozen=True)
class ChatDelta:
    """One streamed piece: text, or a complete tool call (never both)."""

    text: str = ""
    tool_call: ToolCall | None = None


ChatMessage = dict[str, Any]  # OpenAI chat format: {"role": ..., "content": ...}


@runtime_checkable
class ChatModel(Protocol):
    name: str

    def stream(
        self, messages: list[ChatMessage], *, tools: list[ToolSpec] | None = None
    ) -> AsyncIterator[ChatDelta]:
        """Streamed answer; raises ProviderError / ProviderTimeout."""

    async def complete_json(self, messages: list[ChatMessage], *, schema: dict[str, Any]) -> dict[str, Any]:
        """One JSON object matching `schema`; raises ProviderError / ProviderTimeout."""
