from __future__ import annotations

import asyncio
import base64
import time

from telephony.audio import FRAME_BYTES
from telephony.playback import Player
from telephony.speaking import Speaking


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.times: list[float] = []

    async def __call__(self, message: dict) -> None:
        self.messages.append(message)
        self.times.append(time.monotonic())

    def events(self) -> list[str]:
        return [m["event"] for m in self.messages]


async def test_it_sends_frames_paced_a_little_ahead_of_real_time():
    sent = Sent()
    player = Player(send=sent, stream_sid="MZ1", lead_ms=100)
    player.start()
    began = time.monotonic()
    segment = player.say("Hello.", b"\x01" * (FRAME_BYTES * 25 + 10))  # 0.5 s and a bit
    await asyncio.sleep(0.05)
    assert 5 <= sent.events().count("media") <= 9  # ~100 ms of lead, not the whole line
    while "mark" not in sent.events():
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - began
    assert 0.35 <= elapsed <= 0.8
    media = [m for m in sent.messages if m["event"] == "media"]
    assert len(media) == 26 and all(
        len(base64.b64decode(m["media"]["payload"])) == FRAME_BYTES for m in media
    )
    assert sent.messages[-1] == {"event": "mark", "streamSid": "MZ1", "mark": {"name": segment.name}}
    player.on_mark(segment.name)
    assert await player.wait(segment) and not player.busy
    await player.stop()


async def test_it_cuts_what_was_not_heard_on_clear_and_ignores_marks_returned_after_it():
    sent = Sent()
    player = Player(send=sent, stream_sid="MZ1", lead_ms=60)
    player.start()
    reply = Speaking(reply=None)
    first = player.say("Hello there.", b"\x01" * FRAME_BYTES * 5)
    second = player.say("This is a much longer second sentence of the line.", b"\x01" * FRAME_BYTES * 50)
    reply.segments = [first, second]
    while len(sent.messages) < 7:
        await asyncio.sleep(0.01)
    player.on_mark(first.name)
    await asyncio.sleep(0.4)  # about 40% of the second sentence played
    await player.clear()
    player.on_mark(second.name)  # Twilio returns pending marks on clear: not heard
    assert sent.events()[-1] == "clear"
    assert not second.heard and not await player.wait(second)
    heard = reply.heard_text()
    assert heard.startswith("Hello there. This is")
    assert "second sentence of the line" not in heard
    media_before = sent.events().count("media")
    await asyncio.sleep(0.1)
    assert sent.events().count("media") == media_before  # nothing more after the clear
    await player.stop()


async def test_it_does_not_hang_the_call_on_a_lost_mark():
    sent = Sent()
    player = Player(send=sent, stream_sid="MZ1", lead_ms=600_000)
    player.start()
    segment = player.say("Hi.", b"\x01" * FRAME_BYTES)
    assert await asyncio.wait_for(player.wait(segment, grace=0.1), 2)
    await player.stop()


async def test_it_waits_for_a_long_sentence_whose_wait_began_before_its_first_frame():
    sent = Sent()
    player = Player(send=sent, stream_sid="MZ1", lead_ms=600_000)  # all audio and the mark at once
    player.start()
    segment = player.begin("A long sentence.")  # waited on before any of its audio exists
    waiting = asyncio.ensure_future(player.wait(segment, grace=0.1))
    await asyncio.sleep(0.05)
    player.audio(segment, b"\x01" * FRAME_BYTES * 40)  # 0.8 s of audio
    player.end(segment)
    await asyncio.sleep(0.4)  # past the grace counted from the wait's start, but still playing
    assert "mark" in sent.events()
    assert not waiting.done(), "gave up on a mark while its audio was still playing"
    player.on_mark(segment.name)
    assert await asyncio.wait_for(waiting, 2)
    await player.stop()
