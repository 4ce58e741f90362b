"""Deepgram live speech-to-text over its WebSocket (deepgram-sdk `listen.v1.connect`).

One socket per call. Twilio's μ-law 8 kHz goes up as is; interim results become partials.
The pipeline's VAD decides the turn end: `end_utterance()` sends `Finalize` and waits for
the `from_finalize` result (Deepgram only promises it when audio is still buffered, so the
wait is short and what was already final is used). A dropped socket is reopened once and
the current utterance's audio replayed; a second drop is a `ProviderUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from contextlib import AsyncExitStack
from typing import Any

from telephony.audio import SAMPLE_RATE
from telephony.providers.base import (
    PartialHandler,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    Transcript,
)
from voiceagent.logging import get_logger

logger = get_logger("telephony.providers.deepgram_stt")

KEEPALIVE_SECONDS = 5.0  # Deepgram closes a socket after ~10 s without audio or KeepAlive
FINALIZE_WAIT_SECONDS = 0.7
_TIME_SLACK = 0.05  # Deepgram rounds result times


def deepgram_client(*, api_key: str, base_url: str | None, timeout: float) -> Any:
    from deepgram import AsyncDeepgramClient
    from deepgram.environment import DeepgramClientEnvironment

    kwargs: dict[str, Any] = {"api_key": api_key, "timeout": timeout}
    if base_url:
        # One origin for both REST and the live socket: production, or a proxy / test server.
        http = base_url.rstrip("/")
        ws = http.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        kwargs["environment"] = DeepgramClientEnvironment(base=http, production=ws, agent=ws, agent_rest=http)
    return AsyncDeepgramClient(**kwargs)


class DeepgramSession:
    def __init__(self, stt: DeepgramSTT, on_partial: PartialHandler | None) -> None:
        self._stt = stt
        self._on_partial = on_partial
        self._stack: AsyncExitStack | None = None
        self._socket: Any = None
        self._receiver: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._utterance_audio = bytearray()  # replayed after a reconnect
        self._unsent_from = 0  # offset in _utterance_audio not yet sent on this socket
        # Results are told apart by their audio time on the socket, not by counting
        # Finalize answers (Deepgram does not always send one): a result belongs to the
        # current utterance when its midpoint lies after `_utterance_start`.
        self._sent_seconds = 0.0
        self._utterance_start = 0.0
        self._final_until = 0.0
        self._finals: list[str] = []
        self._interim = ""
        self._confidence: float | None = None
        self._progress = asyncio.Event()
        self._reconnect_task: asyncio.Future[None] | None = None
        self._closing = False
        self._dead: ProviderError | None = None
        self._last_send = time.monotonic()

    # --- lifecycle ------------------------------------------------------------------

    async def connect(self) -> None:
        stack = AsyncExitStack()
        client = deepgram_client(
            api_key=self._stt.api_key, base_url=self._stt.base_url, timeout=self._stt.timeout
        )
        context = client.listen.v1.connect(
            model=self._stt.model,
            language=self._stt.language,
            encoding="mulaw",
            sample_rate="8000",
            channels="1",
            interim_results="true",
            punctuate="true",
            smart_format="true",
            endpointing="300",
            utterance_end_ms="1000",
        )
        try:
            self._socket = await asyncio.wait_for(stack.enter_async_context(context), self._stt.timeout)
        except TimeoutError as exc:
            await stack.aclose()
            raise ProviderTimeout("stt", "deepgram", "connect timed out") from exc
        except Exception as exc:  # ApiError(401…), OSError, websockets errors
            await stack.aclose()
            raise ProviderUnavailable("stt", "deepgram", f"connect failed: {_describe(exc)}") from exc
        self._stack = stack
        self._sent_seconds = self._utterance_start = self._final_until = 0.0
        self._unsent_from = 0
        self._last_send = time.monotonic()
        self._receiver = asyncio.create_task(self._receive(self._socket))
        if self._keepalive is None:
            self._keepalive = asyncio.create_task(self._keep_alive())

    async def close(self) -> None:
        self._closing = True
        for task in (self._keepalive, self._receiver):
            if task is not None:
                task.cancel()
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._socket.send_close_stream(), 1.0)
        await self._close_socket()

    async def _close_socket(self) -> None:
        stack, self._stack, self._socket = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stack.aclose(), 2.0)

    # --- the STTSession protocol ------------------------------------------------------

    async def feed(self, mulaw: bytes) -> None:
        self._utterance_audio += mulaw
        await self._send(self._send_unsent_audio)

    async def end_utterance(self) -> Transcript:
        if not self._utterance_audio:
            return Transcript("")
        boundary = self._sent_seconds
        await self._send(lambda socket: socket.send_finalize())
        deadline = time.monotonic() + FINALIZE_WAIT_SECONDS
        # Done when final results cover all audio sent; Deepgram answers Finalize only when
        # audio is still buffered, so past a short wait what is final is what was said.
        while self._final_until < boundary - _TIME_SLACK and self._dead is None:
            self._progress.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)
        if self._dead is not None:
            raise self._dead
        return self._take_transcript(self._sent_seconds)

    async def discard(self) -> None:
        self._reset_utterance(self._sent_seconds)
        if self._socket is not None and self._dead is None:
            # Flush Deepgram's buffer so no interim result straddles the next utterance.
            await self._send(lambda socket: socket.send_finalize())

    # --- internals --------------------------------------------------------------------

    def _take_transcript(self, boundary: float) -> Transcript:
        text = " ".join(self._finals) or self._interim  # better the interim words than nothing
        transcript = Transcript(text.strip(), is_final=True, confidence=self._confidence)
        self._reset_utterance(boundary)
        return transcript

    def _reset_utterance(self, boundary: float) -> None:
        self._finals, self._interim, self._confidence = [], "", None
        self._utterance_audio = bytearray()
        self._unsent_from = 0
        self._utterance_start = boundary

    async def _send_unsent_audio(self, socket: Any) -> None:
        # Claim the bytes before awaiting, so frames fed during a reconnect go out once.
        audio = bytes(self._utterance_audio[self._unsent_from :])
        if not audio:
            return
        self._unsent_from += len(audio)
        self._sent_seconds += len(audio) / SAMPLE_RATE
        await socket.send_media(audio)

    async def _send(self, action: Any) -> None:
        if self._dead is not None:
            raise self._dead
        for attempt in (1, 2, 3):
            socket = self._socket
            if socket is None:
                await self._reconnect()
                continue
            try:
                await asyncio.wait_for(action(socket), self._stt.timeout)
                self._last_send = time.monotonic()
                return
            except TimeoutError as exc:
                raise ProviderTimeout("stt", "deepgram", "send timed out") from exc
            except Exception as exc:
                if attempt == 3:
                    raise self._die(f"send failed: {_describe(exc)}") from exc
                if self._socket is socket:  # else a reconnect already replaced it: just retry
                    await self._reconnect()

    async def _reconnect(self) -> None:
        """Reopen the socket, once per session; concurrent callers share the attempt."""
        if self._closing:
            raise self._die("session closed")
        if self._reconnect_task is None:
            self._reconnect_task = asyncio.ensure_future(self._open_again())
        elif self._reconnect_task.done():
            raise self._die("socket dropped again")
        await asyncio.shield(self._reconnect_task)

    async def _open_again(self) -> None:
        logger.warning("deepgram socket dropped, reconnecting", extra={"event": "provider_reconnect"})
        if self._receiver is not None and self._receiver is not asyncio.current_task():
            self._receiver.cancel()
        await self._close_socket()
        try:
            await self.connect()
        except ProviderError as exc:
            raise self._die(str(exc)) from exc
        # The new socket's clock starts at zero: replay the utterance so far on it.
        self._finals, self._interim = [], ""
        try:
            await asyncio.wait_for(self._send_unsent_audio(self._socket), self._stt.timeout)
        except Exception as exc:
            raise self._die(f"replay failed: {_describe(exc)}") from exc

    def _die(self, message: str) -> ProviderError:
        self._dead = ProviderUnavailable("stt", "deepgram", message)
        self._progress.set()
        return self._dead

    async def _receive(self, socket: Any) -> None:
        try:
            async for message in socket:
                await self._handle(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning(
                "deepgram receive failed", extra={"event": "provider_error", "error": _describe(exc)}
            )
        if self._closing or socket is not self._socket:
            return
        # The server closed on us mid-call: reopen now so the next feed finds a live socket.
        with contextlib.suppress(ProviderError):
            await self._reconnect()

    async def _handle(self, message: Any) -> None:
        kind = getattr(message, "type", None)
        if kind == "Error":
            logger.warning(
                "deepgram error message",
                extra={"event": "provider_error", "error": str(getattr(message, "description", ""))},
            )
            return
        if kind != "Results":
            return
        end = message.start + message.duration
        if message.is_final:
            self._final_until = max(self._final_until, end)
        if message.start + message.duration / 2 >= self._utterance_start:
            alternatives = message.channel.alternatives
            text = alternatives[0].transcript.strip() if alternatives else ""
            if message.is_final:
                if text:
                    self._finals.append(text)
                    self._confidence = alternatives[0].confidence
                self._interim = ""
            elif text:
                self._interim = text
                await self._partial(Transcript(" ".join([*self._finals, text]), is_final=False))
        self._progress.set()

    async def _partial(self, transcript: Transcript) -> None:
        if self._on_partial is None:
            return
        try:
            await self._on_partial(transcript)
        except Exception:
            # The pipeline's handler failing must not take the socket's reader down with it.
            logger.exception("partial transcript handler failed", extra={"event": "stt_partial_error"})

    async def _keep_alive(self) -> None:
        while not self._closing:
            await asyncio.sleep(KEEPALIVE_SECONDS / 2)
            if self._socket is None or time.monotonic() - self._last_send < KEEPALIVE_SECONDS:
                continue
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._socket.send_keep_alive(), self._stt.timeout)
                self._last_send = time.monotonic()


class DeepgramSTT:
    name = "deepgram"

    def __init__(
        self,
        *,
        api_key: str,
        timeout: float,
        model: str = "nova-3",
        language: str = "en-US",
        base_url: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.timeout = timeout
        self.model = model
        self.language = language
        self.base_url = base_url

    async def open(self, *, on_partial: PartialHandler | None = None) -> DeepgramSession:
        session = DeepgramSession(self, on_partial)
        await session.connect()
        return session

    async def check(self) -> str:
        """One cheap authenticated request (list projects); raises ProviderError."""
        client = deepgram_client(api_key=self.api_key, base_url=self.base_url, timeout=self.timeout)
        try:
            response = await asyncio.wait_for(client.manage.v1.projects.list(), self.timeout)
        except TimeoutError as exc:
            raise ProviderTimeout("stt", self.name, "projects request timed out") from exc
        except Exception as exc:
            raise ProviderUnavailable("stt", self.name, _describe(exc)) from exc
        return f"{len(response.projects or [])} project(s)"


def _describe(exc: BaseException) -> str:
    # SDK ApiError carries the request headers (with the key) in its repr: keep only the status.
    status = getattr(exc, "status_code", None)
    if status is not None:
        return f"{exc.__class__.__name__} (HTTP {status})"
    return exc.__class__.__name__
