from __future__ import annotations

import pytest

from calls import services
from calls.models import Call, DoNotCall, Message, Status
from calls.phone import InvalidPhoneNumber

pytestmark = pytest.mark.django_db


def make_call(**fields) -> Call:
    fields.setdefault("to_number", "+14155550100")
    return services.call_create(**fields).call


def test_it_stores_numbers_as_e164():
    call = make_call(to_number="415.555.0100", from_number="+44 20 7946 0958")
    assert (call.to_number, call.from_number) == ("+14155550100", "+442079460958")


def test_it_generates_twilio_shaped_sids():
    call = make_call()
    assert call.sid.startswith("CA") and len(call.sid) == 34


def test_it_rejects_an_impossible_number():
    with pytest.raises(InvalidPhoneNumber):
        make_call(to_number="+1 555")


def test_it_refuses_scripted_calls_without_a_message():
    with pytest.raises(services.CallRejected) as err:
        make_call(mode="scripted")
    assert err.value.field == "message"


def test_it_answers_inbound_calls_from_do_not_call_numbers():
    services.do_not_call_add(number="+14155550100")
    call = make_call(direction="inbound", check_do_not_call=False)
    assert call.direction == "inbound"


def test_it_moves_along_the_lifecycle_and_stamps_times():
    call = make_call()
    assert services.call_set_status(call=call, status=Status.RINGING)
    assert services.call_set_status(call=call, status=Status.IN_PROGRESS)
    assert call.answered_at is not None and call.ended_at is None
    assert services.call_set_status(call=call, status=Status.COMPLETED, end_reason="converted")
    call.refresh_from_db()
    assert call.status == Status.COMPLETED
    assert call.ended_at >= call.answered_at
    assert call.end_reason == "converted"


@pytest.mark.parametrize("terminal", [Status.COMPLETED, Status.BUSY, Status.FAILED, Status.NO_ANSWER])
def test_it_never_moves_a_call_out_of_a_terminal_state(terminal):
    call = make_call()
    services.call_set_status(call=call, status=terminal)
    assert not services.call_set_status(call=call, status=Status.RINGING)
    assert not services.call_set_status(call=call, status=Status.IN_PROGRESS)
    call.refresh_from_db()
    assert call.status == terminal


def test_it_keeps_the_first_end_reason():
    call = make_call()
    services.call_set_end_reason(call=call, end_reason="caller_dnc")
    services.call_set_end_reason(call=call, end_reason="silence_timeout")
    call.refresh_from_db()
    assert call.end_reason == "caller_dnc"


def test_it_numbers_messages_in_order():
    call = make_call()
    first = services.message_append(call=call, role="assistant", text="Hello")
    second = services.message_append(call=call, role="user", text="hi", intent="interested")
    assert (first.seq, second.seq) == (1, 2)
    assert list(Message.objects.filter(call=call).values_list("text", flat=True)) == ["Hello", "hi"]


def test_it_rejects_an_unknown_role():
    with pytest.raises(ValueError):
        services.message_append(call=make_call(), role="narrator", text="...")


def test_it_adds_a_number_to_do_not_call_once():
    call = make_call()
    services.do_not_call_add(number="(415) 555-0100", reason="asked", source_call=call)
    services.do_not_call_add(number="+14155550100", reason="again")
    entry = DoNotCall.objects.get()
    assert (entry.number, entry.reason, entry.source_call_id) == ("+14155550100", "asked", call.pk)


def test_it_counts_provider_fallbacks_on_the_call():
    call = make_call()
    services.call_count_fallback(call=call, role="tts")
    services.call_count_fallback(call=call, role="tts")
    services.call_count_fallback(call=call, role="stt")
    call.refresh_from_db()
    assert call.fallbacks == {"tts": 2, "stt": 1}


def test_it_hands_a_started_call_to_the_line_after_commit(settings, django_capture_on_commit_callbacks):
    settings.CALL_PLACER = "tests.calls.test_services.record_placement"
    RECORDED.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = services.call_start(to_number="+14155550100", mode="funnel")
    assert RECORDED == [result.call.sid]


def test_it_does_not_dial_again_for_a_repeated_key(settings, django_capture_on_commit_callbacks):
    settings.CALL_PLACER = "tests.calls.test_services.record_placement"
    RECORDED.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.call_start(to_number="+14155550100", idempotency_key="same")
        services.call_start(to_number="+14155550100", idempotency_key="same")
    assert len(RECORDED) == 1


RECORDED: list[str] = []


def record_placement(call: Call) -> None:
    RECORDED.append(call.sid)
