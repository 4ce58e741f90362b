from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
import respx

from telephony.audio import split_frames
from telephony.providers.deepgram_stt import DeepgramSTT
from telephony.providers.elevenlabs_tts import ElevenLabsTTS
from telephony.providers.fallback import FallbackSTT, FallbackTTS
from telephony.providers.local_stt import WhisperSTT
from telephony.providers.local_tts import PiperTTS

pytestmark = pytest.mark.slow

STREAM_URL = "https://api.elevenlabs.io/v1/text-to-speech/voice-1/stream"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _fallback_lines(caplog) -> list[dict[str, object]]:
    return [r.__dict__ for r in caplog.records if getattr(r, "event", None) == "provider_fallback"]


def _elevenlabs(timeout: float = 1.0) -> ElevenLabsTTS:
    return ElevenLabsTTS(api_key="el-key", voice_id="voice-1", timeout=timeout)


async def _speak(text: str) -> bytes:
    return b"".join([chunk async for chunk in PiperTTS(timeout=10.0).synthesize(text)])


@respx.mock
async def test_it_speaks_the_line_with_piper_when_elevenlabs_fails(speech_models, caplog):
    route = respx.post(STREAM_URL).mock(return_value=httpx.Response(500, json={"detail": "overloaded"}))
    roles: list[str] = []

    async def on_fallback(role: str) -> None:
        roles.append(role)

    tts = FallbackTTS(_elevenlabs(), PiperTTS(timeout=5.0), on_fallback=on_fallback)
    with caplog.at_level(logging.WARNING, logger="voiceagent"):
        first = b"".join([c async for c in tts.synthesize("Thanks for your time.")])
        second = b"".join([c async for c in tts.synthesize("Goodbye.")])

    assert len(first) > 8000 * 0.5 and len(second) > 0  # Piper spoke both lines
    assert roles == ["tts"]  # counted once per call
    assert route.call_count == 1  # later lines go straight to the backup
    [line] = _fallback_lines(caplog)
    assert (line["role"], line["provider"], line["backup"]) == ("tts", "elevenlabs", "piper")
    assert tts.fell_back


@respx.mock
async def test_it_restarts_the_line_with_piper_when_elevenlabs_stalls_mid_stream(speech_models):
    class Stall(httpx.AsyncByteStream):
        async def __aiter__(self):
            import asyncio

            yield b"\x01" * 160
            await asyncio.sleep(2)

    respx.post(STREAM_URL).mock(return_value=httpx.Response(200, stream=Stall()))
    calls: list[str] = []
    tts = FallbackTTS(_elevenlabs(timeout=0.2), PiperTTS(timeout=5.0), on_fallback=calls.append)

    chunks = [c async for c in tts.synthesize("Let me check that for you.")]

    assert chunks[0] == b"\x01" * 160
    assert sum(len(c) for c in chunks[1:]) > 8000 * 0.5
    assert calls == ["tts"]  # a plain (non-async) hook works too


@respx.mock
async def test_it_keeps_elevenlabs_while_it_works(speech_models):
    respx.post(STREAM_URL).mock(return_value=httpx.Response(200, content=b"\x7f" * 800))
    calls: list[str] = []
    tts = FallbackTTS(_elevenlabs(), PiperTTS(timeout=5.0), on_fallback=calls.append)

    audio = b"".join([c async for c in tts.synthesize("Hello.")])

    assert audio == b"\x7f" * 800
    assert calls == [] and not tts.fell_back


async def test_it_transcribes_locally_when_deepgram_is_unreachable(speech_models, caplog):
    calls: list[str] = []
    stt = FallbackSTT(
        DeepgramSTT(api_key="dg-key", timeout=1.0, base_url="http://127.0.0.1:9"),
        WhisperSTT(timeout=10.0),
        on_fallback=calls.append,
    )
    audio = await _speak("I would like to book a demo.")

    with caplog.at_level(logging.WARNING, logger="voiceagent"):
        session = await stt.open()
        for frame in split_frames(audio):
            await session.feed(frame)
        transcript = await session.end_utterance()
        await session.close()

    assert _words(transcript.text) == ["i", "would", "like", "to", "book", "a", "demo"]
    assert calls == ["stt"]
    [line] = _fallback_lines(caplog)
    assert (line["role"], line["provider"]) == ("stt", "deepgram")
    assert "dg-key" not in json.dumps(line, default=str)


async def test_it_hands_the_whole_utterance_to_whisper_when_deepgram_drops_mid_turn(
    speech_models, fake_deepgram
):
    fake_deepgram.drop_connections = 2  # the first drop is retried, the second is fatal
    calls: list[str] = []
    stt = FallbackSTT(
        DeepgramSTT(api_key="dg-key", timeout=1.0, base_url=fake_deepgram.url),
        WhisperSTT(timeout=10.0),
        on_fallback=calls.append,
    )
    audio = await _speak("Call me back tomorrow morning.")

    session = await stt.open()
    for frame in split_frames(audio):
        await session.feed(frame)
    transcript = await session.end_utterance()
    await session.close()

    assert _words(transcript.text) == ["call", "me", "back", "tomorrow", "morning"]
    assert calls == ["stt"]
    assert len(fake_deepgram.requests) == 2
