"""Whole calls: signed webhooks, the stream with real speech, the action URL, status callbacks."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import httpx
import pytest
import respx
from asgiref.sync import sync_to_async
from django.test import Client

from calls.models import Call, Message
from calls.services import call_create
from funnel.text_driver import run_text_call
from telephony import callbacks, playback, protocol
from tests.telephony.speech import utterance
from tests.telephony.stream import FakeTwilio, wait_messages
from tests.telephony.twilio_signing import signed_post

pytestmark = pytest.mark.django_db(transaction=True)

HOOK = "https://hooks.example.test/calls"
HANDOFF = "+14155550199"


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    monkeypatch.setattr(playback, "LEAD_MS", 600_000)  # not about pacing: send audio as made
    monkeypatch.setattr(callbacks, "BACKOFF_SECONDS", 0.0)


def _post(path: str, params: dict[str, str]) -> tuple[int, str]:
    response = signed_post(Client(), path, params)
    return response.status_code, response.content.decode()


async def _webhook(path: str, params: dict[str, str]) -> tuple[int, str]:
    return await sync_to_async(_post)(path, params)


def _stream_params(xml: str) -> dict[str, str]:
    stream = ElementTree.fromstring(xml).find("Connect/Stream")
    return {p.get("name"): p.get("value") for p in stream.findall("Parameter")}


def _rows(messages: list[Message]) -> list[tuple[str, str, str, str, bool]]:
    return [(m.role, m.text, m.funnel_state, m.intent, m.interrupted) for m in messages]


@respx.mock
async def test_it_takes_an_inbound_call_from_webhook_to_hang_up():
    provider_sid = "CA" + "b" * 32
    status, xml = await _webhook(
        "/twilio/webhook", {"CallSid": provider_sid, "From": "+14155550123", "To": "+14155550100"}
    )
    assert status == 200
    call = await sync_to_async(Call.objects.get)(provider_sid=provider_sid)
    twilio = FakeTwilio()
    await twilio.open(_stream_params(xml))  # exactly what Twilio would send back
    try:
        await wait_messages(call, 1)
        await twilio.say(utterance("No, that's all. Goodbye."))
        assert await twilio.wait_closed() == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    status, xml = await _webhook(f"/twilio/stream-ended?call={call.sid}", {"CallSid": provider_sid})
    assert status == 200 and "<Hangup />" in xml
    await _webhook("/twilio/status-callback", {"CallSid": provider_sid, "CallStatus": "completed"})
    await sync_to_async(call.refresh_from_db)()
    assert (call.direction, call.mode, call.status, call.end_reason) == (
        "inbound",
        "interactive",
        "completed",
        "caller_goodbye",
    )
    messages = await wait_messages(call, 3)
    assert [(m.role, m.intent) for m in messages] == [
        ("assistant", "answered"),
        ("user", "goodbye"),
        ("assistant", "goodbye"),
    ]


@respx.mock
async def test_it_transfers_an_outbound_funnel_call_and_the_action_url_dials(settings):
    settings.HANDOFF_NUMBER = HANDOFF
    hook = respx.post(HOOK).mock(return_value=httpx.Response(200))
    call = await sync_to_async(
        lambda: (
            call_create(
                to_number="+14155550123", mode="funnel", callback_url=HOOK, provider_sid="CA" + "c" * 32
            ).call
        )
    )()
    await _webhook(
        f"/twilio/status-callback?call={call.sid}", {"CallSid": call.provider_sid, "CallStatus": "ringing"}
    )
    status, xml = await _webhook(f"/twilio/outbound-webhook?call={call.sid}", {"CallSid": call.provider_sid})
    assert status == 200
    twilio = FakeTwilio()
    await twilio.open(_stream_params(xml))
    try:
        await wait_messages(call, 1)
        await twilio.say(utterance("Can I speak to a real person?"))
        assert await twilio.wait_closed() == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    status, xml = await _webhook(f"/twilio/stream-ended?call={call.sid}", {"CallSid": call.provider_sid})
    assert f"<Dial>{HANDOFF}</Dial>" in xml
    await sync_to_async(call.refresh_from_db)()
    assert (call.status, call.end_reason, call.funnel_state) == ("transferred", "handoff", "END")
    # Twilio reports the call completed once the dialled leg ends; the reason stays handoff.
    await _webhook("/twilio/status-callback", {"CallSid": call.provider_sid, "CallStatus": "completed"})
    await sync_to_async(call.refresh_from_db)()
    assert (call.status, call.end_reason, call.funnel_state) == ("completed", "handoff", "END")
    messages = await wait_messages(call, 3)
    assert messages[-1].text == "Transferring you now." and messages[1].intent == "wants_human"
    assert await sync_to_async(callbacks.wait_idle)()
    sent = [json.loads(c.request.content) for c in hook.calls]
    assert [s["status"] for s in sent] == ["ringing", "in-progress", "transferred", "completed"]
    assert sent[-1] == {
        "call_sid": call.sid,
        "status": "completed",
        "end_reason": "handoff",
        "funnel_state": "END",
    }


async def test_it_matches_the_text_driver_on_a_funnel_call_by_voice():
    """Same caller words, same transcript and states, whether spoken or typed."""
    voice_call = await sync_to_async(lambda: call_create(to_number="+14155550123", mode="funnel").call)()
    twilio = FakeTwilio()
    await twilio.open(_stream_params(await sync_to_async(_answer)(voice_call)))
    said = ["Yes, I am interested.", "Yes, I own my home.", "That sounds good.", "Yes, let's do it."]
    try:
        for turn, line in enumerate(said, start=1):
            await wait_messages(voice_call, 2 * turn - 1)
            await twilio.say(utterance(line))
        assert await twilio.wait_closed() == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    voice = await wait_messages(voice_call, 2 * len(said) + 1)
    heard = [m.text for m in voice if m.role == "user"]  # what Whisper made of the speech

    text_call = await sync_to_async(lambda: call_create(to_number="+14155550123", mode="funnel").call)()
    typed = await run_text_call(text_call, heard)
    assert _rows(voice) == _rows(typed)
    assert voice[-1].funnel_state == "END"
    for call in (voice_call, text_call):
        await sync_to_async(call.refresh_from_db)()
    assert (
        (voice_call.status, voice_call.end_reason, voice_call.funnel_state)
        == (
            text_call.status,
            text_call.end_reason,
            text_call.funnel_state,
        )
        == ("completed", "converted", "END")
    )


def _answer(call: Call) -> str:
    return _post(f"/twilio/outbound-webhook?call={call.sid}", {"CallSid": "CA" + "d" * 32})[1]
