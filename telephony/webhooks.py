"""Twilio's webhooks: check the signature, hand the form to `telephony.services`, answer TwiML."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from telephony import services, twiml
from voiceagent.logging import get_logger

log = get_logger("telephony.webhooks")

View = Callable[[HttpRequest], HttpResponse]


def twilio_signed(view: View) -> View:
    """403 unless X-Twilio-Signature matches the public URL and form of this request."""

    def wrapped(request: HttpRequest) -> HttpResponse:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not services.signature_is_valid(
            full_path=request.get_full_path(), params=request.POST, signature=signature
        ):
            log.warning(
                "bad twilio signature",
                extra={"event": "webhook_forbidden", "path": request.path, "signed": bool(signature)},
            )
            return HttpResponseForbidden("invalid signature")
        return view(request)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return csrf_exempt(require_POST(wrapped))


def _twiml(xml: str) -> HttpResponse:
    return HttpResponse(xml, content_type="application/xml")


@twilio_signed
def inbound_webhook(request: HttpRequest) -> HttpResponse:
    return _twiml(services.inbound_answer(params=request.POST))


@twilio_signed
def outbound_webhook(request: HttpRequest) -> HttpResponse:
    xml = services.outbound_answer(call_sid=request.GET.get("call", ""), params=request.POST)
    # An answered call we know nothing about: hang up rather than leave the callee in silence.
    return _twiml(xml if xml is not None else twiml.hangup())


@twilio_signed
def status_callback(request: HttpRequest) -> HttpResponse:
    services.status_callback_apply(params=request.POST, call_sid=request.GET.get("call", ""))
    return HttpResponse(status=200)


@twilio_signed
def stream_ended(request: HttpRequest) -> HttpResponse:
    return _twiml(services.stream_ended_answer(call_sid=request.GET.get("call", "")))
