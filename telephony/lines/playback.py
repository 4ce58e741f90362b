"""Twilio's side of the media stream, frame by frame: the agent's audio queued for playing
with its marks, and the callee's voice.

Twilio plays the audio we send in order, 20 ms at a time, and echoes each `mark` once the
audio queued before it has played; `clear` drops what has not played yet and echoes the
pending marks at once. `AgentPlayback` does exactly that, so the consumer meets the same
timing it meets on a real call.
"""

from __future__ import annotations

from collections import deque

from telephony.audio import FRAME_BYTES, MULAW_SILENCE

SILENT_FRAME = bytes([MULAW_SILENCE]) * FRAME_BYTES


class AgentPlayback:
    def __init__(self) -> None:
        self._queue: deque[bytes | str] = deque()  # audio chunks, and mark names (str)
        self._queued_bytes = 0

    @property
    def queued_ms(self) -> int:
        return self._queued_bytes // 8

    def add_audio(self, mulaw: bytes) -> None:
        if mulaw:
            self._queue.append(mulaw)
            self._queued_bytes += len(mulaw)

    def add_mark(self, name: str) -> None:
        self._queue.append(name)

    def play_frame(self) -> tuple[bytes | None, list[str]]:
        """The next 20 ms of agent audio (None when nothing is queued) and the marks now due.

        Marks queued before any audio are due at once; a mark after audio is due in the frame
        that plays the last of that audio.
        """
        due = self._due_marks()
        if self._queued_bytes == 0:
            return None, due
        frame = bytearray()
        while len(frame) < FRAME_BYTES and self._queue:
            head = self._queue[0]
            if isinstance(head, str):
                due.append(head)
                self._queue.popleft()
                continue
            take = head[: FRAME_BYTES - len(frame)]
            frame += take
            self._queued_bytes -= len(take)
            if len(take) == len(head):
                self._queue.popleft()
            else:
                self._queue[0] = head[len(take) :]
        due += self._due_marks()
        if len(frame) < FRAME_BYTES:
            frame += SILENT_FRAME[: FRAME_BYTES - len(frame)]
        return bytes(frame), due

    def clear(self) -> tuple[list[str], int]:
        """Drop queued audio; returns the pending marks (to echo now) and the ms dropped."""
        marks = [item for item in self._queue if isinstance(item, str)]
        dropped = self.queued_ms
        self._queue.clear()
        self._queued_bytes = 0
        return marks, dropped

    def _due_marks(self) -> list[str]:
        due: list[str] = []
        while self._queue and isinstance(self._queue[0], str):
            due.append(self._queue.popleft())  # type: ignore[arg-type]
        return due


class CallerVoice:
    """The callee's outgoing audio: the line being spoken, else silence (Twilio sends both)."""

    def __init__(self) -> None:
        self._audio = b""
        self._at = 0

    @property
    def speaking(self) -> bool:
        return self._at < len(self._audio)

    def say(self, mulaw: bytes) -> None:
        self._audio, self._at = mulaw, 0

    def next_frame(self) -> bytes:
        if not self.speaking:
            return SILENT_FRAME
        frame = self._audio[self._at : self._at + FRAME_BYTES]
        self._at += FRAME_BYTES
        return frame + SILENT_FRAME[: FRAME_BYTES - len(frame)]
