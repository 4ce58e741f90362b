from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import pytest
from websockets.asyncio.server import ServerConnection, serve

from telephony.providers.local_stt import load_whisper_model
from telephony.providers.local_tts import load_piper_voice

SAMPLE_RATE = 8000


@pytest.fixture(scope="session")
def speech_models() -> None:
    """Load Whisper and Piper once for the whole test session (the shared loaders cache them)."""
    load_whisper_model()
    load_piper_voice()


@dataclass
class FakeDeepgram:
    """A local stand-in for Deepgram's live `/v1/listen` socket.

    Each `Finalize` answers with the next scripted transcript as a final result covering
    all audio received so far (`from_finalize: true`); audio first triggers one interim.
    """

    transcripts: list[str] = field(default_factory=list)
    drop_connections: int = 0  # close this many connections right after their first audio
    answer_finalize: bool = True
    url: str = ""
    requests: list[dict[str, object]] = field(default_factory=list)
    audio: list[bytearray] = field(default_factory=list)
    control: list[dict[str, object]] = field(default_factory=list)

    async def handler(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        parsed = urlparse(request.path)
        self.requests.append(
            {
                "path": parsed.path,
                "query": {k: v[0] for k, v in parse_qs(parsed.query).items()},
                "authorization": request.headers.get("Authorization"),
            }
        )
        audio = bytearray()
        self.audio.append(audio)
        final_until = 0.0
        interim_sent = False
        async for message in ws:
            if isinstance(message, bytes):
                audio += message
                if self.drop_connections > 0:
                    self.drop_connections -= 1
                    await ws.close()
                    return
                if not interim_sent and self.transcripts:
                    interim_sent = True
                    words = self.transcripts[0].split()
                    end = len(audio) / SAMPLE_RATE
                    await ws.send(_results(words[0], final_until, end - final_until, is_final=False))
                continue
            payload = json.loads(message)
            self.control.append(payload)
            if payload["type"] == "Finalize" and self.answer_finalize:
                end = len(audio) / SAMPLE_RATE
                text = self.transcripts.pop(0) if self.transcripts else ""
                await ws.send(
                    _results(text, final_until, end - final_until, is_final=True, from_finalize=True)
                )
                final_until = end
                interim_sent = False
            elif payload["type"] == "CloseStream":
                await ws.close()
                return


def _results(text: str, start: float, duration: float, *, is_final: bool, from_finalize: bool = False) -> str:
    return json.dumps(
        {
            "type": "Results",
            "channel_index": [0, 1],
            "start": start,
            "duration": duration,
            "is_final": is_final,
            "speech_final": is_final,
            "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.93, "words": []}]},
            "metadata": {"request_id": "req-1", "model_info": {"name": "nova-3"}, "model_uuid": "m-1"},
        }
    )


@pytest.fixture
async def fake_deepgram() -> AsyncIterator[FakeDeepgram]:
    fake = FakeDeepgram()
    async with serve(fake.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        fake.url = f"http://127.0.0.1:{port}"
        yield fake
        await asyncio.sleep(0)
