"""Cloud provider first, local model when it fails: the call keeps talking.

One wrapper per call (the factory builds it with that call's `on_fallback` hook). The first
failure logs one `event=provider_fallback` line, calls the hook (the pipeline counts it on
the call) and switches to the backup for the rest of the call, so later turns do not pay
the failing provider's timeout again.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

from telephony.providers.base import (
    PartialHandler,
    ProviderError,
    SpeechToText,
    STTSession,
    TextToSpeech,
    Transcript,
)
from voiceagent.logging import get_logger

logger = get_logger("telephony.providers.fallback")

FallbackHook = Callable[[str], Awaitable[None] | None]


class _Switch:
    """Which side is live, and the one-time bookkeeping when it flips."""

    def __init__(self, role: str, primary_name: str, backup_name: str, on_fallback: FallbackHook | None):
        self.role = role
        self.primary_name = primary_name
        self.backup_name = backup_name
        self.on_fallback = on_fallback
        self.failed = False

    async def trip(self, error: ProviderError) -> None:
        if self.failed:
            return
        self.failed = True
        logger.warning(
            "provider failed, using backup",
            extra={
                "event": "provider_fallback",
                "role": self.role,
                "provider": self.primary_name,
                "backup": self.backup_name,
                "error": str(error),
            },
        )
        if self.on_fallback is not None:
            result = self.on_fallback(self.role)
            if inspect.isawaitable(result):
                await result


class FallbackTTS:
    def __init__(
        self, primary: TextToSpeech, backup: TextToSpeech, *, on_fallback: FallbackHook | None = None
    ) -> None:
        self.primary = primary
        self.backup = backup
        self.name = f"{primary.name}>{backup.name}"
        self._switch = _Switch("tts", primary.name, backup.name, on_fallback)

    @property
    def fell_back(self) -> bool:
        return self._switch.failed

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if not self._switch.failed:
            try:
                async for chunk in self.primary.synthesize(text):
                    yield chunk
                return
            except ProviderError as exc:
                await self._switch.trip(exc)
            # If the primary died mid-line the backup says the whole line: a restarted
            # sentence is understood, a half one is not.
        async for chunk in self.backup.synthesize(text):
            yield chunk


class FallbackSTTSession:
    """Keeps the current utterance's audio so the backup can transcribe it if the primary
    fails at any point of the turn."""

    def __init__(self, owner: FallbackSTT, primary: STTSession | None, on_partial: PartialHandler | None):
        self._owner = owner
        self._primary = primary
        self._backup: STTSession | None = None
        self._on_partial = on_partial
        self._audio = bytearray()

    async def _switch_to_backup(self, error: ProviderError) -> STTSession:
        await self._owner.switch.trip(error)
        primary, self._primary = self._primary, None
        if primary is not None:
            with contextlib.suppress(ProviderError):  # it already failed; closing is best effort
                await primary.close()
        return await self._backup_session()

    async def _backup_session(self) -> STTSession:
        if self._backup is None:
            self._backup = await self._owner.backup.open(on_partial=self._on_partial)
            if self._audio:
                await self._backup.feed(bytes(self._audio))
        return self._backup

    async def feed(self, mulaw: bytes) -> None:
        self._audio += mulaw
        if self._primary is None:
            await (await self._backup_session()).feed(mulaw)
            return
        try:
            await self._primary.feed(mulaw)
        except ProviderError as exc:
            await self._switch_to_backup(exc)  # replays the buffered audio, this frame included

    async def end_utterance(self) -> Transcript:
        try:
            if self._primary is not None:
                try:
                    return await self._primary.end_utterance()
                except ProviderError as exc:
                    backup = await self._switch_to_backup(exc)
            else:
                backup = await self._backup_session()
            return await backup.end_utterance()
        finally:
            self._audio = bytearray()

    async def discard(self) -> None:
        self._audio = bytearray()
        if self._primary is not None:
            try:
                await self._primary.discard()
            except ProviderError as exc:
                await self._switch_to_backup(exc)
        if self._backup is not None:
            await self._backup.discard()

    async def close(self) -> None:
        for session in (self._primary, self._backup):
            if session is not None:
                with contextlib.suppress(ProviderError):  # best effort; the call is over
                    await session.close()


class FallbackSTT:
    def __init__(
        self, primary: SpeechToText, backup: SpeechToText, *, on_fallback: FallbackHook | None = None
    ) -> None:
        self.primary = primary
        self.backup = backup
        self.name = f"{primary.name}>{backup.name}"
        self.switch = _Switch("stt", primary.name, backup.name, on_fallback)

    @property
    def fell_back(self) -> bool:
        return self.switch.failed

    async def open(self, *, on_partial: PartialHandler | None = None) -> FallbackSTTSession:
        primary: STTSession | None = None
        if not self.switch.failed:
            try:
                primary = await self.primary.open(on_partial=on_partial)
            except ProviderError as exc:
                await self.switch.trip(exc)
        return FallbackSTTSession(self, primary, on_partial)
