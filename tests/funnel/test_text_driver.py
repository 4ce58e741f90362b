from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from calls import services
from calls.models import Call
from funnel.text_driver import run_text_call

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def new_call(**kwargs) -> Call:
    return services.call_create(to_number="+14155550123", **kwargs).call


async def test_it_runs_a_whole_funnel_call_from_typed_lines_and_persists_it():
    call = await new_call()
    lines = ["uh yeah i have a minute", "is this a robot", "yes we own it", "sounds good", "yeah book it"]
    transcript = await run_text_call(call, lines)
    roles = [m.role for m in transcript]
    assert roles == ["assistant"] + ["user", "assistant"] * 5
    states = [(m.role, m.funnel_state, m.intent) for m in transcript]
    assert states[1:5] == [
        ("user", "INTRO", "interested"),
        ("assistant", "QUALIFY", "interested"),
        ("user", "QUALIFY", "asks_if_ai"),
        ("assistant", "QUALIFY", "asks_if_ai"),
    ]
    assert transcript[-1].funnel_state == "END" and "all set" in transcript[-1].text
    stored = await sync_to_async(Call.objects.get)(pk=call.pk)
    assert (stored.status, stored.end_reason, stored.funnel_state) == ("completed", "converted", "END")


async def test_it_stops_at_the_end_and_ignores_the_remaining_lines():
    call = await new_call()
    transcript = await run_text_call(call, ["not interested", "wait actually yes"])
    assert [m.text for m in transcript if m.role == "user"] == ["not interested"]


async def test_it_ends_on_silence_when_the_lines_run_out():
    heard = []
    call = await new_call()
    await run_text_call(call, ["yes"], on_line=lambda who, text: heard.append(who))
    stored = await sync_to_async(Call.objects.get)(pk=call.pk)
    assert stored.end_reason == "silence_timeout"
    assert heard == ["agent", "caller", "agent", "agent"]


async def test_it_drives_interactive_calls_offline():
    call = await new_call(mode="interactive", objective="Ask about the report")
    transcript = await run_text_call(call, ["hi", "no that's all"])
    assert transcript[-1].text.endswith("Have a wonderful day!")


async def test_it_shows_the_call_and_its_turns_in_the_admin():
    call = await new_call()
    await run_text_call(call, ["yes", "no thanks"])

    def page() -> str:
        user = User.objects.create_superuser("ops", "ops@example.test", "pw-for-tests")
        client = Client()
        client.force_login(user)
        response = client.get(f"/admin/calls/call/{call.pk}/change/")
        assert response.status_code == 200
        return response.content.decode()

    html = await sync_to_async(page)()
    assert "Brightside Solar" in html and "no thanks" in html
