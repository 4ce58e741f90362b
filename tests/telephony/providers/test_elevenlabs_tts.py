from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from telephony.providers.base import ProviderError, ProviderTimeout, ProviderUnavailable
from telephony.providers.elevenlabs_tts import ElevenLabsTTS

KEY = "el-secret-key"
VOICE = "voice-123"
STREAM_URL = f"https://api.elevenlabs.io/v1/text-to-speech/{VOICE}/stream"


def _tts(timeout: float = 2.0) -> ElevenLabsTTS:
    return ElevenLabsTTS(api_key=KEY, voice_id=VOICE, timeout=timeout)


class _Pieces(httpx.AsyncByteStream):
    def __init__(self, *pieces: bytes) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece
            await asyncio.sleep(0.01)


class _SlowStream(httpx.AsyncByteStream):
    def __init__(self, first: bytes, delay: float) -> None:
        self.first = first
        self.delay = delay

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        await asyncio.sleep(self.delay)
        yield b"\x7f" * 10


async def _collect(tts: ElevenLabsTTS, text: str) -> list[bytes]:
    return [chunk async for chunk in tts.synthesize(text)]


@respx.mock
async def test_it_requests_ulaw_8000_with_the_voice_model_and_key():
    pieces = (b"\xff" * 160, b"\x7f" * 320, b"\xfe" * 800)
    route = respx.post(STREAM_URL).mock(return_value=httpx.Response(200, stream=_Pieces(*pieces)))

    chunks = await _collect(_tts(), "Hello from the sales team.")

    request = route.calls.last.request
    assert request.url.params["output_format"] == "ulaw_8000"
    assert request.headers["xi-api-key"] == KEY
    body = json.loads(request.content)
    assert body["text"] == "Hello from the sales team."
    assert body["model_id"] == "eleven_flash_v2_5"
    assert chunks == list(pieces)  # passed on as they arrive, not buffered into one blob


@respx.mock
async def test_it_raises_a_typed_error_without_the_key_on_an_http_error():
    respx.post(STREAM_URL).mock(return_value=httpx.Response(401, json={"detail": "invalid api key"}))

    with pytest.raises(ProviderError) as error:
        await _collect(_tts(), "Hello.")

    assert error.value.role == "tts" and error.value.provider == "elevenlabs"
    assert "401" in str(error.value)
    assert KEY not in str(error.value)


@respx.mock
async def test_it_times_out_when_the_stream_stalls_mid_line():
    respx.post(STREAM_URL).mock(return_value=httpx.Response(200, stream=_SlowStream(b"\xff" * 160, 1.0)))

    received: list[bytes] = []
    with pytest.raises(ProviderTimeout):
        async for chunk in _tts(timeout=0.2).synthesize("A line that stalls."):
            received.append(chunk)

    assert received == [b"\xff" * 160]


@respx.mock
async def test_it_maps_a_connection_failure_to_a_provider_error():
    respx.post(STREAM_URL).mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(ProviderError):
        await _collect(_tts(), "Hello.")


@respx.mock
async def test_it_checks_the_key_by_fetching_the_voice():
    route = respx.get(f"https://api.elevenlabs.io/v1/voices/{VOICE}").mock(
        return_value=httpx.Response(200, json={"voice_id": VOICE, "name": "Rachel"})
    )

    detail = await _tts().check()

    assert detail == "voice Rachel"
    assert route.calls.last.request.headers["xi-api-key"] == KEY


@respx.mock
async def test_it_reports_a_missing_voice_as_unavailable():
    respx.get(f"https://api.elevenlabs.io/v1/voices/{VOICE}").mock(
        return_value=httpx.Response(404, json={"detail": "voice not found"})
    )

    with pytest.raises(ProviderUnavailable, match="404"):
        await _tts().check()
