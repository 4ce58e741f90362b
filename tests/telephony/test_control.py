from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from calls.models import Call, Message
from calls.services import call_create
from telephony import protocol
from telephony.lines import twilio_line
from tests.conftest import API_KEY
from tests.telephony.stream import FakeTwilio, signed_start, wait_messages
from tests.telephony.twilio_fakes import FakeTwilioHttp

pytestmark = pytest.mark.django_db(transaction=True)

HANDOFF = "+14155550199"
LONG_GREETING = "Hello there. This is Alex calling about your order. It should arrive on Friday morning."


def _create(**fields) -> Call:
    fields.setdefault("to_number", "+14155550123")
    return call_create(**fields).call


async def _post(path: str):
    return await AsyncClient().post(path, headers={"X-API-Key": API_KEY})


@pytest.fixture
def twilio_http(settings, monkeypatch) -> FakeTwilioHttp:
    """Twilio configured, its HTTP API faked at twilio's own HttpClient seam."""
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "secret-token"
    settings.TWILIO_PHONE_NUMBER = "+12025550100"
    settings.TWILIO_CONFIGURED = True
    http = FakeTwilioHttp()
    monkeypatch.setattr(twilio_line, "TwilioHttpClient", lambda **kwargs: http)
    return http


async def test_it_hangs_up_through_the_stream_and_keeps_what_was_heard():
    call = await sync_to_async(_create)(mode="interactive", greeting=LONG_GREETING)
    twilio = FakeTwilio(realtime=True)
    await twilio.open(signed_start(call.sid))
    try:
        await twilio.wait_for(lambda: len(twilio.returned) >= 1, timeout=10)
        response = await _post(f"/api/call/{call.sid}/hangup")
        assert response.status_code == 200, response.content
        assert response.json()["via"] == "stream"
        assert await twilio.wait_closed() == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    assert twilio.clears == 1
    await sync_to_async(call.refresh_from_db)()
    assert (call.status, call.end_reason) == ("completed", "api_hangup")
    [greeting] = await wait_messages(call, 1)
    assert greeting.interrupted and greeting.text.startswith("Hello there.")
    assert "Friday" not in greeting.text


async def test_it_transfers_through_the_stream_and_the_action_url_dials(settings):
    settings.HANDOFF_NUMBER = HANDOFF
    call = await sync_to_async(_create)(mode="interactive", greeting="Hello there.")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        await wait_messages(call, 1)
        response = await _post(f"/api/call/{call.sid}/transfer")
        assert response.status_code == 200, response.content
        assert await twilio.wait_closed() == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    await sync_to_async(call.refresh_from_db)()
    assert call.status == "transferred"
    messages = await wait_messages(call, 2)
    assert messages[-1].text == "Transferring you now."


def test_it_hangs_up_through_twilio_without_a_stream(client, twilio_http):
    call = _create(mode="funnel", provider_sid="CA" + "1" * 32)
    Call.objects.filter(pk=call.pk).update(status="in-progress")
    response = client.post(f"/api/call/{call.sid}/hangup", HTTP_X_API_KEY=API_KEY)
    assert response.status_code == 200
    assert response.json() == {"success": True, "call_sid": call.sid, "status": "completed", "via": "line"}
    [update] = twilio_http.requests
    assert update["uri"].endswith(f"/Calls/{'CA' + '1' * 32}.json")
    assert update["data"] == {"Status": "completed"}


def test_it_transfers_without_a_stream_by_redirecting_the_twilio_call_to_dial(client, settings, twilio_http):
    settings.HANDOFF_NUMBER = HANDOFF
    call = _create(mode="funnel", provider_sid="CA" + "3" * 32)
    Call.objects.filter(pk=call.pk).update(status="in-progress")
    response = client.post(f"/api/call/{call.sid}/transfer", HTTP_X_API_KEY=API_KEY)
    assert response.status_code == 200 and response.json()["via"] == "line"
    assert f"<Dial>{HANDOFF}</Dial>" in twilio_http.requests[-1]["data"]["Twiml"]
    call.refresh_from_db()
    assert (call.status, call.end_reason) == ("transferred", "api_transfer")


def test_it_hangs_up_a_call_twilio_already_ended_without_error(client, twilio_http):
    twilio_http.answers.append((404, {"status": 404, "code": 20404, "message": "not found", "more_info": ""}))
    call = _create(mode="funnel", provider_sid="CA" + "2" * 32)
    response = client.post(f"/api/call/{call.sid}/hangup", HTTP_X_API_KEY=API_KEY)
    assert response.status_code == 200
    call.refresh_from_db()
    assert (call.status, call.end_reason) == ("canceled", "api_hangup")  # it never got answered


def test_it_answers_404_and_409_and_needs_the_key_for_live_control(client, settings):
    assert client.post("/api/call/CA0000000000000000/hangup", HTTP_X_API_KEY=API_KEY).status_code == 404
    assert client.post("/api/call/CA0000000000000000/hangup").status_code == 401
    call = _create(mode="funnel")
    response = client.post(f"/api/call/{call.sid}/transfer", HTTP_X_API_KEY=API_KEY)
    assert response.status_code == 409
    assert "HANDOFF_NUMBER" in response.json()["error"]
    settings.HANDOFF_NUMBER = HANDOFF
    response = client.post(f"/api/call/{call.sid}/transfer", HTTP_X_API_KEY=API_KEY)
    assert response.status_code == 409 and "no live stream" in response.json()["error"]
    Call.objects.filter(pk=call.pk).update(status="completed")
    for action in ("hangup", "transfer"):
        response = client.post(f"/api/call/{call.sid}/{action}", HTTP_X_API_KEY=API_KEY)
        assert response.status_code == 409
        assert "already ended" in response.json()["error"]
    assert not Message.objects.exists()
