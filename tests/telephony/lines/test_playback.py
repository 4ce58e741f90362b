"""Twilio's playback on the simulated line: marks come back when their audio has played."""

from __future__ import annotations

from telephony.audio import FRAME_BYTES
from telephony.lines.playback import SILENT_FRAME, AgentPlayback, CallerVoice


def _frames(n: int) -> bytes:
    return bytes([0x10]) * (FRAME_BYTES * n)


def test_it_echoes_a_mark_in_the_frame_that_plays_the_last_audio_before_it():
    playback = AgentPlayback()
    playback.add_audio(_frames(2))
    playback.add_mark("s1")
    first, due = playback.play_frame()
    assert first == _frames(1) and due == []
    second, due = playback.play_frame()
    assert second == _frames(1) and due == ["s1"]
    assert playback.play_frame() == (None, [])


def test_it_plays_across_chunk_boundaries_and_pads_the_last_frame():
    playback = AgentPlayback()
    playback.add_audio(_frames(1)[:100])
    playback.add_audio(_frames(1)[:100])
    frame, _ = playback.play_frame()
    assert frame == _frames(1)
    frame, _ = playback.play_frame()
    assert frame == _frames(1)[:40] + SILENT_FRAME[:120]


def test_it_echoes_a_mark_with_nothing_before_it_at_once():
    playback = AgentPlayback()
    playback.add_mark("s1")
    assert playback.play_frame() == (None, ["s1"])


def test_it_drops_queued_audio_and_returns_pending_marks_on_clear():
    playback = AgentPlayback()
    playback.add_audio(_frames(3))
    playback.add_mark("s1")
    playback.add_audio(_frames(2))
    playback.add_mark("s2")
    playback.play_frame()
    marks, dropped_ms = playback.clear()
    assert marks == ["s1", "s2"]
    assert dropped_ms == 80
    assert playback.play_frame() == (None, [])


def test_it_sends_the_callees_line_then_silence():
    voice = CallerVoice()
    assert voice.next_frame() == SILENT_FRAME
    voice.say(_frames(1) + b"\x10" * 10)
    assert voice.speaking
    assert voice.next_frame() == _frames(1)
    assert voice.next_frame() == b"\x10" * 10 + SILENT_FRAME[10:]
    assert not voice.speaking
    assert voice.next_frame() == SILENT_FRAME
