"""Browser softphone: a staff page that talks to the agent over the real `/twilio/stream`.

The page plays the phone network's part (static/softphone/twilio-adapter.js speaks Twilio's Media
Streams JSON), so a softphone call runs through the same consumer, pipeline and funnel as a phone
call; only Twilio is replaced. These views create the call, report its transcript, and apply the
status callbacks Twilio would send (answered, completed) through the same code path.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from calls import selectors as call_selectors
from calls import services as call_services
from calls.models import Call, Direction, Message, Mode, Status
from funnel.models import Script
from funnel.selectors import script_get_default
from telephony import services as telephony_services
from telephony.tokens import stream_token_make
from telephony.twiml import STREAM_PATH
from voiceagent.logging import get_logger

log = get_logger("telephony.softphone")

LINE = "softphone"
# The browser's pseudo-number: 555-01xx is reserved for fiction, yet valid to phonenumbers.
SOFTPHONE_NUMBER = "+12025550143"
# The agent's side when no Twilio number is configured (an inbound call needs a number dialled).
AGENT_NUMBER = "+12025550100"
# Twilio's start message carries an AccountSid; the softphone has no account.
ACCOUNT_SID = "AC" + "0" * 32
MAX_TEXT = 2000

JsonView = Callable[..., HttpResponse]


def _error(message: str, status: int, fields: dict[str, str] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"success": False, "error": message}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


def staff_json(view: JsonView) -> JsonView:
    """JSON endpoints answer 403 JSON (not a login redirect) to anyone but signed-in staff."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            return _error("staff login required", 403)
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@staff_member_required
@require_GET
def softphone_page(request: HttpRequest) -> HttpResponse:
    default = script_get_default()  # creates the built-in script on a fresh install
    scripts = list(Script.objects.order_by("name"))
    return render(
        request,
        "softphone/softphone.html",
        {
            "scripts": scripts,
            "default_script_id": default.pk,
            "modes": Mode.choices,
            "softphone_number": SOFTPHONE_NUMBER,
        },
    )


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def _parse_start(request: HttpRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """The call fields from a JSON (or form) body, and the errors by field."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}, {"body": "is not valid JSON"}
        if not isinstance(data, dict):
            return {}, {"body": "must be a JSON object"}
    else:
        data = request.POST.dict()
    errors: dict[str, str] = {}
    mode = _text(data, "mode") or Mode.FUNNEL
    if mode not in Mode.values:
        errors["mode"] = f"must be one of {', '.join(Mode.values)}"
    direction = _text(data, "direction") or Direction.OUTBOUND
    if direction not in Direction.values:
        errors["direction"] = f"must be one of {', '.join(Direction.values)}"
    script: Script | None = None
    raw_script = data.get("script_id")
    if raw_script not in (None, ""):
        try:
            script = Script.objects.filter(pk=int(raw_script)).first()
        except (TypeError, ValueError, OverflowError):
            script = None
        if script is None:
            errors["script_id"] = "no such script"
    fields = {
        "mode": mode,
        "direction": direction,
        "script": script,
        "message": _text(data, "message"),
        "greeting": _text(data, "greeting"),
        "objective": _text(data, "objective"),
        "display_name": _text(data, "display_name")[:120] or "Softphone",
    }
    if mode == Mode.SCRIPTED and not fields["message"]:
        errors["message"] = "is required for scripted calls"
    return fields, errors


@staff_json
@require_POST
def softphone_call_create(request: HttpRequest) -> HttpResponse:
    """Create the call the page will stream: {call_sid, stream_url, token, start}."""
    fields, errors = _parse_start(request)
    if errors:
        return _error("invalid input", 400, errors)
    inbound = fields["direction"] == Direction.INBOUND
    script = fields["script"]
    if fields["mode"] == Mode.FUNNEL and script is None:
        script = script_get_default()
    agent_number = settings.TWILIO_PHONE_NUMBER or AGENT_NUMBER
    try:
        call = call_services.call_create(
            direction=fields["direction"],
            mode=fields["mode"],
            to_number=agent_number if inbound else SOFTPHONE_NUMBER,
            from_number=SOFTPHONE_NUMBER if inbound else agent_number,
            display_name=fields["display_name"],
            user_id=str(request.user.pk),
            message=fields["message"],
            greeting=fields["greeting"],
            objective=fields["objective"],
            script_id=script.pk if script is not None else None,
            # A staff member testing the agent is not a person who asked not to be called.
            check_do_not_call=False,
        ).call
    except call_services.CallRejected as exc:
        return _error("invalid input", exc.status_code, {exc.field: exc.reason})
    # The network's own call id, as Twilio's CallSid would be (same shape, never a real one).
    provider_sid = "CA" + secrets.token_hex(16)
    call_services.call_set_provider_sid(call=call, provider_sid=provider_sid, line=LINE)
    # Ringing until the stream starts; the pipeline marks it in progress as for any answered call.
    _network_status(call, Status.RINGING)
    log.info(
        "softphone call",
        extra={
            "event": "softphone_call",
            "call_sid": call.sid,
            "mode": call.mode,
            "direction": call.direction,
        },
    )
    token = stream_token_make(call_sid=call.sid)
    return JsonResponse(
        {
            "success": True,
            "call_sid": call.sid,
            "stream_url": _stream_url(request),
            "token": token,
            "start": {
                "callSid": provider_sid,
                "accountSid": ACCOUNT_SID,
                "customParameters": {"call_sid": call.sid, "token": token},
            },
        },
        status=201,
    )


def _stream_url(request: HttpRequest) -> str:
    # The browser connects back to the host it loaded the page from, not PUBLIC_BASE_URL
    # (which is where Twilio reaches us and may be a tunnel).
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}{STREAM_PATH}"


def _network_status(call: Call, status: str) -> None:
    telephony_services.status_callback_apply(
        params={"CallSid": call.provider_sid, "CallStatus": status}, call_sid=call.sid
    )


def _softphone_call(sid: str) -> Call | None:
    return Call.objects.filter(sid=sid, line=LINE).first()


@staff_json
@require_POST
def softphone_call_end(request: HttpRequest, sid: str) -> HttpResponse:
    """The browser's stream is over (or never opened).

    An answered call is finalized by the stream consumer itself (status and end reason); a call
    whose stream never started is reported `canceled`, as Twilio reports a call never answered.
    """
    call = _softphone_call(sid)
    if call is None:
        return _error("no such softphone call", 404)
    if not call.is_terminal and call.answered_at is None:
        _network_status(call, Status.CANCELED)
        call.refresh_from_db()
    return JsonResponse({"success": True, "call": _call_json(call)})


@staff_json
@require_GET
def softphone_call_transcript(request: HttpRequest, sid: str) -> HttpResponse:
    """The call's state and every turn so far; the page polls this while the call runs."""
    try:
        call = call_selectors.call_get(sid=sid)
    except (Call.DoesNotExist, call_selectors.AmbiguousSid, call_selectors.SidTooShort):
        return _error("no such call", 404)
    messages = [_message_json(m) for m in call_selectors.call_transcript(call=call)]
    return JsonResponse({"success": True, "call": _call_json(call), "messages": messages})


def _call_json(call: Call) -> dict[str, Any]:
    duration = call.duration
    return {
        "sid": call.sid,
        "mode": call.mode,
        "direction": call.direction,
        "line": call.line,
        "status": call.status,
        "is_terminal": call.is_terminal,
        "funnel_state": call.funnel_state,
        "end_reason": call.end_reason,
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "duration_seconds": round(duration.total_seconds(), 1) if duration else None,
        "fallbacks": call.fallbacks,
    }


def _message_json(message: Message) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "funnel_state": message.funnel_state,
        "intent": message.intent,
        "interrupted": message.interrupted,
        "stt_ms": message.stt_ms,
        "llm_ms": message.llm_ms,
        "tts_first_byte_ms": message.tts_first_byte_ms,
        "turn_ms": message.turn_ms,
        "created_at": message.created_at.isoformat(),
    }
