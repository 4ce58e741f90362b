from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from calls import services
from calls.models import Call, DoNotCall, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = User.objects.create_superuser("ops", "ops@example.test", "pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def calls() -> tuple[Call, Call]:
    funnel = services.call_create(to_number="+14155550100", mode="funnel").call
    services.call_set_status(call=funnel, status=Status.IN_PROGRESS)
    services.call_set_status(call=funnel, status=Status.COMPLETED, end_reason="converted")
    services.message_append(
        call=funnel, role="assistant", text="Hi, this is Alex from Brightside.", funnel_state="INTRO"
    )
    services.message_append(
        call=funnel,
        role="user",
        text="sure what is it about",
        funnel_state="INTRO",
        intent="interested",
        stt_ms=287,
    )
    scripted = services.call_create(to_number="+14155550111", mode="scripted", message="Reminder").call
    return funnel, scripted


def test_it_lists_calls_with_their_outcome(staff, calls):
    response = staff.get("/admin/calls/call/")
    assert response.status_code == 200
    html = response.content.decode()
    assert calls[0].sid in html and calls[1].sid in html
    assert "converted" in html


def test_it_filters_calls_by_mode(staff, calls):
    html = staff.get("/admin/calls/call/?mode__exact=scripted").content.decode()
    assert calls[1].sid in html
    assert calls[0].sid not in html


def test_it_filters_calls_by_status(staff, calls):
    html = staff.get("/admin/calls/call/?status__exact=completed").content.decode()
    assert calls[0].sid in html and calls[1].sid not in html


def test_it_searches_calls_by_number(staff, calls):
    html = staff.get("/admin/calls/call/?q=5550111").content.decode()
    assert calls[1].sid in html and calls[0].sid not in html


def test_it_searches_calls_by_sid(staff, calls):
    html = staff.get(f"/admin/calls/call/?q={calls[0].sid[:12]}").content.decode()
    assert calls[0].sid in html and calls[1].sid not in html


def test_it_shows_the_transcript_inline_in_order(staff, calls):
    response = staff.get(f"/admin/calls/call/{calls[0].pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    first = html.index("Hi, this is Alex from Brightside.")
    second = html.index("sure what is it about")
    assert first < second
    assert "interested" in html and "287" in html


def test_it_redirects_an_anonymous_visitor_to_login(calls):
    response = Client().get("/admin/calls/call/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_it_adds_a_do_not_call_number_in_e164(staff):
    response = staff.post("/admin/calls/donotcall/add/", {"number": "(415) 555-0100", "reason": "asked"})
    assert response.status_code == 302
    assert DoNotCall.objects.get().number == "+14155550100"


def test_it_refuses_a_bad_do_not_call_number_with_a_form_error(staff):
    response = staff.post("/admin/calls/donotcall/add/", {"number": "12", "reason": ""})
    assert response.status_code == 200
    assert "not a" in response.content.decode()
    assert not DoNotCall.objects.exists()


def test_it_filters_calls_by_duration(staff, calls):
    from datetime import timedelta

    funnel, scripted = calls
    Call.objects.filter(pk=funnel.pk).update(ended_at=funnel.answered_at + timedelta(seconds=95))
    medium = staff.get("/admin/calls/call/?duration=medium").content.decode()
    short = staff.get("/admin/calls/call/?duration=short").content.decode()
    assert funnel.sid in medium and scripted.sid not in medium
    assert funnel.sid not in short
    assert "1:35" in staff.get("/admin/calls/call/").content.decode()
