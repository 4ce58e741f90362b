from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls import services
from calls.models import Call, Message, Status

pytestmark = pytest.mark.django_db


def aged_call(days: int, status: str) -> Call:
    call = services.call_create(to_number="+14155550100").call
    services.call_set_status(call=call, status=status)
    services.message_append(call=call, role="assistant", text="hello")
    Call.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(days=days))
    return call


def test_it_purges_finished_calls_past_retention(settings):
    settings.RETENTION_DAYS = 30
    old = aged_call(31, Status.COMPLETED)
    recent = aged_call(5, Status.COMPLETED)
    assert services.calls_purge_expired() == 1
    assert list(Call.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Message.objects.filter(call_id=old.pk).exists()


def test_it_keeps_live_calls_whatever_their_age(settings):
    settings.RETENTION_DAYS = 1
    live = aged_call(400, Status.IN_PROGRESS)
    assert services.calls_purge_expired() == 0
    assert Call.objects.filter(pk=live.pk).exists()


def test_it_purges_from_the_command(capsys):
    aged_call(10, Status.FAILED)
    call_command("purge_calls", "--days", "7")
    assert "Deleted 1 call(s) older than 7 days." in capsys.readouterr().out
    assert not Call.objects.exists()


def test_it_refuses_a_zero_day_retention():
    with pytest.raises(CommandError):
        call_command("purge_calls", "--days", "0")
