"""What the Twilio webhooks do; the views in `telephony.webhooks` only check and answer."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from twilio.request_validator import RequestValidator

from calls import services as call_services
from calls.models import STATUS_RANK, Call, Direction, Mode, Status
from calls.phone import InvalidPhoneNumber
from calls.selectors import call_get_by_provider_sid
from telephony import twiml
from telephony.tokens import stream_token_make
from voiceagent.logging import get_logger

log = get_logger("telephony.webhooks")

# Twilio statuses that end a call other than by hanging up normally name their own reason.
_END_REASONS = {
    Status.BUSY: "busy",
    Status.NO_ANSWER: "no_answer",
    Status.FAILED: "failed",
    Status.CANCELED: "canceled",
}


def webhook_token() -> str:
    """Twilio's auth token when Twilio is configured, else the simulated line's."""
    return settings.TWILIO_AUTH_TOKEN or settings.SIMULATED_AUTH_TOKEN


def signature_is_valid(*, full_path: str, params: Mapping[str, str], signature: str) -> bool:
    """Check X-Twilio-Signature against the public URL Twilio requested (proxies rewrite ours)."""
    if not signature:
        return False
    url = settings.PUBLIC_BASE_URL.rstrip("/") + full_path
    return RequestValidator(webhook_token()).validate(url, params, signature)


def stream_answer(call: Call) -> str:
    return twiml.connect_stream(call_sid=call.sid, token=stream_token_make(call_sid=call.sid))


def inbound_answer(*, params: Mapping[str, str]) -> str:
    """A call to our number: record it (a repeat of the same CallSid reuses it) and stream it."""
    provider_sid = params.get("CallSid", "")
    call = call_get_by_provider_sid(provider_sid=provider_sid)
    if call is None:
        call = _inbound_create(params, provider_sid)
    if call.is_terminal:
        return twiml.hangup()
    return stream_answer(call)


def _inbound_create(params: Mapping[str, str], provider_sid: str) -> Call:
    to_number = params.get("To", "") or settings.TWILIO_PHONE_NUMBER
    from_number = params.get("From", "")
    fields = {
        "to_number": to_number,
        "direction": Direction.INBOUND,
        "mode": Mode.INTERACTIVE,
        # Someone who asked us not to call may still call us; we answer.
        "check_do_not_call": False,
        "provider_sid": provider_sid,
    }
    try:
        call = call_services.call_create(from_number=from_number, **fields).call
    except InvalidPhoneNumber:
        # Withheld or non-numeric caller ids ("anonymous", "client:…") still get answered.
        call = call_services.call_create(from_number="", **fields).call
    log.info("inbound call", extra={"event": "inbound_call", "call_sid": call.sid})
    return call


def outbound_answer(*, call_sid: str, params: Mapping[str, str]) -> str | None:
    """An outbound call we placed was answered; None when the sid is not ours."""
    call = _find(call_sid=call_sid, provider_sid="")
    if call is None:
        return None
    provider_sid = params.get("CallSid", "")
    if provider_sid and not call.provider_sid:
        call_services.call_set_provider_sid(call=call, provider_sid=provider_sid, line=call.line or "twilio")
    if call.is_terminal:
        return twiml.hangup()
    return stream_answer(call)


def status_callback_apply(*, params: Mapping[str, str], call_sid: str = "") -> Call | None:
    """Apply Twilio's CallStatus to the call; repeats and out-of-order callbacks change nothing."""
    call = _find(call_sid=call_sid, provider_sid=params.get("CallSid", ""))
    status = params.get("CallStatus", "")
    if call is None:
        log.info(
            "status for unknown call ignored", extra={"event": "status_callback_unknown", "status": status}
        )
        return None
    if status not in STATUS_RANK or status == Status.TRANSFERRED:
        log.warning(
            "unknown call status ignored", extra={"event": "status_callback_bad", "call_sid": call.sid}
        )
        return call
    call_services.call_set_status(call=call, status=status, end_reason=_END_REASONS.get(status, ""))
    return call


def stream_ended_answer(*, call_sid: str) -> str:
    """The stream closed: dial the handoff number for a transfer, else hang up."""
    call = _find(call_sid=call_sid, provider_sid="")
    if call is not None and call.status == Status.TRANSFERRED and settings.HANDOFF_NUMBER:
        log.info("dialing handoff", extra={"event": "handoff_dial", "call_sid": call.sid})
        return twiml.dial(settings.HANDOFF_NUMBER)
    return twiml.hangup()


def _find(*, call_sid: str, provider_sid: str) -> Call | None:
    call = call_get_by_provider_sid(provider_sid=provider_sid)
    if call is None and call_sid:
        call = Call.objects.filter(sid=call_sid).first()
    return call


def stream_started(*, call: Call) -> None:
    """The media stream is up: the call is in progress (a no-op if it already moved on)."""
    call_services.call_set_status(call=call, status=Status.IN_PROGRESS)


def stream_finished(*, call: Call, end_reason: str) -> None:
    """Completed, unless the call already ended otherwise (failed by the conversation, ended
    by Twilio) or is being transferred (Twilio's completed callback ends that one)."""
    call.refresh_from_db()
    if not call.is_terminal and call.status != Status.TRANSFERRED:
        status = Status.FAILED if call.end_reason == "llm_error" else Status.COMPLETED
        call_services.call_set_status(call=call, status=status, end_reason=end_reason)
