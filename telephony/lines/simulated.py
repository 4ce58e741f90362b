"""The simulated line: calls without a Twilio account.

`place()` returns at once and runs the call on a daemon thread with its own event loop,
talking to the app in-process (or to a running server when `base_url` is given), so the
API, the admin and the status callbacks see exactly what a Twilio call would produce.
`hangup()` and `transfer()` reach the running call the way Twilio's REST API would.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings

from calls import services
from telephony.lines.personas import Persona, get_persona
from telephony.lines.simulated_call import CallParty, EventSink, SimulatedCall, SimulatedCallResult
from telephony.lines.transport import InProcessTransport, NetworkTransport, Transport
from voiceagent.logging import get_logger

if TYPE_CHECKING:
    from calls.models import Call
    from telephony.lines.recording import CallRecording

log = get_logger("telephony.lines.simulated")

# Twilio's own test "From" number: valid in shape, never a real subscriber.
SIMULATED_FROM_NUMBER = "+15005550006"
_KEEP_FINISHED = 50


@dataclass
class _Running:
    session: SimulatedCall
    done: threading.Event = field(default_factory=threading.Event)


_calls: dict[str, _Running] = {}
_calls_lock = threading.Lock()


def signing_token() -> str:
    """The token the webhooks check (see telephony.services.webhook_token)."""
    from telephony.services import webhook_token

    return webhook_token()


class SimulatedLine:
    name = "simulated"

    def __init__(
        self,
        *,
        persona: Persona | str | None = None,
        speed: float | None = None,
        base_url: str | None = None,
        ring_ms: int = 1500,
        recording: CallRecording | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        if persona is None or isinstance(persona, str):
            persona = get_persona(persona or settings.SIMULATED_PERSONA)
        self.persona = persona
        self.speed = speed or settings.SIMULATED_SPEED
        self.base_url = base_url  # a running server; None runs the app in this process
        self.ring_ms = ring_ms
        self.recording = recording
        self.on_event = on_event

    def _transport(self) -> Transport:
        return NetworkTransport(self.base_url) if self.base_url else InProcessTransport()

    def place(self, call: Call) -> None:
        provider_sid = "CA" + secrets.token_hex(16)
        services.call_set_provider_sid(call=call, provider_sid=provider_sid, line=self.name)
        session = SimulatedCall(
            party=CallParty(
                call_sid=call.sid,
                to_number=call.to_number,
                from_number=call.from_number or settings.TWILIO_PHONE_NUMBER or SIMULATED_FROM_NUMBER,
            ),
            persona=self.persona,
            transport=self._transport(),
            base_url=settings.PUBLIC_BASE_URL,
            auth_token=signing_token(),
            provider_sid=provider_sid,
            speed=self.speed,
            ring_ms=self.ring_ms,
            time_limit_s=settings.MAX_CALL_SECONDS + 30,
            recording=self.recording,
            on_event=self.on_event,
        )
        running = _Running(session)
        with _calls_lock:
            _forget_finished()
            _calls[call.sid] = running
        thread = threading.Thread(
            target=_run, args=(running,), name=f"simulated-call-{call.sid[:10]}", daemon=True
        )
        thread.start()
        log.info(
            "simulated call placed",
            extra={
                "event": "line_placed",
                "line": self.name,
                "call_sid": call.sid,
                "persona": self.persona.name,
            },
        )

    def hangup(self, call: Call) -> None:
        running = _calls.get(call.sid)
        if running is not None and not running.done.is_set():
            running.session.request_hangup()

    def transfer(self, call: Call, to_number: str) -> None:
        running = _calls.get(call.sid)
        if running is not None and not running.done.is_set():
            running.session.request_transfer(to_number)


def join(call_sid: str, timeout: float | None = None) -> SimulatedCallResult | None:
    """Wait for a simulated call placed in this process; its result, or None if unknown/running."""
    running = _calls.get(call_sid)
    if running is None or not running.done.wait(timeout):
        return None
    return running.session.result


def _run(running: _Running) -> None:
    session = running.session

    async def main() -> None:
        try:
            await session.run()
        finally:
            await session.transport.aclose()

    try:
        asyncio.run(main())
    except Exception:  # a bug here must not vanish with the daemon thread
        log.exception(
            "simulated call crashed",
            extra={"event": "simulated_call_crashed", "call_sid": session.party.call_sid},
        )
        session.result.errors.append("the simulated line crashed")
    finally:
        running.done.set()


def _forget_finished() -> None:
    finished = [sid for sid, running in _calls.items() if running.done.is_set()]
    for sid in finished[: max(0, len(finished) - _KEEP_FINISHED)]:
        del _calls[sid]
