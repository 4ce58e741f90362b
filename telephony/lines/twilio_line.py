"""The real phone network: Twilio's REST API places, ends and transfers calls.

Twilio then calls our webhooks (`/twilio/outbound-webhook`, `/twilio/status-callback`) and
opens the media stream; nothing here waits for the call itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from calls import services
from telephony.lines.base import LineError
from voiceagent.logging import get_logger

if TYPE_CHECKING:
    from twilio.http import HttpClient

    from calls.models import Call

log = get_logger("telephony.lines.twilio")

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
CALL_NOT_IN_PROGRESS = 21220


def webhook_urls(call: Call, base_url: str | None = None) -> tuple[str, str]:
    """The answer URL and status-callback URL Twilio is told for `call`."""
    base = (base_url or settings.PUBLIC_BASE_URL).rstrip("/")
    query = urlencode({"call": call.sid})
    return f"{base}/twilio/outbound-webhook?{query}", f"{base}/twilio/status-callback?{query}"


class TwilioLine:
    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        http_client: HttpClient | None = None,
        machine_detection: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.from_number = from_number or settings.TWILIO_PHONE_NUMBER
        # Answering-machine detection delays the answer webhook by seconds: off unless asked for.
        self.machine_detection = machine_detection
        http = http_client or TwilioHttpClient(timeout=timeout or settings.PROVIDER_TIMEOUT_SECONDS)
        self.client = Client(
            account_sid or settings.TWILIO_ACCOUNT_SID,
            auth_token or settings.TWILIO_AUTH_TOKEN,
            http_client=http,
        )

    def place(self, call: Call) -> None:
        answer_url, status_url = webhook_urls(call)
        options: dict[str, object] = {
            "to": call.to_number,
            "from_": self.from_number,
            "url": answer_url,
            "status_callback": status_url,
            "status_callback_event": STATUS_EVENTS,
            "status_callback_method": "POST",
        }
        if self.machine_detection:
            options["machine_detection"] = self.machine_detection
        try:
            created = self.client.calls.create(**options)
        except TwilioRestException as exc:
            log.warning(
                "twilio rejected the call",
                extra={"event": "line_place_failed", "call_sid": call.sid, "code": exc.code},
            )
            raise LineError(
                self.name, f"Twilio rejected the call: {exc.msg}", status_code=exc.status
            ) from None
        except (TwilioException, requests.RequestException) as exc:
            log.warning(
                "twilio unreachable",
                extra={"event": "line_place_failed", "call_sid": call.sid, "error": exc.__class__.__name__},
            )
            raise LineError(self.name, f"Twilio could not be reached ({exc.__class__.__name__})") from None
        services.call_set_provider_sid(call=call, provider_sid=created.sid, line=self.name)
        log.info(
            "call placed",
            extra={
                "event": "line_placed",
                "line": self.name,
                "call_sid": call.sid,
                "provider_sid": created.sid,
            },
        )

    def hangup(self, call: Call) -> None:
        # Twilio ends a call not yet answered with `canceled`, an answered one with `completed`.
        unanswered = call.status in ("queued", "initiated", "ringing")
        self._update(call, "hangup", status="canceled" if unanswered else "completed")

    def transfer(self, call: Call, to_number: str) -> None:
        twiml = VoiceResponse()
        twiml.dial(to_number)
        self._update(call, "transfer", twiml=str(twiml))

    def _update(self, call: Call, what: str, **changes: str) -> None:
        if not call.provider_sid:
            return  # never reached Twilio: nothing to change there
        try:
            self.client.calls(call.provider_sid).update(**changes)
        except TwilioRestException as exc:
            if exc.status == 404 or exc.code == CALL_NOT_IN_PROGRESS:
                # The call is already over (Twilio answers 404, or 21220 for a finished call).
                log.info("call already ended", extra={"event": f"line_{what}_gone", "call_sid": call.sid})
                return
            raise LineError(
                self.name, f"Twilio refused the {what}: {exc.msg}", status_code=exc.status
            ) from None
        except (TwilioException, requests.RequestException) as exc:
            raise LineError(self.name, f"Twilio could not be reached ({exc.__class__.__name__})") from None
        log.info("call updated", extra={"event": f"line_{what}", "line": self.name, "call_sid": call.sid})
