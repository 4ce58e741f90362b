"""Twilio's side of a Media Stream, played against the real ASGI app in tests.

`FakeTwilio` connects to `/twilio/stream` with channels' WebsocketCommunicator, sends
`connected` / `start` / `media` / `mark` / `dtmf` / `stop` as Twilio does, and reads what
the app sends back: it counts our audio, plays it out on a simulated clock (so a `mark` comes
back when Twilio would have played it, or at once with `realtime=False`), honours `clear`
(pending marks come back at once, as Twilio returns them) and records the close code.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
from typing import Any

from channels.testing import WebsocketCommunicator

from telephony.audio import FRAME_BYTES, MULAW_SILENCE, split_frames


def signed_start(call_sid: str) -> dict[str, str]:
    from telephony.tokens import stream_token_make

    return {"call_sid": call_sid, "token": stream_token_make(call_sid=call_sid)}


class FakeTwilio:
    def __init__(self, *, realtime: bool = False, echo_marks: bool = True) -> None:
        from voiceagent.asgi import application

        self.comm = WebsocketCommunicator(application, "/twilio/stream")
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.provider_call_sid = "CA" + secrets.token_hex(16)
        self.realtime = realtime  # marks return when their audio would have finished playing
        self.echo_marks = echo_marks
        self.media_frames = 0  # frames of our audio received
        self.played_frames = 0  # frames not cut by a clear
        self.marks: list[str] = []  # marks the app sent, in order
        self.returned: list[str] = []  # marks we sent back
        self.clears = 0
        self.close_code: int | None = None
        self.first_media_at: float | None = None
        self.started_at: float | None = None
        self.closed = asyncio.Event()
        self._playout_until = 0.0
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def open(self, params: dict[str, str]) -> None:
        connected, _ = await self.comm.connect(timeout=5)
        assert connected
        self._reader = asyncio.create_task(self._read())
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self.started_at = time.monotonic()
        await self.send(
            {
                "event": "start",
                "sequenceNumber": "1",
                "streamSid": self.stream_sid,
                "start": {
                    "streamSid": self.stream_sid,
                    "callSid": self.provider_call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": params,
                },
            }
        )

    async def send(self, message: dict[str, Any]) -> None:
        await self.comm.send_to(text_data=json.dumps(message))

    async def say(self, mulaw: bytes, *, realtime: bool = False) -> None:
        """The caller's audio, 20 ms media frames (fast unless `realtime`)."""
        for frame in split_frames(mulaw):
            await self.send(
                {
                    "event": "media",
                    "streamSid": self.stream_sid,
                    "media": {"track": "inbound", "payload": base64.b64encode(frame).decode()},
                }
            )
            await asyncio.sleep(0.02 if realtime else 0)

    async def silence(self, ms: int, *, realtime: bool = False) -> None:
        await self.say(bytes([MULAW_SILENCE]) * (FRAME_BYTES * (ms // 20)), realtime=realtime)

    async def stop(self) -> None:
        await self.send({"event": "stop", "streamSid": self.stream_sid, "stop": {}})

    async def wait_for(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s: {self.summary()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.1))

    async def wait_closed(self, timeout: float = 15.0) -> int | None:
        await self.wait_for(self.closed.is_set, timeout)
        return self.close_code

    async def disconnect(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        await self.comm.disconnect(timeout=10)
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    def summary(self) -> str:
        return (
            f"media={self.media_frames} marks={self.marks} returned={self.returned} "
            f"clears={self.clears} close={self.close_code}"
        )

    # --- reading the app's side -----------------------------------------------------------

    async def _read(self) -> None:
        while True:
            out = await self.comm.output_queue.get()
            if out["type"] == "websocket.close":
                self.close_code = out.get("code", 1000)
                self.closed.set()
                self._changed.set()
                return
            if out["type"] == "websocket.send":
                self._on_message(json.loads(out["text"]))
                self._changed.set()

    def _on_message(self, message: dict[str, Any]) -> None:
        event = message["event"]
        assert message["streamSid"] == self.stream_sid
        now = time.monotonic()
        if event == "media":
            assert len(base64.b64decode(message["media"]["payload"])) == FRAME_BYTES
            self.media_frames += 1
            self.played_frames += 1
            if self.first_media_at is None:
                self.first_media_at = now
            self._playout_until = max(self._playout_until, now) + 0.02
        elif event == "mark":
            name = message["mark"]["name"]
            self.marks.append(name)
            if self.echo_marks:
                delay = max(0.0, self._playout_until - now) if self.realtime else 0.0
                loop = asyncio.get_running_loop()
                self._pending[name] = loop.call_later(delay, self._return_mark, name)
        elif event == "clear":
            self.clears += 1
            self._playout_until = now
            # Twilio sends back the marks still in its buffer when it is cleared.
            for name, handle in list(self._pending.items()):
                handle.cancel()
                self._return_mark(name)

    def _return_mark(self, name: str) -> None:
        self._pending.pop(name, None)
        self.returned.append(name)
        asyncio.ensure_future(
            self.send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})
        )


async def wait_messages(call, count: int, timeout: float = 15.0) -> list:
    """Poll until the call has at least `count` messages; returns them in order."""
    from asgiref.sync import sync_to_async

    from calls.models import Message

    def read() -> list:
        return list(Message.objects.filter(call_id=call.pk).order_by("seq"))

    deadline = time.monotonic() + timeout
    while True:
        messages = await sync_to_async(read)()
        if len(messages) >= count:
            return messages
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(messages)} messages after {timeout}s, wanted {count}: {messages}")
        await asyncio.sleep(0.05)
