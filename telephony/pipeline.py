"""One call's voice loop: caller audio → VAD → STT → Conversation → TTS → audio back.

Tasks per call (all on the event loop; providers run their CPU work in executors):
- `_audio_loop` decodes and runs the VAD on every inbound frame, feeds utterances to STT and
  detects barge-in;
- `_stt_loop` owns the STT session, so the feeds, discards and turn ends reach it in order;
- the reply task (one at a time) asks the Conversation what to say and plays it;
- `_monitor` ends the call on silence or when it has lasted too long.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from calls import services as call_services
from calls.models import Call, Role, Status
from funnel.policies.base import TRANSFER_LINE
from telephony.playback import Player
from telephony.providers.base import ProviderError, SpeechToText, STTSession, TextToSpeech
from telephony.services import stream_finished, stream_started
from telephony.speaking import Speaking, synthesize_all
from telephony.vad import TurnDetector, VadEvent
from voiceagent.logging import get_logger

log = get_logger("telephony.pipeline")

HOLDING_LINE = "One moment."
TIME_LIMIT_LINE = "I'm sorry, we've reached the time limit for this call. Goodbye!"
MONITOR_INTERVAL_S = 0.1

Send = Callable[[dict[str, Any]], Awaitable[None]]
Close = Callable[[], Awaitable[None]]
StartConversation = Callable[[Call], Awaitable[Any]]

_holding_audio: dict[str, bytes] = {}  # per TTS provider, synthesised once per process


def _ms(since: float) -> int:
    return max(0, round((time.monotonic() - since) * 1000))


async def _default_conversation(call: Call) -> Any:
    from funnel.conversation import Conversation

    return await Conversation.start(call)


class CallPipeline:
    def __init__(
        self,
        *,
        call: Call,
        stream_sid: str,
        send: Send,
        close: Close,
        stt: SpeechToText | None = None,
        tts: TextToSpeech | None = None,
        start_conversation: StartConversation | None = None,
    ) -> None:
        self.call = call
        self._close_stream = close
        self._stt_provider = stt
        self._tts = tts
        self._start_conversation = start_conversation or _default_conversation
        self.player = Player(send=send, stream_sid=stream_sid)
        self.detector = TurnDetector(hangover_ms=settings.VAD_HANGOVER_MS)
        self._frames: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._stt_jobs: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._stt_session: STTSession | None = None
        self._conv: Any = None
        self._reply_task: asyncio.Task[None] | None = None
        self._current: Speaking | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._started_at = time.monotonic()
        self._last_activity = self._started_at
        self._utterance_over_reply = False  # this utterance began while we were talking
        self._barged = False
        self._ending = False
        self._end_reason = ""
        self._finalized = False
        self._finalize_lock = asyncio.Lock()
        self.first_audio_ms: int | None = None  # stream start → the opening's first audio

    # --- inputs from the consumer ---------------------------------------------------------

    async def start(self) -> None:
        """Say the opening as soon as possible, then start listening."""
        if self._tts is None or self._stt_provider is None:
            from telephony.providers import factory

            self._tts = self._tts or factory.get_tts(on_fallback=self._count_fallback)
            self._stt_provider = self._stt_provider or factory.get_stt(on_fallback=self._count_fallback)
        self.player.start()
        await self._mark_in_progress()
        self._conv = await self._start_conversation(self.call)
        opening = await self._conv.opening()
        self._reply_task = self.spawn(self._play_reply(opening, t0=self._started_at, opening=True))
        for coro in (self._stt_loop(), self._audio_loop(), self._monitor(), self._warm_holding_line()):
            self._tasks.append(self.spawn(coro))

    async def _count_fallback(self, role: str) -> None:
        await sync_to_async(call_services.call_count_fallback)(call=self.call, role=role)

    def on_audio(self, mulaw: bytes) -> None:
        if not self._finalized:
            self._frames.put_nowait(mulaw)

    def on_mark(self, name: str) -> None:
        if self.player.on_mark(name) is not None:
            self._touch()

    def on_dtmf(self, digit: str) -> None:
        # Keys pressed are a sign of life; the conversation itself works on speech only.
        log.info("dtmf", extra={"event": "dtmf", "call_sid": self.call.sid, "digit": digit})
        self._touch()

    async def hangup(self, *, reason: str, line: str = "") -> None:
        """End now (operator, API, time limit): cut our audio, keep what was heard, say `line`
        if given, close the stream."""
        if self._ending:
            return
        self._ending = True
        self._end_reason = reason
        await self._stop_reply()
        if line:
            await self._say_last(line)
        await self._end_stream()

    async def transfer(self) -> None:
        """Hand the caller to a person: say so, then close; the action URL dials."""
        if self._ending:
            return
        self._ending = True
        await self._stop_reply()
        await self._say_last(TRANSFER_LINE)
        await self._set_transferred()
        await self._end_stream()

    async def _say_last(self, line: str) -> None:
        """A closing line decided outside the conversation: recorded, played to its end."""
        audio = await synthesize_all(self._tts, line)
        segment = self.player.say(line, audio)
        await sync_to_async(call_services.message_append)(
            call=self.call, role=Role.ASSISTANT, text=line, funnel_state=self.call.funnel_state
        )
        await self.player.wait(segment)

    async def finalize(self, *, reason: str = "") -> None:
        """Stop everything and write the end state; safe to call any number of times."""
        async with self._finalize_lock:
            if self._finalized:
                return
            self._finalized = True
            self._end_reason = self._end_reason or reason
            me = asyncio.current_task()
            others = [t for t in [*self._tasks, self._reply_task] if t is not None and t is not me]
            for task in others:
                task.cancel()
            # The reply task records what the caller heard of an unfinished line as it unwinds.
            await asyncio.gather(*others, return_exceptions=True)
            await self.player.stop()
            if self._stt_session is not None:
                try:
                    await self._stt_session.close()
                except ProviderError as exc:
                    log.warning("stt close failed", extra={"event": "stt_close_failed", "why": str(exc)})
            await sync_to_async(self._write_end_state)()

    # --- the loops ------------------------------------------------------------------------

    async def _audio_loop(self) -> None:
        while True:
            frame = await self._frames.get()
            if frame is None:
                return
            result = self.detector.push(frame)
            if result is None:
                continue
            self._touch()
            for audio in result.audio:
                self._stt_jobs.put_nowait(("feed", audio))
            if result.event is VadEvent.SPEECH_START:
                self._utterance_over_reply = self._reply_active()
                self._barged = False
            if result.event is VadEvent.SPEECH_END:
                self._end_utterance()
            elif self._utterance_over_reply and not self._barged:
                await self._check_barge_in()

    def _end_utterance(self) -> None:
        over_reply = self._utterance_over_reply and not self._barged and self._reply_active()
        self._utterance_over_reply = False
        if over_reply and not self._closing:
            # A short "mm-hm" over our line: not a turn.
            self._stt_jobs.put_nowait(("discard", None))
        else:
            self._stt_jobs.put_nowait(("end", time.monotonic()))

    async def _check_barge_in(self) -> None:
        current = self._current
        if not self._reply_active() or self.detector.voiced_ms < settings.BARGE_IN_MS:
            return
        if current is not None and not current.interruptible:
            return
        self._barged = True
        log.info("barge-in", extra={"event": "barge_in", "call_sid": self.call.sid})
        await self._stop_reply()

    async def _stt_loop(self) -> None:
        assert self._stt_provider is not None
        self._stt_session = session = await self._stt_provider.open()
        while True:
            kind, value = await self._stt_jobs.get()
            try:
                if kind == "feed":
                    await session.feed(value)
                elif kind == "discard":
                    await session.discard()
                else:
                    transcript = await session.end_utterance()
                    text = transcript.text.strip()
                    if text:
                        self._start_turn(text, stt_ms=_ms(value), t0=value)
                    else:
                        log.info("empty transcript", extra={"event": "stt_empty", "call_sid": self.call.sid})
            except ProviderError as exc:
                log.warning(
                    "stt failed", extra={"event": "stt_failed", "call_sid": self.call.sid, "why": str(exc)}
                )

    async def _monitor(self) -> None:
        silence = settings.SILENCE_TIMEOUT_SECONDS
        while not self._ending:
            await asyncio.sleep(MONITOR_INTERVAL_S)
            now = time.monotonic()
            if now - self._started_at >= settings.MAX_CALL_SECONDS:
                log.info("max call duration", extra={"event": "max_call_duration", "call_sid": self.call.sid})
                self.spawn(self.hangup(reason="max_duration", line=TIME_LIMIT_LINE))
                return
            if self._reply_active() or self.detector.speaking or self.player.busy:
                continue
            if now - self._last_activity >= silence:
                log.info("silence timeout", extra={"event": "silence_timeout", "call_sid": self.call.sid})
                self._touch()
                reply = await self._conv.on_silence()
                self._reply_task = self.spawn(self._play_reply(reply, t0=time.monotonic()))

    # --- turns and replies ----------------------------------------------------------------

    def _start_turn(self, text: str, *, stt_ms: int, t0: float) -> None:
        if self._closing:
            # Words over our last line change nothing but still go on the record (a
            # do-not-call still counts).
            self.spawn(self._late_words(text, stt_ms=stt_ms))
            return
        previous = self._reply_task
        if previous is not None and not previous.done():
            previous.cancel()  # the caller spoke a whole new turn: that one wins
        self._reply_task = self.spawn(self._turn(text, stt_ms=stt_ms, t0=t0, previous=previous))

    async def _turn(self, text: str, *, stt_ms: int, t0: float, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            # The interrupted line is recorded before the caller's next words.
            await asyncio.gather(previous, return_exceptions=True)
        budget = self.spawn(self._turn_budget(t0))
        try:
            decided = asyncio.ensure_future(self._conv.on_utterance(text, stt_ms=stt_ms))
            try:
                reply = await asyncio.shield(decided)
            except asyncio.CancelledError:
                # Interrupted before a word was said: the turn still happened, record it unheard.
                reply = await decided
                await asyncio.shield(self._conv.record_reply(reply, heard="", interrupted=True))
                raise
            await self._play_reply(reply, t0=t0, budget=budget)
        finally:
            budget.cancel()

    async def _late_words(self, text: str, *, stt_ms: int) -> None:
        reply = await self._conv.on_utterance(text, stt_ms=stt_ms)
        await reply.drain()

    async def _turn_budget(self, t0: float) -> None:
        await asyncio.sleep(max(0.0, settings.TURN_BUDGET_SECONDS - (time.monotonic() - t0)))
        log.warning(
            "turn budget exceeded",
            extra={"event": "turn_budget_exceeded", "call_sid": self.call.sid, "ms": _ms(t0)},
        )
        audio = _holding_audio.get(self._tts.name) if self._tts else None
        if audio:
            self.player.say(HOLDING_LINE, audio)

    async def _play_reply(
        self, reply: Any, *, t0: float, opening: bool = False, budget: asyncio.Task[None] | None = None
    ) -> None:
        speaking = Speaking(reply=reply)
        self._current = speaking
        try:
            async for sentence in reply.sentences():
                segment = self.player.begin(sentence)
                speaking.segments.append(segment)
                asked = time.monotonic()
                async for chunk in self._tts.synthesize(sentence):
                    if speaking.tts_first_byte_ms is None:
                        speaking.tts_first_byte_ms = _ms(asked)
                        speaking.turn_ms = _ms(t0)
                        if budget is not None:
                            budget.cancel()
                        if opening:
                            self.first_audio_ms = speaking.turn_ms
                    self.player.audio(segment, chunk)
                self.player.end(segment)
            heard_all = not speaking.segments or await self.player.wait(speaking.segments[-1])
        except asyncio.CancelledError:
            await asyncio.shield(self._record(speaking, interrupted=True))
            raise
        except ProviderError as exc:
            log.warning(
                "tts failed", extra={"event": "tts_failed", "call_sid": self.call.sid, "why": str(exc)}
            )
            await self._record(speaking, interrupted=True)
        else:
            await self._record(speaking, interrupted=not heard_all)
        finally:
            if self._current is speaking:
                self._current = None
            self._touch()
        action = reply.decision.action
        if action == "end":
            self._ending = True
            await self._end_stream()
        elif action == "transfer":
            self._ending = True
            await self._set_transferred()
            await self._end_stream()

    async def _record(self, speaking: Speaking, *, interrupted: bool) -> None:
        if speaking.recorded:
            return
        speaking.recorded = True
        heard = speaking.heard_text() if interrupted else None  # None: all of it
        await self._conv.record_reply(
            speaking.reply,
            heard=heard,
            interrupted=interrupted,
            tts_first_byte_ms=speaking.tts_first_byte_ms,
            turn_ms=speaking.turn_ms,
        )

    async def _stop_reply(self) -> None:
        task = self._reply_task
        if task is None or task.done() or task is asyncio.current_task():
            return
        task.cancel()  # first, so the reply unwinds as interrupted even if the clear wakes it
        await self.player.clear()
        await asyncio.gather(task, return_exceptions=True)

    # --- the end ----------------------------------------------------------------------------

    async def _end_stream(self) -> None:
        """Close the WebSocket (Twilio then fetches the action URL) and write the end state."""
        await self._close_stream()
        await self.finalize()

    async def _set_transferred(self) -> None:
        # Usually the Conversation already did when it decided; finalize tells the callback_url.
        await sync_to_async(call_services.call_set_status)(call=self.call, status=Status.TRANSFERRED)

    async def _mark_in_progress(self) -> None:
        await sync_to_async(stream_started)(call=self.call)

    def _write_end_state(self) -> None:
        reason = self._end_reason or ("completed" if self._ending else "caller_hangup")
        stream_finished(call=self.call, end_reason=reason)

    # --- small helpers ----------------------------------------------------------------------

    @property
    def _closing(self) -> bool:
        """We are saying our last line or already ending: the caller's words change nothing."""
        return self._ending or (self._current is not None and not self._current.interruptible)

    def _reply_active(self) -> bool:
        return self._reply_task is not None and not self._reply_task.done()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        """A task of this call, kept referenced until done and logged if it crashes."""
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._log_crash)
        return task

    def _log_crash(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error(
                "pipeline task failed",
                extra={"event": "pipeline_error", "call_sid": self.call.sid, "why": repr(exc)},
                exc_info=exc,
            )

    async def _warm_holding_line(self) -> None:
        if self._tts is not None and self._tts.name not in _holding_audio:
            try:
                _holding_audio[self._tts.name] = await synthesize_all(self._tts, HOLDING_LINE)
            except ProviderError as exc:
                log.warning("holding line unavailable", extra={"event": "tts_failed", "why": str(exc)})
