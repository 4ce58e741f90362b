from __future__ import annotations

from telephony.audio import FRAME_MS, silence, split_frames
from telephony.vad import TurnDetector, VadEvent
from tests.telephony.speech import speech


def _events(detector: TurnDetector, audio: bytes) -> list[tuple[int, VadEvent, int]]:
    out = []
    for i, frame in enumerate(split_frames(audio)):
        result = detector.push(frame)
        if result is not None and result.event is not VadEvent.SPEECH:
            out.append((i, result.event, len(result.audio)))
    return out


def test_it_finds_one_turn_in_a_spoken_phrase_with_pre_roll():
    words = speech("Yes, I am interested.")
    audio = silence(400) + words + silence(800)
    events = _events(TurnDetector(hangover_ms=500), audio)
    assert [e[1] for e in events] == [VadEvent.SPEECH_START, VadEvent.SPEECH_END]
    (start, _, first_audio), (end, _, _) = events
    assert first_audio >= 200 // FRAME_MS  # the pre-roll comes with the start
    last_word_frame = (400 + len(words) // 8) // FRAME_MS
    # The turn ends one hangover after the voice stops, counted in frames.
    assert last_word_frame <= end <= last_word_frame + 500 // FRAME_MS + 1


def test_it_does_not_end_the_turn_on_a_pause_shorter_than_the_hangover():
    audio = speech("Yes.") + silence(300) + speech("I am.") + silence(800)
    events = _events(TurnDetector(hangover_ms=500), audio)
    assert [e[1] for e in events] == [VadEvent.SPEECH_START, VadEvent.SPEECH_END]
    events = _events(TurnDetector(hangover_ms=200), audio)
    assert [e[1] for e in events].count(VadEvent.SPEECH_END) == 2


def test_it_does_not_take_a_click_for_a_turn():
    click = speech("Yes.")[:480]  # 60 ms of voice
    assert _events(TurnDetector(hangover_ms=500), silence(200) + click + silence(1000)) == []


def test_it_counts_voiced_time_for_barge_in():
    detector = TurnDetector(hangover_ms=500)
    _events(detector, speech("Sorry, who is this?"))
    assert 500 <= detector.voiced_ms <= 2000
    assert detector.speaking
