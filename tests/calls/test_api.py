"""The REST API. Marked db_matrix: `make test` runs these on SQLite and again on PostgreSQL."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from calls import services
from calls.models import Call, Direction, Message, Mode, Status
from tests.conftest import API_KEY

pytestmark = [pytest.mark.django_db, pytest.mark.db_matrix]


@pytest.fixture
def api() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=API_KEY)
    return client


def make_call(**fields) -> Call:
    fields.setdefault("to_number", "+14155550100")
    return services.call_create(**fields).call


# --- auth ---------------------------------------------------------------------------------


def test_it_rejects_a_request_without_a_key_with_401():
    response = APIClient().get("/api/calls/active")
    assert response.status_code == 401
    assert response.json()["success"] is False
    assert "X-API-Key" in response.json()["error"]


def test_it_rejects_a_wrong_key_with_403():
    client = APIClient()
    client.credentials(HTTP_X_API_KEY="not-the-key")
    response = client.get("/api/calls/active")
    assert response.status_code == 403


def test_it_refuses_everything_when_no_key_is_configured(settings, api):
    settings.API_KEY = ""
    response = api.get("/api/calls/active")
    assert response.status_code == 403
    assert "API_KEY" in response.json()["error"]


# --- POST /api/call/outbound ---------------------------------------------------------------


def test_it_starts_an_outbound_call(api):
    response = api.post(
        "/api/call/outbound",
        {
            "to_number": "(415) 555-0100",
            "mode": "interactive",
            "user_id": "701973d2-57e4-4c84-a2ec-ded996dcf676",
            "greeting": "Hey! This is the assistant calling.",
            "objective": "Ask about the meeting tomorrow",
            "callback_url": "https://example.test/hook",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["success"] is True and body["status"] == "queued"
    call = Call.objects.get(sid=body["call_sid"])
    assert call.to_number == "+14155550100"
    assert (call.mode, call.direction) == (Mode.INTERACTIVE, Direction.OUTBOUND)
    assert call.objective == "Ask about the meeting tomorrow"
    assert call.callback_url == "https://example.test/hook"


def test_it_starts_a_scripted_call_with_its_message(api):
    response = api.post(
        "/api/call/outbound",
        {"to_number": "+14155550100", "mode": "scripted", "message": "Your package has arrived."},
        format="json",
    )
    assert response.status_code == 201
    assert Call.objects.get(sid=response.json()["call_sid"]).message == "Your package has arrived."


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"to_number": "not a number", "mode": "interactive"}, "to_number", "not a phone number"),
        ({"to_number": "+1 415 555", "mode": "interactive"}, "to_number", "not a"),
        ({"to_number": "+1 200 555 0100", "mode": "interactive"}, "to_number", "not a valid"),
        ({"to_number": "+14155550100", "mode": "telepathy"}, "mode", "not a valid choice"),
        ({"to_number": "+14155550100", "mode": "scripted"}, "message", "required for scripted"),
        ({"to_number": "+14155550100", "mode": "scripted", "message": "  "}, "message", "required"),
        ({"to_number": "+14155550100", "greeting": "x" * 501}, "greeting", "no more than 500"),
        ({"to_number": "+14155550100", "message": "x" * 2001}, "message", "no more than 2000"),
        ({"to_number": "+14155550100", "callback_url": "ftp://x"}, "callback_url", "valid URL"),
        ({"mode": "interactive"}, "to_number", "required"),
    ],
)
def test_it_rejects_bad_input_with_the_field_and_reason(api, body, field, reason):
    response = api.post("/api/call/outbound", body, format="json")
    assert response.status_code == 400, response.json()
    fields = response.json()["fields"]
    assert field in fields
    assert reason in fields[field]
    assert not Call.objects.exists()


def test_it_rejects_a_body_that_is_not_an_object(api):
    response = api.post("/api/call/outbound", ["+14155550100"], format="json")
    assert response.status_code == 400


def test_it_rejects_malformed_json_with_400(api):
    response = api.post("/api/call/outbound", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_it_refuses_a_number_on_the_do_not_call_list_with_409(api):
    services.do_not_call_add(number="+14155550100", reason="asked on a call")
    response = api.post("/api/call/outbound", {"to_number": "415-555-0100"}, format="json")
    assert response.status_code == 409
    assert "do-not-call" in response.json()["fields"]["to_number"]
    assert not Call.objects.exists()


def test_it_returns_the_first_call_for_a_repeated_idempotency_key(api):
    body = {"to_number": "+14155550100", "mode": "interactive"}
    first = api.post("/api/call/outbound", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")
    again = api.post("/api/call/outbound", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["call_sid"] == first.json()["call_sid"]
    assert Call.objects.count() == 1


def test_it_makes_separate_calls_for_separate_keys(api):
    body = {"to_number": "+14155550100"}
    api.post("/api/call/outbound", body, format="json", HTTP_IDEMPOTENCY_KEY="one")
    api.post("/api/call/outbound", body, format="json", HTTP_IDEMPOTENCY_KEY="two")
    assert Call.objects.count() == 2


def test_it_rejects_an_oversize_idempotency_key(api):
    response = api.post(
        "/api/call/outbound", {"to_number": "+14155550100"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 129
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]


# --- POST /call/start ---------------------------------------------------------------------


def test_it_starts_a_funnel_call(api):
    response = api.post("/call/start", {"phone": "+1 (415) 555-0101"}, format="json")
    assert response.status_code == 201
    call = Call.objects.get(sid=response.json()["call_sid"])
    assert call.mode == Mode.FUNNEL
    assert call.to_number == "+14155550101"
    assert call.status == Status.QUEUED


def test_it_names_the_phone_field_when_the_funnel_number_is_bad(api):
    response = api.post("/call/start", {"phone": "12"}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()["fields"]


def test_it_starts_a_funnel_call_idempotently(api):
    first = api.post("/call/start", {"phone": "+14155550101"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post("/call/start", {"phone": "+14155550101"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.json()["call_sid"] == first.json()["call_sid"]
    assert Call.objects.count() == 1


# --- GET status / active / detail -----------------------------------------------------------


def test_it_reports_status_by_full_sid(api):
    call = make_call()
    response = api.get(f"/api/call/{call.sid}/status")
    assert response.status_code == 200
    assert response.json()["status"] == "queued"
    assert response.json()["call_sid"] == call.sid


def test_it_reports_status_by_a_unique_prefix(api):
    call = make_call()
    response = api.get(f"/api/call/{call.sid[:10]}/status")
    assert response.status_code == 200
    assert response.json()["call_sid"] == call.sid


def test_it_reports_status_by_twilio_call_sid(api):
    call = make_call(provider_sid="CAtwilio000000000000000000000000001")
    response = api.get("/api/call/CAtwilio000000000000000000000000001/status")
    assert response.json()["call_sid"] == call.sid


def test_it_answers_409_for_an_ambiguous_prefix(api):
    make_call()
    make_call()
    Call.objects.filter(pk=Call.objects.first().pk).update(sid="CAfeedbeef" + "0" * 24)
    Call.objects.filter(pk=Call.objects.last().pk).update(sid="CAfeedbeef" + "1" * 24)
    response = api.get("/api/call/CAfeedbeef/status")
    assert response.status_code == 409
    assert "ambiguous" in response.json()["fields"]["sid"]


def test_it_answers_404_for_an_unknown_sid(api):
    response = api.get("/api/call/CA" + "f" * 32 + "/status")
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_it_answers_400_for_a_prefix_under_8_characters(api):
    make_call()
    response = api.get("/api/call/CA12/status")
    assert response.status_code == 400
    assert "8" in response.json()["fields"]["sid"]


def test_it_lists_only_active_calls(api):
    live = make_call()
    services.call_set_status(call=live, status=Status.IN_PROGRESS)
    done = make_call()
    services.call_set_status(call=done, status=Status.COMPLETED)
    response = api.get("/api/calls/active")
    sids = [c["call_sid"] for c in response.json()["calls"]]
    assert sids == [live.sid]
    assert response.json()["count"] == 1


def test_it_shows_a_call_with_its_transcript_in_order(api):
    call = make_call(mode=Mode.FUNNEL)
    services.message_append(call=call, role="assistant", text="Hi, this is Alex.", funnel_state="INTRO")
    services.message_append(
        call=call, role="user", text="sure go on", funnel_state="INTRO", intent="interested", stt_ms=310
    )
    response = api.get(f"/api/calls/{call.sid}")
    assert response.status_code == 200
    transcript = response.json()["transcript"]
    assert [m["seq"] for m in transcript] == [1, 2]
    assert transcript[1]["intent"] == "interested"
    assert transcript[1]["stt_ms"] == 310
    assert Message.objects.filter(call=call).count() == 2


def test_it_answers_404_for_the_detail_of_an_unknown_call(api):
    assert api.get("/api/calls/CA" + "0" * 32).status_code == 404


def test_it_runs_on_the_database_the_environment_names():
    import os

    from django.db import connection

    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected
