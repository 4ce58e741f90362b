"""Phone lines: Twilio when it is configured, else the simulated line.

`call_place(call)` is what starting a call runs (settings.CALL_PLACER): it returns quickly;
the call goes on in Twilio's network or on the simulated line's own thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from telephony.lines.base import LineError, PhoneLine
from voiceagent.logging import get_logger

if TYPE_CHECKING:
    from calls.models import Call

log = get_logger("telephony.lines")

__all__ = ["LineError", "PhoneLine", "call_place", "get_line", "line_for"]


def get_line(simulate: bool | None = None, **simulated: Any) -> PhoneLine:
    """Twilio, or the simulated line when `simulate` is set or Twilio is not configured.

    `simulated` options (persona, speed, base_url, recording, on_event) go to SimulatedLine.
    """
    if simulate is None:
        simulate = not settings.TWILIO_CONFIGURED
    if simulate:
        from telephony.lines.simulated import SimulatedLine

        return SimulatedLine(**simulated)
    if not settings.TWILIO_CONFIGURED:
        raise LineError(
            "twilio", "Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER)"
        )
    from telephony.lines.twilio_line import TwilioLine

    return TwilioLine()


def line_for(call: Call) -> PhoneLine | None:
    """The line carrying an existing call, to end or transfer it; None when no line does
    (the softphone's calls, or a Twilio call when Twilio is no longer configured)."""
    if call.line == "simulated":
        from telephony.lines.simulated import SimulatedLine

        return SimulatedLine()
    if call.provider_sid and call.line in ("", "twilio") and settings.TWILIO_CONFIGURED:
        from telephony.lines.twilio_line import TwilioLine

        return TwilioLine()
    return None


def call_place(call: Call) -> None:
    """Dial a new call on the configured line; a line that refuses it marks the call failed."""
    from calls import services
    from calls.models import Status

    try:
        get_line().place(call)
    except LineError as exc:
        log.warning(
            "call could not be placed",
            extra={"event": "call_place_failed", "call_sid": call.sid, "error": str(exc)},
        )
        services.call_set_status(call=call, status=Status.FAILED, end_reason="telephony_error")
