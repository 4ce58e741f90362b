from __future__ import annotations

import asyncio

import httpx
import pytest
import respx
from asgiref.sync import sync_to_async

from calls.models import Call
from calls.services import call_create
from telephony import pipeline, playback, protocol
from telephony.providers.local_stt import load_whisper_model
from telephony.providers.local_tts import load_piper_voice
from tests.telephony.speech import speech, utterance
from tests.telephony.stream import FakeTwilio, signed_start, wait_messages

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session", autouse=True)
def _warm_models():
    # Load once per session, as a server does at its first call.
    from telephony.providers.local_tts import _synthesize_piece

    load_piper_voice()
    _synthesize_piece("Hello.")  # onnxruntime's first run is slow; a server warms up the same way
    load_whisper_model()


@pytest.fixture
def fast_playback(monkeypatch):
    """Send our audio as fast as it is made: these tests are not about pacing."""
    monkeypatch.setattr(playback, "LEAD_MS", 600_000)


def _create(**fields) -> Call:
    fields.setdefault("to_number", "+14155550123")
    return call_create(**fields).call


async def _refresh(call: Call) -> Call:
    await sync_to_async(call.refresh_from_db)()
    return call


async def test_it_says_a_scripted_message_and_hangs_up(fast_playback):
    call = await sync_to_async(_create)(mode="scripted", message="Your parcel has arrived.")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        assert await twilio.wait_closed() == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    call = await _refresh(call)
    assert (call.status, call.end_reason) == ("completed", "delivered")
    assert call.answered_at is not None and call.ended_at is not None
    messages = await wait_messages(call, 1)
    assert [(m.role, m.text, m.interrupted) for m in messages] == [
        ("assistant", "Your parcel has arrived. Goodbye!", False)
    ]
    assert messages[0].tts_first_byte_ms is not None and messages[0].turn_ms is not None
    assert twilio.media_frames > 50
    assert twilio.returned == twilio.marks and len(twilio.marks) == 2  # one mark per sentence


@respx.mock
async def test_it_speaks_with_piper_and_counts_the_fallback_when_elevenlabs_fails(fast_playback, settings):
    settings.TTS_PROVIDER = "elevenlabs"
    settings.ELEVENLABS_API_KEY = "el-test-key"
    settings.ELEVENLABS_VOICE_ID = "voice-1"
    eleven = respx.post(url__startswith="https://api.elevenlabs.io/v1/text-to-speech/voice-1/stream").mock(
        return_value=httpx.Response(500, json={"detail": "overloaded"})
    )
    call = await sync_to_async(_create)(mode="scripted", message="Your parcel has arrived.")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        assert await twilio.wait_closed() == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    call = await _refresh(call)
    assert eleven.called
    assert call.fallbacks == {"tts": 1}
    assert (call.status, call.end_reason) == ("completed", "delivered")
    assert twilio.media_frames > 50  # the caller still heard the whole line, from Piper


async def test_it_talks_an_interactive_outbound_call_to_a_goodbye(fast_playback):
    call = await sync_to_async(_create)(mode="interactive", greeting="Hi, this is Alex calling.")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        await wait_messages(call, 1)
        await twilio.say(utterance("I need milk and bread."))
        await wait_messages(call, 3)
        await twilio.say(utterance("No, that's all. Goodbye."))
        assert await twilio.wait_closed() == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    call = await _refresh(call)
    assert (call.status, call.end_reason) == ("completed", "caller_goodbye")
    messages = await wait_messages(call, 5)
    assert [(m.role, m.intent) for m in messages] == [
        ("assistant", "answered"),
        ("user", "unclear"),
        ("assistant", "unclear"),
        ("user", "goodbye"),
        ("assistant", "goodbye"),
    ]
    assert messages[0].text == "Hi, this is Alex calling."
    assert "milk" in messages[1].text.lower()
    assert messages[1].stt_ms is not None and messages[2].turn_ms is not None
    assert messages[4].text == "Thanks so much for your time! Have a wonderful day!"


async def test_it_refuses_a_stream_with_a_bad_token():
    call = await sync_to_async(_create)(mode="interactive")
    twilio = FakeTwilio()
    await twilio.open({"call_sid": call.sid, "token": signed_start("CA" + "0" * 32)["token"]})
    try:
        assert await twilio.wait_closed() == protocol.CLOSE_BAD_TOKEN
    finally:
        await twilio.disconnect()
    assert twilio.media_frames == 0
    call = await _refresh(call)
    assert call.status == "queued"


async def test_it_refuses_a_stream_without_a_token():
    twilio = FakeTwilio()
    await twilio.open({})
    try:
        assert await twilio.wait_closed() == protocol.CLOSE_BAD_TOKEN
    finally:
        await twilio.disconnect()


async def test_it_refuses_a_stream_for_an_ended_call():
    call = await sync_to_async(_create)(mode="interactive")
    await sync_to_async(Call.objects.filter(pk=call.pk).update)(status="completed")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        assert await twilio.wait_closed() == protocol.CLOSE_CALL_ENDED
    finally:
        await twilio.disconnect()


async def test_it_survives_malformed_frames(fast_playback):
    call = await sync_to_async(_create)(mode="interactive", greeting="Hello there.")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        await wait_messages(call, 1)
        await twilio.comm.send_to(text_data="this is not json")
        await twilio.comm.send_to(bytes_data=b"\x00\x01")
        await twilio.send({"no": "event"})
        await twilio.send({"event": "bogus"})
        await twilio.send({"event": "media", "media": {"payload": "%%% not base64"}})
        await twilio.send({"event": "media"})
        await twilio.send({"event": "mark", "mark": {}})
        await twilio.send({"event": "mark", "mark": {"name": "never-sent"}})
        await twilio.send({"event": "dtmf", "dtmf": {"digit": "5"}})
        await twilio.send({"event": "start", "start": "nonsense"})
        await twilio.say(utterance("No, that's all. Goodbye."))
        assert await twilio.wait_closed() == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    messages = await wait_messages(call, 3)
    assert [m.role for m in messages] == ["assistant", "user", "assistant"]
    call = await _refresh(call)
    assert (call.status, call.end_reason) == ("completed", "caller_goodbye")


async def test_it_ends_the_call_after_silence(fast_playback, settings):
    settings.SILENCE_TIMEOUT_SECONDS = 1.0
    call = await sync_to_async(_create)(mode="funnel")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        assert await twilio.wait_closed(timeout=10) == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    call = await _refresh(call)
    assert (call.status, call.end_reason, call.funnel_state) == ("completed", "silence_timeout", "END")
    messages = await wait_messages(call, 2)
    assert messages[-1].text == "It seems I've lost you, so I'll let you go. Goodbye!"


async def test_it_says_goodbye_and_ends_the_call_at_the_time_limit(fast_playback, settings):
    settings.MAX_CALL_SECONDS = 2
    settings.SILENCE_TIMEOUT_SECONDS = 60
    call = await sync_to_async(_create)(mode="interactive", greeting="Hello there.")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        assert await twilio.wait_closed(timeout=10) == protocol.CLOSE_NORMAL
    finally:
        await twilio.disconnect()
    call = await _refresh(call)
    assert (call.status, call.end_reason) == ("completed", "max_duration")
    messages = await wait_messages(call, 2)
    assert messages[-1].text == pipeline.TIME_LIMIT_LINE
    assert twilio.returned == twilio.marks  # the goodbye was played to its end before the close


async def test_it_keeps_every_earlier_turn_when_the_socket_drops(settings):
    call = await sync_to_async(_create)(mode="interactive", greeting="Hello there.")
    twilio = FakeTwilio(realtime=True)
    await twilio.open(signed_start(call.sid))
    try:
        await wait_messages(call, 1)  # the greeting, heard in full
        await twilio.say(utterance("I need milk and bread."))
        await wait_messages(call, 2)  # the caller's turn is saved before we answer
        # "Got it, thank you. Is there anything else I can help you with?": drop the line
        # once its first sentence was heard.
        await twilio.wait_for(lambda: len(twilio.returned) >= 2, timeout=15)
    finally:
        await twilio.disconnect()  # gone mid-reply, no stop
    call = await _refresh(call)
    assert (call.status, call.end_reason) == ("completed", "caller_hangup")
    messages = await wait_messages(call, 3)
    assert [(m.role, m.interrupted) for m in messages] == [
        ("assistant", False),
        ("user", False),
        ("assistant", True),
    ]
    assert messages[0].text == "Hello there."
    # The sentence whose mark came back (and maybe a word of the next), not the whole line.
    assert messages[2].text.startswith("Got it, thank you.")
    assert "anything else I can help" not in messages[2].text


async def test_it_clears_our_audio_on_barge_in_and_keeps_only_what_was_heard(settings):
    greeting = "Hello there. This is Alex calling about your order. Do you have a minute to talk?"
    call = await sync_to_async(_create)(mode="interactive", greeting=greeting)
    twilio = FakeTwilio(realtime=True)
    await twilio.open(signed_start(call.sid))
    try:
        await twilio.wait_for(lambda: len(twilio.returned) >= 1, timeout=15)  # "Hello there." heard
        await twilio.say(utterance("Sorry, who is this?"), realtime=True)
        await twilio.wait_for(lambda: twilio.clears >= 1)
        await wait_messages(call, 2)
    finally:
        await twilio.disconnect()
    messages = await wait_messages(call, 3)
    greeted, caller = messages[0], messages[1]
    assert greeted.role == "assistant" and greeted.interrupted
    assert greeted.text.startswith("Hello there.")
    assert "minute to talk" not in greeted.text
    assert caller.role == "user" and "who" in caller.text.lower()
    assert [m.role for m in messages[:3]] == ["assistant", "user", "assistant"]


async def test_it_answers_within_a_moment_of_the_stream_starting(settings):
    call = await sync_to_async(_create)(mode="scripted", message="This is a reminder.")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        await twilio.wait_for(lambda: twilio.first_media_at is not None, timeout=5)
    finally:
        await twilio.disconnect()
    first_audio_s = twilio.first_media_at - twilio.started_at
    print(f"first audio {first_audio_s * 1000:.0f} ms after start")
    assert first_audio_s < 0.8


async def test_it_does_not_take_a_short_click_for_a_turn(fast_playback, settings):
    settings.SILENCE_TIMEOUT_SECONDS = 30
    call = await sync_to_async(_create)(mode="interactive", greeting="Hello there.")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        await wait_messages(call, 1)
        click = speech("Yes.")[:480]  # 60 ms of voice
        await twilio.say(click + b"\xff" * 8000)
        await asyncio.sleep(0.5)
        await twilio.say(utterance("Goodbye."))
        await twilio.wait_closed()
    finally:
        await twilio.disconnect()
    messages = await wait_messages(call, 3)
    assert [m.role for m in messages] == ["assistant", "user", "assistant"]
    assert "bye" in messages[1].text.lower()


async def test_it_says_a_holding_line_instead_of_dead_air_on_a_slow_turn(fast_playback, settings, caplog):
    settings.TURN_BUDGET_SECONDS = 0.01  # less than any transcription takes, so the budget runs out
    call = await sync_to_async(_create)(mode="interactive", greeting="Hello there.")
    twilio = FakeTwilio()
    await twilio.open(signed_start(call.sid))
    try:
        await wait_messages(call, 1)
        marks_before = len(twilio.marks)
        await twilio.say(utterance("I need milk and bread."))
        messages = await wait_messages(call, 3)
        await twilio.wait_for(lambda: len(twilio.returned) >= marks_before + 3)
    finally:
        await twilio.disconnect()
    exceeded = [r for r in caplog.records if getattr(r, "event", "") == "turn_budget_exceeded"]
    assert len(exceeded) == 1 and exceeded[0].call_sid == call.sid
    # "One moment." then the two sentences of the answer; the holding line is not a turn.
    assert len(twilio.marks) - marks_before == 3
    assert messages[2].text == "Got it, thank you. Is there anything else I can help you with?"


async def test_it_handles_media_frames_without_a_database_thread_hop(fast_playback, monkeypatch):
    # Channels would run close_old_connections() in the sync thread before every frame; at 50
    # frames a second per call that was most of the server's CPU. Only other events pay for it.
    from telephony import consumer

    hops: list[int] = []

    async def counted() -> None:
        hops.append(1)

    monkeypatch.setattr(consumer, "aclose_old_connections", counted)
    call = await sync_to_async(_create)(mode="scripted", message="Your parcel has arrived.")
    twilio = FakeTwilio(echo_marks=False)  # no marks back: only media frames arrive meanwhile
    await twilio.open(signed_start(call.sid))
    try:
        await asyncio.sleep(0.2)
        before = len(hops)
        await twilio.silence(400)  # 20 media frames
        await asyncio.sleep(0.1)
        assert len(hops) == before > 0  # `connected` and `start` had theirs
        await twilio.stop()
        await asyncio.sleep(0.1)
        assert len(hops) == before + 1
    finally:
        await twilio.disconnect()
