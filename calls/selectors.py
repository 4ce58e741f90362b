"""Reads of calls and their transcripts."""

from __future__ import annotations

from django.db.models import QuerySet

from calls.models import TERMINAL_STATUSES, Call, DoNotCall, Message

MIN_SID_PREFIX = 8


class AmbiguousSid(Exception):
    def __init__(self, prefix: str, matches: list[str]) -> None:
        super().__init__(f"{prefix!r} matches {len(matches)} calls")
        self.prefix = prefix
        self.matches = matches


class SidTooShort(ValueError):
    pass


def call_get(*, sid: str) -> Call:
    """A call by its full sid (ours or Twilio's) or a unique prefix of at least 8 characters.

    Raises Call.DoesNotExist, AmbiguousSid or SidTooShort.
    """
    sid = sid.strip()
    exact = Call.objects.filter(sid=sid).first() or (
        Call.objects.filter(provider_sid=sid).first() if sid else None
    )
    if exact is not None:
        return exact
    if len(sid) < MIN_SID_PREFIX:
        raise SidTooShort(f"a call sid prefix needs at least {MIN_SID_PREFIX} characters")
    matches = list(Call.objects.filter(sid__startswith=sid).values_list("sid", flat=True)[:5])
    if not matches:
        raise Call.DoesNotExist(f"no call matches {sid!r}")
    if len(matches) > 1:
        raise AmbiguousSid(sid, matches)
    return Call.objects.get(sid=matches[0])


def call_get_by_provider_sid(*, provider_sid: str) -> Call | None:
    if not provider_sid:
        return None
    return Call.objects.filter(provider_sid=provider_sid).first()


def calls_active() -> QuerySet[Call]:
    return Call.objects.exclude(status__in=TERMINAL_STATUSES).order_by("-created_at")


def call_transcript(*, call: Call) -> QuerySet[Message]:
    return Message.objects.filter(call=call).order_by("seq")


def do_not_call_contains(*, number: str) -> bool:
    return DoNotCall.objects.filter(number=number).exists()
