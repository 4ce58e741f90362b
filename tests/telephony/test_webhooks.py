from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import httpx
import pytest
import respx

from calls.models import Call, DoNotCall
from calls.services import call_create
from telephony import callbacks
from telephony.tokens import stream_token_check
from tests.telephony.twilio_signing import signature, signed_post

pytestmark = pytest.mark.django_db

OUR_NUMBER = "+14155550100"
CALLER = "+14155550123"


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    monkeypatch.setattr(callbacks, "BACKOFF_SECONDS", 0.0)


def _inbound(client, provider_sid: str = "CA" + "1" * 32, caller: str = CALLER):
    params = {"CallSid": provider_sid, "From": caller, "To": OUR_NUMBER, "CallStatus": "ringing"}
    return signed_post(client, "/twilio/webhook", params)


def _stream_params(xml: str) -> tuple[ElementTree.Element, dict[str, str]]:
    root = ElementTree.fromstring(xml)
    connect = root.find("Connect")
    assert connect is not None, xml
    stream = connect.find("Stream")
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    return connect, {"url": stream.get("url"), **params}


def test_it_answers_an_inbound_call_with_a_stream_and_a_token(client):
    response = _inbound(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    call = Call.objects.get(provider_sid="CA" + "1" * 32)
    assert (call.direction, call.mode, call.status) == ("inbound", "interactive", "queued")
    assert (call.from_number, call.to_number) == (CALLER, OUR_NUMBER)
    connect, params = _stream_params(response.content.decode())
    assert connect.get("action") == f"https://voice.example.test/twilio/stream-ended?call={call.sid}"
    assert params["url"] == "wss://voice.example.test/twilio/stream"
    assert params["call_sid"] == call.sid
    stream_token_check(token=params["token"], call_sid=call.sid)  # raises if not valid


def test_it_reuses_the_call_on_a_repeated_inbound_webhook(client):
    _inbound(client)
    _inbound(client)
    assert Call.objects.filter(provider_sid="CA" + "1" * 32).count() == 1


def test_it_still_answers_a_caller_on_the_do_not_call_list(client):
    DoNotCall.objects.create(number=CALLER)
    response = _inbound(client)
    assert response.status_code == 200 and b"<Stream" in response.content
    assert Call.objects.filter(direction="inbound", from_number=CALLER).exists()


def test_it_still_answers_a_withheld_caller_id(client):
    response = _inbound(client, caller="anonymous")
    assert response.status_code == 200 and b"<Stream" in response.content
    assert Call.objects.get(provider_sid="CA" + "1" * 32).from_number == ""


@pytest.mark.parametrize(
    "path",
    [
        "/twilio/webhook",
        "/twilio/outbound-webhook?call=CAx",
        "/twilio/status-callback",
        "/twilio/stream-ended?call=CAx",
    ],
)
def test_it_forbids_unsigned_or_forged_webhooks(client, path):
    params = {"CallSid": "CA" + "2" * 32, "From": CALLER, "To": OUR_NUMBER, "CallStatus": "completed"}
    assert client.post(path, params).status_code == 403
    forged = signature(path, params, token="not-the-token")
    assert client.post(path, params, HTTP_X_TWILIO_SIGNATURE=forged).status_code == 403
    # A valid signature for other form values does not carry over.
    other = signature(path, {**params, "CallStatus": "busy"})
    assert client.post(path, params, HTTP_X_TWILIO_SIGNATURE=other).status_code == 403
    assert not Call.objects.exists()


def test_it_checks_the_twilio_auth_token_when_twilio_is_configured(client, settings):
    settings.TWILIO_AUTH_TOKEN = "twilio-secret"
    assert _inbound(client).status_code == 403  # signed with the simulated token
    params = {"CallSid": "CA" + "3" * 32, "From": CALLER, "To": OUR_NUMBER}
    assert signed_post(client, "/twilio/webhook", params, token="twilio-secret").status_code == 200


def test_it_does_not_allow_a_get(client):
    assert client.get("/twilio/webhook").status_code == 405


def test_it_streams_an_answered_outbound_call(client):
    call = call_create(to_number=CALLER, mode="funnel").call
    path = f"/twilio/outbound-webhook?call={call.sid}"
    response = signed_post(client, path, {"CallSid": "CA" + "4" * 32, "CallStatus": "in-progress"})
    assert response.status_code == 200
    connect, params = _stream_params(response.content.decode())
    assert params["call_sid"] == call.sid
    call.refresh_from_db()
    assert call.provider_sid == "CA" + "4" * 32


def test_it_hangs_up_an_answered_call_we_do_not_know(client):
    response = signed_post(client, "/twilio/outbound-webhook?call=CAnope", {"CallSid": "CA" + "5" * 32})
    assert response.status_code == 200
    assert re.search(rb"<Hangup\s*/>", response.content)


@pytest.mark.parametrize(
    ("status", "handoff", "expected"),
    [
        ("transferred", "+14155550199", b"<Dial>+14155550199</Dial>"),
        ("transferred", "", b"<Hangup />"),
        ("in-progress", "+14155550199", b"<Hangup />"),
        ("completed", "+14155550199", b"<Hangup />"),
    ],
)
def test_it_dials_only_a_transfer_from_the_stream_ended_action(client, settings, status, handoff, expected):
    settings.HANDOFF_NUMBER = handoff
    call = call_create(to_number=CALLER, mode="funnel").call
    Call.objects.filter(pk=call.pk).update(status=status)
    response = signed_post(client, f"/twilio/stream-ended?call={call.sid}", {"CallSid": "CA" + "6" * 32})
    assert response.status_code == 200
    assert expected in response.content


def _status(client, provider_sid: str, status: str, *, path: str = "/twilio/status-callback"):
    return signed_post(client, path, {"CallSid": provider_sid, "CallStatus": status})


@respx.mock
@pytest.mark.django_db(transaction=True)
def test_it_reaches_the_right_final_state_from_repeated_out_of_order_status_callbacks(client):
    hook = respx.post("https://hooks.example.test/status").mock(return_value=httpx.Response(204))
    call = call_create(to_number=CALLER, mode="funnel", callback_url="https://hooks.example.test/status").call
    call.provider_sid = "CA" + "7" * 32
    call.save(update_fields=["provider_sid"])
    for status in [
        "ringing",
        "in-progress",
        "ringing",
        "initiated",
        "in-progress",
        "completed",
        "in-progress",
        "busy",
        "completed",
    ]:
        assert _status(client, call.provider_sid, status).status_code == 200
    assert callbacks.wait_idle()
    call.refresh_from_db()
    assert call.status == "completed" and call.answered_at and call.ended_at
    sent = [c.request.content for c in hook.calls]
    statuses = [json.loads(body)["status"] for body in sent]
    assert statuses == ["ringing", "in-progress", "completed"]
    assert json.loads(sent[-1]) == {
        "call_sid": call.sid,
        "status": "completed",
        "end_reason": "",
        "funnel_state": "",
    }


def test_it_ends_the_call_with_its_reason_when_the_callee_is_busy(client):
    call = call_create(to_number=CALLER, mode="funnel").call
    assert _status(client, "", "busy", path=f"/twilio/status-callback?call={call.sid}").status_code == 200
    call.refresh_from_db()
    assert (call.status, call.end_reason) == ("busy", "busy")


def test_it_ends_a_transferred_call_when_the_bridged_call_completes(client):
    call = call_create(to_number=CALLER, mode="funnel", provider_sid="CA" + "8" * 32).call
    Call.objects.filter(pk=call.pk).update(status="transferred", end_reason="handoff")
    _status(client, call.provider_sid, "in-progress")
    call.refresh_from_db()
    assert call.status == "transferred"
    _status(client, call.provider_sid, "completed")
    call.refresh_from_db()
    assert (call.status, call.end_reason) == ("completed", "handoff")
    assert call.ended_at is not None


def test_it_ignores_a_status_for_an_unknown_call(client):
    assert _status(client, "CA" + "9" * 32, "completed").status_code == 200
    assert _status(client, "CA" + "9" * 32, "nonsense").status_code == 200


@respx.mock
@pytest.mark.django_db(transaction=True)
def test_it_retries_a_failing_callback_url_then_gives_up_without_blocking(client, settings, caplog):
    settings.CALLBACK_RETRIES = 2
    hook = respx.post("https://hooks.example.test/status").mock(
        side_effect=[
            httpx.Response(500),
            httpx.ConnectError("down"),
            httpx.Response(200),
            httpx.Response(503),
            httpx.Response(503),
            httpx.Response(503),
        ]
    )
    call = call_create(
        to_number=CALLER,
        mode="funnel",
        callback_url="https://hooks.example.test/status",
        provider_sid="CA" + "a" * 32,
    ).call
    _status(client, call.provider_sid, "in-progress")
    _status(client, call.provider_sid, "completed")
    assert callbacks.wait_idle()
    assert hook.call_count == 6
    failed = [r for r in caplog.records if getattr(r, "event", "") == "callback_failed"]
    assert len(failed) == 1 and failed[0].status == "completed"
    assert "hooks.example.test/status" not in caplog.text  # the host, never the full URL
