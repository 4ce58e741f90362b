from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from telephony.audio import silence
from telephony.providers import deepgram_stt
from telephony.providers.base import ProviderUnavailable, Transcript
from telephony.providers.deepgram_stt import DeepgramSTT

KEY = "dg-secret-key"


def _stt(url: str, **kwargs: object) -> DeepgramSTT:
    return DeepgramSTT(api_key=KEY, timeout=2.0, base_url=url, **kwargs)  # type: ignore[arg-type]


async def _speak(session, ms: int = 400) -> None:
    for _ in range(ms // 20):
        await session.feed(silence(20))


async def test_it_opens_the_live_socket_with_twilio_audio_settings_and_token_auth(fake_deepgram):
    session = await _stt(fake_deepgram.url).open()
    await session.close()

    request = fake_deepgram.requests[0]
    assert request["path"] == "/v1/listen"
    assert request["authorization"] == f"Token {KEY}"
    query = request["query"]
    assert query["encoding"] == "mulaw"
    assert query["sample_rate"] == "8000"
    assert query["model"] == "nova-3"
    assert query["interim_results"] == "true"
    assert query["endpointing"] == "300"
    assert query["utterance_end_ms"] == "1000"


async def test_it_streams_audio_and_returns_the_finalized_transcript_with_partials(fake_deepgram):
    fake_deepgram.transcripts = ["I'd like a quote please."]
    partials: list[Transcript] = []

    async def on_partial(transcript: Transcript) -> None:
        partials.append(transcript)

    session = await _stt(fake_deepgram.url).open(on_partial=on_partial)
    await _speak(session, 400)
    transcript = await session.end_utterance()
    await session.close()

    assert transcript.text == "I'd like a quote please."
    assert transcript.is_final
    assert transcript.confidence == pytest.approx(0.93)
    assert partials and partials[0].text == "I'd" and not partials[0].is_final
    assert len(fake_deepgram.audio[0]) == 400 * 8
    assert {"type": "Finalize"} in fake_deepgram.control


async def test_it_keeps_successive_utterances_apart(fake_deepgram):
    fake_deepgram.transcripts = ["Hello.", "Tell me more."]
    session = await _stt(fake_deepgram.url).open()
    await _speak(session, 200)
    first = await session.end_utterance()
    await _speak(session, 200)
    second = await session.end_utterance()
    await session.close()

    assert (first.text, second.text) == ("Hello.", "Tell me more.")


async def test_it_drops_the_text_of_discarded_audio(fake_deepgram):
    fake_deepgram.transcripts = ["cough", "Yes, go ahead."]
    session = await _stt(fake_deepgram.url).open()
    await _speak(session, 200)
    await session.discard()
    await asyncio.sleep(0.05)  # the discarded audio's final arrives late
    await _speak(session, 200)
    transcript = await session.end_utterance()
    await session.close()

    assert transcript.text == "Yes, go ahead."


async def test_it_returns_what_was_heard_when_finalize_gets_no_answer(fake_deepgram, monkeypatch):
    monkeypatch.setattr(deepgram_stt, "FINALIZE_WAIT_SECONDS", 0.2)
    fake_deepgram.transcripts = ["maybe later"]
    fake_deepgram.answer_finalize = False
    session = await _stt(fake_deepgram.url).open()
    await _speak(session, 200)
    await asyncio.sleep(0.05)

    transcript = await asyncio.wait_for(session.end_utterance(), 1.0)
    await session.close()

    assert transcript.text == "maybe"  # the interim words, rather than nothing


async def test_it_returns_empty_text_without_asking_when_nothing_was_fed(fake_deepgram):
    session = await _stt(fake_deepgram.url).open()
    transcript = await session.end_utterance()
    await session.close()

    assert transcript.text == ""
    assert {"type": "Finalize"} not in fake_deepgram.control


async def test_it_reconnects_once_and_replays_the_utterance_after_a_dropped_socket(fake_deepgram):
    fake_deepgram.transcripts = ["Send me the details."]
    fake_deepgram.drop_connections = 1
    session = await _stt(fake_deepgram.url).open()
    await session.feed(silence(20))
    await asyncio.sleep(0.1)  # the server hangs up; the session reopens
    await _speak(session, 100)
    transcript = await session.end_utterance()
    await session.close()

    assert len(fake_deepgram.requests) == 2
    assert transcript.text == "Send me the details."
    assert len(fake_deepgram.audio[1]) == 120 * 8  # the first frame replayed, then the rest


async def test_it_gives_up_with_a_typed_error_when_the_socket_drops_twice(fake_deepgram):
    fake_deepgram.drop_connections = 2
    session = await _stt(fake_deepgram.url).open()
    with pytest.raises(ProviderUnavailable) as error:
        for _ in range(20):
            await session.feed(silence(20))
            await asyncio.sleep(0.02)
        await session.end_utterance()
    await session.close()

    assert error.value.role == "stt" and error.value.provider == "deepgram"
    assert KEY not in str(error.value)


async def test_it_fails_typed_when_the_server_is_unreachable():
    with pytest.raises(ProviderUnavailable):
        await _stt("http://127.0.0.1:9").open()


async def test_it_sends_keepalive_while_the_caller_is_silent(fake_deepgram, monkeypatch):
    monkeypatch.setattr(deepgram_stt, "KEEPALIVE_SECONDS", 0.1)
    session = await _stt(fake_deepgram.url).open()
    await asyncio.sleep(0.35)
    await session.close()

    assert {"type": "KeepAlive"} in fake_deepgram.control


@respx.mock
async def test_it_checks_the_key_by_listing_projects():
    route = respx.get("https://api.deepgram.com/v1/projects").mock(
        return_value=httpx.Response(200, json={"projects": [{"project_id": "p1", "name": "Sales"}]})
    )

    detail = await DeepgramSTT(api_key=KEY, timeout=2.0).check()

    assert detail == "1 project(s)"
    assert route.calls.last.request.headers["Authorization"] == f"Token {KEY}"


@respx.mock
async def test_it_reports_a_rejected_key_without_echoing_it():
    respx.get("https://api.deepgram.com/v1/projects").mock(
        return_value=httpx.Response(401, json={"err_msg": "Invalid credentials."})
    )

    with pytest.raises(ProviderUnavailable) as error:
        await DeepgramSTT(api_key=KEY, timeout=2.0).check()

    assert "401" in str(error.value)
    assert KEY not in str(error.value)


async def test_it_sends_each_frame_once_when_frames_keep_coming_during_the_reconnect(fake_deepgram):
    fake_deepgram.transcripts = ["No duplicates."]
    fake_deepgram.drop_connections = 1
    session = await _stt(fake_deepgram.url).open()
    for _ in range(20):  # no pause: the drop is noticed while frames are still being fed
        await session.feed(silence(20))
        await asyncio.sleep(0.005)
    transcript = await session.end_utterance()
    await session.close()

    assert transcript.text == "No duplicates."
    assert len(fake_deepgram.requests) == 2
    assert len(fake_deepgram.audio[1]) == 20 * 160


async def test_it_keeps_listening_when_the_partial_handler_fails(fake_deepgram):
    fake_deepgram.transcripts = ["Still here."]

    async def broken(transcript: Transcript) -> None:
        raise RuntimeError("pipeline bug")

    session = await _stt(fake_deepgram.url).open(on_partial=broken)
    await _speak(session, 200)
    transcript = await session.end_utterance()
    await session.close()

    assert transcript.text == "Still here."
    assert len(fake_deepgram.requests) == 1  # no reconnect was needed
