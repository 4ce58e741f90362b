"""Each persona answers a call started through the API, with no Twilio account.

The simulated line plays Twilio's whole part against the real app (signed webhooks, status
callbacks, the media stream); local Piper and Whisper, the funnel and the offline writer run
for real. The line's clock runs 5x real time and the script's lines are short, to stay fast.
"""

from __future__ import annotations

import pytest

from calls.models import Call, DoNotCall, Message, Role, Status
from funnel.models import Script
from telephony import playback
from telephony.lines import simulated
from telephony.lines.personas import PERSONAS, Callee, Hearing, Persona, UnknownPersona, get_persona
from telephony.lines.report import funnel_path
from tests.conftest import API_KEY

pytestmark = pytest.mark.slow

NUMBER = "+12025550143"
HANDOFF = "+12025550199"
BUYS_PATH = ["INTRO", "QUALIFY", "PITCH", "CLOSE", "END"]


@pytest.fixture
def line(settings, monkeypatch, transactional_db):
    settings.SIMULATED_SPEED = 5
    settings.CALL_PLACER = "telephony.lines.call_place"
    # The app sends each line at once; the line plays it out at its own (5x) pace.
    monkeypatch.setattr(playback, "LEAD_MS", 600_000)
    Script.objects.create(
        name="Short",
        is_default=True,
        agent_name="Sam",
        company="Acme Solar",
        product="solar panels",
        qualifying_question="Do you own your home?",
        pitch="The panels are free and you save every month.",
        closing_offer="Can I book a call for you?",
    )

    def place(persona: str, path: str = "/call/start", body: dict | None = None):
        settings.SIMULATED_PERSONA = persona
        response = Client().post(
            path, body or {"phone": NUMBER}, content_type="application/json", HTTP_X_API_KEY=API_KEY
        )
        assert response.status_code == 201, response.content
        sid = response.json()["call_sid"]
        result = simulated.join(sid, timeout=90)
        assert result is not None, "the simulated call did not finish"
        assert result.errors == []
        call = Call.objects.get(sid=sid)
        return call, list(Message.objects.filter(call=call).order_by("seq")), result

    from django.test import Client

    return place


def _said(messages: list[Message], role: str) -> list[str]:
    return [m.text for m in messages if m.role == role]


def _intents(messages: list[Message]) -> list[str]:
    return [m.intent for m in messages if m.role == Role.USER]


def test_it_converts_an_interested_callee(line):
    call, messages, result = line("interested")
    assert (call.status, call.end_reason) == (Status.COMPLETED, "converted")
    assert funnel_path(messages) == BUYS_PATH
    assert _intents(messages) == ["interested"] * 4
    assert "Acme Solar" in _said(messages, Role.ASSISTANT)[0]
    assert call.line == "simulated" and call.provider_sid == result.provider_sid
    assert [status for status, _ in result.statuses] == ["initiated", "ringing", "in-progress", "completed"]
    assert call.answered_at is not None and call.ended_at is not None


def test_it_ends_politely_with_a_callee_who_is_not_interested(line):
    call, messages, _ = line("not_interested")
    assert (call.status, call.end_reason) == (Status.COMPLETED, "not_interested")
    assert funnel_path(messages) == ["INTRO", "END"]
    assert _intents(messages) == ["not_interested"]
    assert "not interested" in _said(messages, Role.USER)[0].lower()


def test_it_rephrases_for_an_unclear_callee_who_then_warms_up(line):
    call, messages, _ = line("unclear")
    assert (call.status, call.end_reason) == (Status.COMPLETED, "converted")
    assert funnel_path(messages) == BUYS_PATH
    assert _intents(messages)[:2] == ["unclear", "unclear"]
    agent = _said(messages, Role.ASSISTANT)
    assert "catch that" in agent[1] and "another way" in agent[2]


def test_it_tells_a_callee_who_asks_if_it_is_an_ai_the_truth_and_goes_on(line):
    call, messages, _ = line("asks_if_ai")
    assert (call.status, call.end_reason) == (Status.COMPLETED, "converted")
    assert funnel_path(messages) == BUYS_PATH
    assert _intents(messages)[0] == "asks_if_ai"
    assert "I'm an AI" in _said(messages, Role.ASSISTANT)[1]


def test_it_transfers_a_callee_who_wants_a_human(line, settings):
    settings.HANDOFF_NUMBER = HANDOFF
    call, messages, result = line("wants_human")
    # Transferred, then completed when the bridged call ended; the reason stays.
    assert (call.status, call.end_reason) == (Status.COMPLETED, "handoff")
    assert _said(messages, Role.ASSISTANT)[-1] == "Transferring you now."
    assert _intents(messages) == ["wants_human"]
    # The <Connect> action answered <Dial>: the line connected the callee to the handoff number.
    assert (result.outcome, result.transferred_to) == ("transferred", HANDOFF)


def test_it_honours_do_not_call_on_the_same_call(line):
    call, messages, _ = line("do_not_call")
    assert (call.status, call.end_reason) == (Status.COMPLETED, "caller_dnc")
    assert _intents(messages) == ["do_not_call"]
    assert DoNotCall.objects.filter(number=NUMBER, source_call=call).exists()


def test_it_times_out_on_a_silent_callee(line, settings):
    settings.SILENCE_TIMEOUT_SECONDS = 1.0
    call, messages, result = line("silent")
    assert (call.status, call.end_reason) == (Status.COMPLETED, "silence_timeout")
    assert _said(messages, Role.USER) == []
    assert result.caller_lines == []
    assert "lost you" in _said(messages, Role.ASSISTANT)[-1]


def test_it_cuts_the_agent_line_when_an_interrupting_callee_talks_over_it(line):
    call, messages, result = line("interrupts")
    assert result.clears >= 1
    cut = [m for m in messages if m.role == Role.ASSISTANT and m.interrupted]
    assert cut, "no agent line was recorded as interrupted"
    assert (
        cut[0].text
        != "Hi, this is Sam from Acme Solar. I'm calling about solar panels. Do you have a quick minute?"
    )
    assert call.status == Status.COMPLETED
    assert "interested" in _intents(messages)


def test_it_speaks_a_free_list_of_lines_in_order(line, settings, monkeypatch):
    monkeypatch.setattr(
        simulated, "get_persona", lambda name="", say=(): get_persona(say=["Yes, go ahead.", "No thanks."])
    )
    call, messages, result = line("interested")
    assert result.caller_lines == ["Yes, go ahead.", "No thanks."]
    assert _intents(messages) == ["interested", "not_interested"]
    assert call.end_reason == "not_interested"


def test_it_completes_a_scripted_call_through_the_outbound_api(line):
    body = {"to_number": NUMBER, "mode": "scripted", "message": "Your order has shipped."}
    call, messages, _ = line("silent", path="/api/call/outbound", body=body)
    assert call.status == Status.COMPLETED
    assert "Your order has shipped." in _said(messages, Role.ASSISTANT)[0]


# --- the callee's turn-taking, without audio -----------------------------------------------


def _callee(**fields) -> Callee:
    persona = Persona("t", "test", ("one", "two"), **fields)
    return Callee(persona, [b"1", b"2"])


def test_it_answers_only_after_the_agent_spoke_and_paused():
    callee = _callee(pause_ms=600)
    assert callee.decide(Hearing(agent_playing=False, agent_turn_ms=0, quiet_ms=5000)) is None
    callee.on_agent_audio()
    assert callee.decide(Hearing(agent_playing=True, agent_turn_ms=3000, quiet_ms=0)) is None
    assert callee.decide(Hearing(agent_playing=False, agent_turn_ms=0, quiet_ms=400)) is None
    assert callee.decide(Hearing(agent_playing=False, agent_turn_ms=0, quiet_ms=600)) == ("one", b"1")
    # One line per agent turn.
    assert callee.decide(Hearing(agent_playing=False, agent_turn_ms=0, quiet_ms=900)) is None


def test_it_talks_over_the_agent_when_set_to_interrupt():
    callee = _callee(interrupt_after_ms=1000)
    callee.on_agent_audio()
    assert callee.decide(Hearing(agent_playing=True, agent_turn_ms=800, quiet_ms=0)) is None
    assert callee.decide(Hearing(agent_playing=True, agent_turn_ms=1000, quiet_ms=0)) == ("one", b"1")


def test_it_goes_quiet_when_its_lines_run_out():
    callee = _callee()
    for expected in ("one", "two", None):
        callee.on_agent_audio()
        chosen = callee.decide(Hearing(agent_playing=False, agent_turn_ms=0, quiet_ms=5000))
        assert (chosen[0] if chosen else None) == expected
    assert callee.lines_left == 0


def test_it_knows_every_persona_and_refuses_bad_names():
    assert set(PERSONAS) == {
        "interested",
        "not_interested",
        "unclear",
        "asks_if_ai",
        "wants_human",
        "do_not_call",
        "silent",
        "interrupts",
    }
    with pytest.raises(UnknownPersona, match="choose one of"):
        get_persona("chatty")
    with pytest.raises(UnknownPersona):
        get_persona(say=["  "])
