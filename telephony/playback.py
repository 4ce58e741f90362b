"""Our side of the stream: audio out as 20 ms frames, paced a little ahead of real time.

Twilio buffers what we send and plays it in order, so sending everything at once would
leave nothing for a `clear` to cut. The player keeps at most LEAD_MS queued at Twilio.

Each piece of text we say is a `Segment` followed by a `mark`; Twilio returns the mark when
playback reaches it, so a returned mark means the caller heard that segment. Marks that come
back after a `clear` (Twilio returns pending ones) mean nothing was heard.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telephony.audio import FRAME_BYTES, FRAME_MS, MULAW_SILENCE
from telephony.protocol import clear_message, mark_message, media_message
from voiceagent.logging import get_logger

log = get_logger("telephony.playback")

LEAD_MS = 240  # how far ahead of the caller's ear we send; tests raise it to send at once
FRAME_S = FRAME_MS / 1000

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(eq=False)
class Segment:
    name: str
    text: str
    frames: int = 0
    start_at: float | None = None  # when the caller should start hearing it (our estimate)
    end_at: float | None = None
    cleared_at: float | None = None
    marked: bool = False  # its mark was sent: no more audio will follow
    heard: bool = False  # its mark came back before any clear
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def heard_fraction(self, now: float | None = None) -> float:
        """1.0 when the mark came back, else how much of its audio should have played."""
        if self.heard:
            return 1.0
        if self.start_at is None or self.end_at is None or self.end_at <= self.start_at:
            return 0.0
        at = min(now if now is not None else time.monotonic(), self.cleared_at or float("inf"))
        played = (at - self.start_at) / (self.end_at - self.start_at)
        return max(0.0, min(1.0, played)) if self.marked else max(0.0, min(0.99, played))


class Player:
    _ids = itertools.count(1)

    def __init__(self, *, send: Send, stream_sid: str, lead_ms: int | None = None) -> None:
        self._send = send
        self.stream_sid = stream_sid
        self._lead_ms = lead_ms
        self._queue: asyncio.Queue[tuple[str, Segment, bytes]] = asyncio.Queue()
        self._segments: dict[str, Segment] = {}
        self._pending: list[Segment] = []
        self._remainder = b""
        self._play_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"player-{self.stream_sid}")

    async def stop(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for segment in self._pending:
            segment.done.set()

    @property
    def busy(self) -> bool:
        """Audio queued or playing whose mark has not come back (every line ends in a mark)."""
        return bool(self._pending)

    def begin(self, text: str) -> Segment:
        segment = Segment(name=f"s{next(self._ids)}", text=text)
        self._segments[segment.name] = segment
        self._pending.append(segment)
        return segment

    def audio(self, segment: Segment, mulaw: bytes) -> None:
        data = self._remainder + mulaw
        whole = len(data) - len(data) % FRAME_BYTES
        for i in range(0, whole, FRAME_BYTES):
            self._queue.put_nowait(("media", segment, data[i : i + FRAME_BYTES]))
        self._remainder = data[whole:]

    def end(self, segment: Segment) -> None:
        """No more audio for `segment`: flush the last partial frame and send its mark."""
        if self._remainder:
            pad = bytes([MULAW_SILENCE]) * (FRAME_BYTES - len(self._remainder))
            self._queue.put_nowait(("media", segment, self._remainder + pad))
            self._remainder = b""
        self._queue.put_nowait(("mark", segment, b""))

    def say(self, text: str, mulaw: bytes) -> Segment:
        segment = self.begin(text)
        self.audio(segment, mulaw)
        self.end(segment)
        return segment

    def on_mark(self, name: str) -> Segment | None:
        segment = self._segments.pop(name, None)
        if segment is None:
            return None
        if segment.cleared_at is None:
            segment.heard = True
        self._finish(segment)
        return segment

    async def wait(self, segment: Segment, *, grace: float = 3.0) -> bool:
        """Until `segment` was played: False only when a clear cut it.

        A mark that never comes back (a lossy proxy, a Twilio hiccup) is taken as played once
        its audio must have finished, so a call never hangs waiting for it.
        """
        while not segment.done.is_set():
            remaining = (segment.end_at or time.monotonic()) - time.monotonic()
            try:
                await asyncio.wait_for(segment.done.wait(), timeout=max(remaining, 0) + grace)
            except TimeoutError:
                # Waiting may have begun before the first frame went out: give up only once
                # the audio's end (known now) plus the grace has truly passed.
                overdue = segment.end_at is not None and time.monotonic() >= segment.end_at + grace
                if overdue and segment.marked and segment.cleared_at is None:
                    log.warning("mark never came back", extra={"event": "mark_lost", "mark": segment.name})
                    segment.heard = True
                    self._segments.pop(segment.name, None)
                    self._finish(segment)
        return segment.heard

    async def clear(self) -> None:
        """Drop everything not yet heard, here and in Twilio's buffer."""
        now = time.monotonic()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._remainder = b""
        for segment in list(self._pending):
            segment.cleared_at = now
            segment.marked = True
            self._segments.pop(segment.name, None)
            self._finish(segment)
        self._play_until = now
        await self._emit(clear_message(self.stream_sid))

    def _finish(self, segment: Segment) -> None:
        if segment in self._pending:
            self._pending.remove(segment)
        segment.done.set()

    async def _run(self) -> None:
        while True:
            kind, segment, frame = await self._queue.get()
            if segment.cleared_at is not None:
                continue
            if kind == "mark":
                segment.marked = True
                if segment.end_at is None:
                    segment.start_at = segment.end_at = max(self._play_until, time.monotonic())
                await self._emit(mark_message(self.stream_sid, segment.name))
                continue
            await self._pace()
            if segment.cleared_at is not None:
                continue  # cleared while we waited: this frame must not follow the clear
            now = time.monotonic()
            self._play_until = max(self._play_until, now)
            if segment.start_at is None:
                segment.start_at = self._play_until
            self._play_until += FRAME_S
            segment.frames += 1
            segment.end_at = self._play_until
            await self._emit(media_message(self.stream_sid, frame))

    async def _pace(self) -> None:
        lead = (self._lead_ms if self._lead_ms is not None else LEAD_MS) / 1000
        wait = self._play_until - time.monotonic() - lead
        if wait > 0:
            await asyncio.sleep(wait)

    async def _emit(self, message: dict[str, Any]) -> None:
        if self._closed:
            return
        try:
            await self._send(message)
        except Exception as exc:  # the socket went away under us; finalize handles the rest
            self._closed = True
            log.info(
                "stream send failed", extra={"event": "stream_send_failed", "why": exc.__class__.__name__}
            )
