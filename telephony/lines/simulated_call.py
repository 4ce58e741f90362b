"""One simulated call: Twilio's whole part, played against our own webhooks and stream.

In order, as Twilio does it: status callbacks `initiated` and `ringing`, the answer
(`in-progress` callback, then the signed answer webhook), the TwiML it returns — for
`<Connect><Stream>` a media stream with `connected`/`start`, the callee's audio every 20 ms
(silence included), agent audio played at real speed with `mark` echoes and `clear` — then
the `<Connect>` action URL and its verb (`<Hangup/>` ends, `<Dial>` transfers), and the
`completed` callback with the call's duration. `speed` runs the clock faster for tests.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import httpx
from twilio.request_validator import RequestValidator

from telephony.audio import FRAME_MS
from telephony.lines import twiml
from telephony.lines.personas import Callee, Hearing, Persona, speak_lines
from telephony.lines.playback import SILENT_FRAME, AgentPlayback, CallerVoice
from telephony.lines.recording import CallRecording
from telephony.lines.transport import LinkClosed, StreamLink, Transport
from voiceagent.logging import get_logger

log = get_logger("telephony.lines.simulated")

SIMULATED_ACCOUNT_SID = "AC" + "0" * 32
MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
MAX_TWIML_HOPS = 10
SAY_MS_PER_CHAR = 65  # <Say> is not audio here: wait roughly as long as Twilio would speak it
MIN_FRAME_WAIT_S = 0.0005
MAX_LAG_S = 0.1
MIN_PAUSE_WALL_MS = 350

EventSink = Callable[[str, dict[str, Any]], None]


class WebhookFailed(Exception):
    pass


@dataclass
class SimulatedCallResult:
    provider_sid: str
    outcome: str = ""  # completed | transferred | canceled
    transferred_to: str = ""
    stream_sid: str = ""
    stream_ended_by: str = ""  # server | line | time_limit
    caller_lines: list[str] = field(default_factory=list)
    clears: int = 0
    marks_echoed: int = 0
    agent_audio_ms: int = 0
    agent_audio_cut_ms: int = 0  # queued agent audio dropped by `clear` or by the stream closing
    call_ms: int = 0
    lag_ms: int = 0  # wall time the line's clock fell behind real time (a busy event loop)
    statuses: list[tuple[str, int]] = field(default_factory=list)  # (CallStatus, HTTP status)
    errors: list[str] = field(default_factory=list)


@dataclass
class CallParty:
    call_sid: str  # ours, as in the webhook URLs
    to_number: str
    from_number: str


class SimulatedCall:
    def __init__(
        self,
        *,
        party: CallParty,
        persona: Persona,
        transport: Transport,
        base_url: str,
        auth_token: str,
        provider_sid: str | None = None,
        account_sid: str = SIMULATED_ACCOUNT_SID,
        speed: float = 1.0,
        ring_ms: int = 1500,
        time_limit_s: float = 900,
        recording: CallRecording | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.party = party
        self.persona = persona
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self._validator = RequestValidator(auth_token)
        self.account_sid = account_sid
        self.speed = speed
        self.ring_ms = ring_ms
        self.time_limit_ms = int(time_limit_s * 1000)
        self.recording = recording
        self._on_event = on_event
        self.result = SimulatedCallResult(provider_sid=provider_sid or "CA" + secrets.token_hex(16))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended = asyncio.Event()  # the line was told to hang up or transfer
        self._transfer_to = ""
        self._answered = False
        self._sequence = 0

    # --- control from other threads (SimulatedLine.hangup / transfer) ----------------------

    def request_hangup(self) -> None:
        self._from_any_thread(self._ended.set)

    def request_transfer(self, to_number: str) -> None:
        def transfer() -> None:
            self._transfer_to = to_number
            self._ended.set()

        self._from_any_thread(transfer)

    def _from_any_thread(self, action: Callable[[], None]) -> None:
        if self._loop is None or self._loop.is_closed():
            action()
        else:
            self._loop.call_soon_threadsafe(action)

    # --- the call --------------------------------------------------------------------------

    async def run(self) -> SimulatedCallResult:
        self._loop = asyncio.get_running_loop()
        query = f"call={self.party.call_sid}"
        self._status_url = f"{self.base_url}/twilio/status-callback?{query}"
        answer_url = f"{self.base_url}/twilio/outbound-webhook?{query}"
        try:
            await self._status("initiated")
            clips = await speak_lines(self.persona.lines)  # "dialling": the callee gets ready
            # The agent's speech is made in real time whatever our clock: a gap between its
            # sentences must not pass for the end of its turn on a fast clock.
            pause_ms = max(self.persona.pause_ms, round(MIN_PAUSE_WALL_MS * self.speed))
            self._callee = Callee(self.persona, clips, pause_ms=pause_ms)
            await self._status("ringing")
            if await self._wait_call_time(self.ring_ms):
                self.result.outcome = "canceled"
                return self.result
            self._answered = True
            await self._status("in-progress")
            await self._run_twiml(await self._request(answer_url), hops=0)
        except (WebhookFailed, twiml.TwimlError, LinkClosed, httpx.HTTPError) as exc:
            # Twilio would say "an application error has occurred" and hang up.
            self._error(f"{exc.__class__.__name__}: {exc}")
        finally:
            await self._finish()
        return self.result

    async def _finish(self) -> None:
        if not self.result.outcome:
            self.result.outcome = "transferred" if self.result.transferred_to else "completed"
        final = "canceled" if self.result.outcome == "canceled" else "completed"
        extra = {"CallDuration": str(round(self.result.call_ms / 1000))} if self._answered else {}
        await self._status(final, extra)
        log.info(
            "simulated call ended",
            extra={
                "event": "simulated_call_ended",
                "call_sid": self.party.call_sid,
                "outcome": self.result.outcome,
                "clears": self.result.clears,
                "call_ms": self.result.call_ms,
            },
        )
        self._emit("ended", outcome=self.result.outcome)

    async def _run_twiml(self, document: str, *, hops: int) -> None:
        if hops > MAX_TWIML_HOPS:
            raise twiml.TwimlError("too many redirects")
        for verb in twiml.parse(document):
            if self._ended.is_set():
                break
            if verb.name == "Say":
                self._emit("say", text=verb.text)
                await self._wait_call_time(len(verb.text) * SAY_MS_PER_CHAR)
            elif verb.name == "Pause":
                await self._wait_call_time(int(verb.attrs.get("length", "1")) * 1000)
            elif verb.name == "Connect":
                if not await self._stream(verb):
                    break  # the line ended the call; Twilio asks no action URL then
                action = verb.attrs.get("action")
                if action:
                    await self._run_twiml(await self._request(action), hops=hops + 1)
                    return
            elif verb.name == "Dial":
                self._transfer(verb.text)
                return
            elif verb.name == "Redirect":
                await self._run_twiml(await self._request(verb.text), hops=hops + 1)
                return
            else:  # Hangup, Reject
                return
        if self._transfer_to:
            self._transfer(self._transfer_to)

    def _transfer(self, number: str) -> None:
        self.result.transferred_to = number
        self.result.outcome = "transferred"
        log.info("simulated transfer", extra={"event": "simulated_transfer", "call_sid": self.party.call_sid})
        self._emit("transfer", number=number)

    # --- the media stream ------------------------------------------------------------------

    async def _stream(self, verb: twiml.Verb) -> bool:
        """Run the stream until someone ends it; True when the app closed it (call goes on)."""
        link = await self.transport.open_stream(verb.stream_url)
        stream_sid = "MZ" + secrets.token_hex(16)
        self.result.stream_sid = stream_sid
        playback, voice = AgentPlayback(), CallerVoice()
        await link.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        start = {
            "accountSid": self.account_sid,
            "streamSid": stream_sid,
            "callSid": self.result.provider_sid,
            "tracks": ["inbound"],
            "customParameters": verb.parameters,
            "mediaFormat": MEDIA_FORMAT,
        }
        await self._send(link, stream_sid, "start", start=start)
        self._emit("stream_started", stream_sid=stream_sid)
        receiver = asyncio.create_task(self._receive(link, stream_sid, playback))
        try:
            ended_by = await self._pace(link, stream_sid, playback, voice, receiver)
        finally:
            if not receiver.done():
                receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        self.result.stream_ended_by = ended_by
        self.result.agent_audio_cut_ms += playback.queued_ms
        if ended_by != "server":
            stop = {"accountSid": self.account_sid, "callSid": self.result.provider_sid}
            await self._send(link, stream_sid, "stop", stop=stop)
        await link.close()
        self._emit("stream_ended", by=ended_by)
        return ended_by == "server"

    async def _pace(
        self,
        link: StreamLink,
        stream_sid: str,
        playback: AgentPlayback,
        voice: CallerVoice,
        receiver: asyncio.Task[None],
    ) -> str:
        """Every 20 ms of call time: play one agent frame, send one callee frame, echo marks."""
        assert self._loop is not None
        frame_s = FRAME_MS / 1000 / self.speed
        hearing = Hearing(agent_playing=False, agent_turn_ms=0, quiet_ms=0)
        started, frames = self._loop.time(), 0
        while True:
            if receiver.done():
                return "server"
            if self._ended.is_set():
                return "line"
            if self.result.call_ms >= self.time_limit_ms:
                return "time_limit"
            agent_frame, due_marks = playback.play_frame()
            self._hear(hearing, agent_frame, caller_talking=voice.speaking)
            if not voice.speaking:
                chosen = self._callee.decide(hearing)
                if chosen is not None:
                    line, clip = chosen
                    voice.say(clip)
                    hearing.agent_turn_ms = 0
                    self.result.caller_lines.append(line)
                    self._emit("caller_says", text=line)
            caller_frame = voice.next_frame()
            media = {"track": "inbound", "chunk": str(frames + 1), "timestamp": str(frames * FRAME_MS)}
            await self._send(link, stream_sid, "media", media={**media, "payload": _b64(caller_frame)})
            for name in due_marks:
                await self._echo_mark(link, stream_sid, name)
            if self.recording is not None:
                self.recording.add(caller_frame, agent_frame or SILENT_FRAME)
            frames += 1
            self.result.call_ms += FRAME_MS
            delay = started + frames * frame_s - self._loop.time()
            if delay < -MAX_LAG_S:
                # Fell behind (the loop was busy): skip ahead rather than burst frames to catch up.
                self.result.lag_ms += round(-delay * 1000)
                started = self._loop.time() - frames * frame_s
            await asyncio.sleep(max(delay, MIN_FRAME_WAIT_S))

    def _hear(self, hearing: Hearing, agent_frame: bytes | None, *, caller_talking: bool) -> None:
        hearing.agent_playing = agent_frame is not None
        if agent_frame is None:
            hearing.quiet_ms += FRAME_MS
            return
        if hearing.quiet_ms >= self._callee.pause_ms:
            hearing.agent_turn_ms = 0  # a new turn after a pause
        hearing.quiet_ms = 0
        hearing.agent_turn_ms += FRAME_MS
        self.result.agent_audio_ms += FRAME_MS
        if not caller_talking:
            # What the agent says over the callee's own line is not a new turn to answer.
            self._callee.on_agent_audio()

    async def _receive(self, link: StreamLink, stream_sid: str, playback: AgentPlayback) -> None:
        while (text := await link.receive()) is not None:
            try:
                message = json.loads(text)
                event = message["event"]
            except (ValueError, KeyError, TypeError):
                self._error("the app sent a frame that is not a Twilio stream message")
                continue
            if message.get("streamSid") != stream_sid:
                self._error(f"{event} for another streamSid")
                continue
            if event == "media":
                playback.add_audio(_unb64(message["media"]["payload"]))
            elif event == "mark":
                playback.add_mark(str(message["mark"]["name"]))
            elif event == "clear":
                marks, dropped_ms = playback.clear()
                self.result.clears += 1
                self.result.agent_audio_cut_ms += dropped_ms
                self._emit("clear", dropped_ms=dropped_ms)
                for name in marks:  # as Twilio does: pending marks come back at once
                    await self._echo_mark(link, stream_sid, name)
            else:
                self._error(f"unknown outbound event {event!r}")

    async def _echo_mark(self, link: StreamLink, stream_sid: str, name: str) -> None:
        self.result.marks_echoed += 1
        await self._send(link, stream_sid, "mark", mark={"name": name})

    async def _send(self, link: StreamLink, stream_sid: str, event: str, **body: Any) -> None:
        self._sequence += 1
        message = {"event": event, "sequenceNumber": str(self._sequence), "streamSid": stream_sid, **body}
        await link.send(json.dumps(message))

    # --- webhooks --------------------------------------------------------------------------

    def _form(self, status: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.result.provider_sid,
            "CallStatus": status,
            "Called": self.party.to_number,
            "Caller": self.party.from_number,
            "Direction": "outbound-api",
            "From": self.party.from_number,
            "To": self.party.to_number,
            **(extra or {}),
        }

    def _signed(self, url: str, form: dict[str, str]) -> dict[str, str]:
        return {
            "X-Twilio-Signature": self._validator.compute_signature(url, form),
            "User-Agent": "TwilioProxy/1.1 (simulated)",
        }

    async def _request(self, url: str) -> str:
        """A webhook that answers TwiML; the call is in progress while it runs."""
        form = self._form("in-progress")
        reply = await self.transport.post(url, form, self._signed(url, form))
        if reply.status >= 400:
            raise WebhookFailed(f"{_path(url)} answered HTTP {reply.status}")
        return reply.text

    async def _status(self, status: str, extra: dict[str, str] | None = None) -> None:
        fields = {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(len(self.result.statuses)),
            "Timestamp": formatdate(usegmt=True),
            **(extra or {}),
        }
        form = self._form(status, fields)
        try:
            reply = await self.transport.post(self._status_url, form, self._signed(self._status_url, form))
        except httpx.HTTPError as exc:
            self._error(f"status callback {status}: {exc.__class__.__name__}")
            return
        self.result.statuses.append((status, reply.status))
        if reply.status >= 400:
            self._error(f"status callback {status} answered HTTP {reply.status}")
        self._emit("status", status=status)

    # --- helpers ---------------------------------------------------------------------------

    async def _wait_call_time(self, ms: int) -> bool:
        """Let `ms` of call time pass; True if the line was ended meanwhile."""
        try:
            await asyncio.wait_for(self._ended.wait(), timeout=ms / 1000 / self.speed)
        except TimeoutError:
            return False
        return True

    def _error(self, message: str) -> None:
        self.result.errors.append(message)
        log.warning(
            "simulated line problem",
            extra={"event": "simulated_line_error", "call_sid": self.party.call_sid, "error": message},
        )
        self._emit("error", message=message)

    def _emit(self, kind: str, **data: Any) -> None:
        if self._on_event is not None:
            self._on_event(kind, data)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def _path(url: str) -> str:
    return urlsplit(url).path
