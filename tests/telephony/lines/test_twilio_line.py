"""TwilioLine against a faked Twilio HTTP API (twilio's own HttpClient seam: respx can't see it)."""

from __future__ import annotations

import pytest

from calls import services
from calls.models import Call, Status
from telephony.lines import LineError, call_place
from telephony.lines.twilio_line import TwilioLine
from tests.telephony.twilio_fakes import TWILIO_SID, FakeTwilioHttp

ACCOUNT = "AC" + "1" * 32


def _error(status: int, code: int, message: str) -> tuple[int, dict]:
    return status, {"status": status, "code": code, "message": message, "more_info": ""}


@pytest.fixture
def twilio(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = "secret-token"
    settings.TWILIO_PHONE_NUMBER = "+12025550100"
    settings.TWILIO_CONFIGURED = True
    http = FakeTwilioHttp()
    return http, TwilioLine(http_client=http)


@pytest.fixture
def call(db) -> Call:
    return services.call_create(to_number="+12025550143").call


def test_it_places_the_call_with_our_webhooks_and_all_status_events(twilio, call):
    http, line = twilio
    line.place(call)

    (request,) = http.requests
    assert request["method"] == "POST"
    assert request["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert request["auth"] == (ACCOUNT, "secret-token")
    form = request["data"]
    assert form["To"] == "+12025550143"
    assert form["From"] == "+12025550100"
    assert form["Url"] == f"https://voice.example.test/twilio/outbound-webhook?call={call.sid}"
    assert form["StatusCallback"] == f"https://voice.example.test/twilio/status-callback?call={call.sid}"
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["StatusCallbackMethod"] == "POST"
    assert "MachineDetection" not in form


def test_it_stores_twilios_call_sid_and_the_line(twilio, call):
    _, line = twilio
    line.place(call)
    call.refresh_from_db()
    assert (call.provider_sid, call.line) == (TWILIO_SID, "twilio")


def test_it_asks_for_machine_detection_only_when_told(twilio, call):
    http, _ = twilio
    TwilioLine(http_client=http, machine_detection="DetectMessageEnd").place(call)
    assert http.requests[0]["data"]["MachineDetection"] == "DetectMessageEnd"


def test_it_raises_a_line_error_when_twilio_rejects_the_call(twilio, call):
    http, line = twilio
    http.answers.append(_error(400, 21211, "The 'To' number is not a valid phone number."))
    with pytest.raises(LineError, match="not a valid phone number") as caught:
        line.place(call)
    assert caught.value.status_code == 400
    call.refresh_from_db()
    assert call.provider_sid == ""


def test_it_hangs_up_by_completing_the_call(twilio, call):
    http, line = twilio
    line.place(call)
    services.call_set_status(call=call, status=Status.IN_PROGRESS)
    line.hangup(call)
    hangup = http.requests[-1]
    assert hangup["uri"].endswith(f"/Calls/{TWILIO_SID}.json")
    assert hangup["data"] == {"Status": "completed"}


def test_it_hangs_up_an_unanswered_call_by_canceling_it(twilio, call):
    http, line = twilio
    line.place(call)
    services.call_set_status(call=call, status=Status.RINGING)
    line.hangup(call)
    assert http.requests[-1]["data"] == {"Status": "canceled"}


def test_it_treats_a_gone_call_as_hung_up(twilio, call):
    http, line = twilio
    line.place(call)
    http.answers.append(_error(404, 20404, "The requested resource was not found"))
    line.hangup(call)  # no error: the call had already ended


def test_it_reports_other_hangup_failures(twilio, call):
    http, line = twilio
    line.place(call)
    http.answers.append(_error(500, 20500, "Internal Server Error"))
    with pytest.raises(LineError):
        line.hangup(call)


def test_it_transfers_with_a_dial_twiml_update(twilio, call):
    http, line = twilio
    line.place(call)
    line.transfer(call, "+12025550199")
    twiml = http.requests[-1]["data"]["Twiml"]
    assert "<Dial>+12025550199</Dial>" in twiml


def test_it_does_nothing_for_a_call_twilio_never_had(twilio, call):
    http, line = twilio
    line.hangup(call)
    assert http.requests == []


def test_it_marks_the_call_failed_in_call_place_when_the_line_refuses(twilio, call, monkeypatch):
    http, _ = twilio
    http.answers.append(_error(400, 21215, "Geographic permission denied"))
    monkeypatch.setattr("telephony.lines.twilio_line.TwilioHttpClient", lambda **kw: http)
    call_place(call)
    call.refresh_from_db()
    assert (call.status, call.end_reason) == (Status.FAILED, "telephony_error")
