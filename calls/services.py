"""Every write to calls, messages and the do-not-call list goes through here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.module_loading import import_string

from calls.models import (
    STATUS_RANK,
    TERMINAL_STATUSES,
    Call,
    Direction,
    DoNotCall,
    Message,
    Mode,
    Role,
    Status,
)
from calls.phone import to_e164
from calls.signals import call_status_changed
from voiceagent.logging import get_logger

log = get_logger("calls")


class CallRejected(Exception):
    """A call that must not be placed; `field` names the input at fault."""

    def __init__(self, field: str, reason: str, *, status_code: int = 400) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status_code = status_code


@dataclass(frozen=True)
class CallCreated:
    call: Call
    created: bool  # False when an idempotency key returned an earlier call


@transaction.atomic
def call_create(
    *,
    to_number: str,
    mode: str = Mode.FUNNEL,
    direction: str = Direction.OUTBOUND,
    from_number: str = "",
    user_id: str = "",
    display_name: str = "Unknown",
    message: str = "",
    greeting: str = "",
    objective: str = "",
    system_prompt: str = "",
    callback_url: str = "",
    script_id: int | None = None,
    idempotency_key: str | None = None,
    provider_sid: str = "",
    check_do_not_call: bool = True,
) -> CallCreated:
    if idempotency_key:
        earlier = Call.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            return CallCreated(call=earlier, created=False)
    if mode not in Mode.values:
        raise CallRejected("mode", f"must be one of {', '.join(Mode.values)}")
    if mode == Mode.SCRIPTED and not message.strip():
        raise CallRejected("message", "is required for scripted calls")
    to_e = to_e164(to_number)
    from_e = to_e164(from_number) if from_number else ""
    outbound = direction == Direction.OUTBOUND
    if check_do_not_call and outbound and DoNotCall.objects.filter(number=to_e).exists():
        raise CallRejected("to_number", "is on the do-not-call list", status_code=409)
    try:
        with transaction.atomic():
            call = Call.objects.create(
                to_number=to_e,
                from_number=from_e,
                mode=mode,
                direction=direction,
                user_id=user_id,
                display_name=display_name or "Unknown",
                message=message,
                greeting=greeting,
                objective=objective,
                system_prompt=system_prompt,
                callback_url=callback_url,
                script_id=script_id,
                idempotency_key=idempotency_key or None,
                provider_sid=provider_sid,
            )
    except IntegrityError:
        # Two requests with one idempotency key raced; the other one won.
        if idempotency_key:
            return CallCreated(call=Call.objects.get(idempotency_key=idempotency_key), created=False)
        raise
    log.info("call created", extra={"event": "call_created", "call_sid": call.sid, "mode": mode})
    return CallCreated(call=call, created=True)


@transaction.atomic
def call_start(*, idempotency_key: str | None = None, **fields) -> CallCreated:
    """Create an outbound call and, once that commits, hand it to the phone line.

    The line is Twilio when configured, else the simulated line; a repeat with the same
    idempotency key returns the first call and dials nothing.
    """
    result = call_create(idempotency_key=idempotency_key, **fields)
    if result.created:
        call = result.call
        transaction.on_commit(lambda: _place(call))
    return result


def _place(call: Call) -> None:
    # Imported here: `calls` records what happened; placing belongs to telephony.
    place = import_string(settings.CALL_PLACER)
    place(call)


@transaction.atomic
def call_set_status(*, call: Call, status: str, end_reason: str = "") -> bool:
    """Move a call forward along the Twilio lifecycle; never back, never out of a terminal state.

    Returns True when something changed. Reloads under a row lock so concurrent webhooks
    and the stream's finalize agree; listeners of `call_status_changed` hear each change
    once, after it commits.
    """
    if status not in STATUS_RANK:
        raise ValueError(f"unknown call status {status!r}")
    locked = Call.objects.select_for_update().get(pk=call.pk)
    if locked.status in TERMINAL_STATUSES or STATUS_RANK[status] <= STATUS_RANK[locked.status]:
        _refresh(call, locked)
        return False
    now = timezone.now()
    fields = ["status"]
    locked.status = status
    if status in (Status.IN_PROGRESS, Status.TRANSFERRED) and locked.answered_at is None:
        locked.answered_at = now
        fields.append("answered_at")
    if status in TERMINAL_STATUSES and locked.ended_at is None:
        locked.ended_at = now
        fields.append("ended_at")
    if end_reason and not locked.end_reason:
        locked.end_reason = end_reason
        fields.append("end_reason")
    locked.save(update_fields=fields)
    _refresh(call, locked)
    log.info(
        "call status",
        extra={"event": "call_status", "call_sid": call.sid, "status": status, "end_reason": end_reason},
    )
    transaction.on_commit(lambda: call_status_changed.send(sender=Call, call=locked))
    return True


@transaction.atomic
def call_set_end_reason(*, call: Call, end_reason: str) -> None:
    """Record why the call is ending; the first reason given wins."""
    updated = Call.objects.filter(pk=call.pk, end_reason="").update(end_reason=end_reason)
    if updated:
        call.end_reason = end_reason


@transaction.atomic
def call_set_funnel_state(*, call: Call, state: str) -> None:
    Call.objects.filter(pk=call.pk).update(funnel_state=state)
    call.funnel_state = state


@transaction.atomic
def call_set_provider_sid(*, call: Call, provider_sid: str, line: str) -> None:
    Call.objects.filter(pk=call.pk).update(provider_sid=provider_sid, line=line)
    call.provider_sid = provider_sid
    call.line = line


@transaction.atomic
def call_count_fallback(*, call: Call, role: str) -> None:
    locked = Call.objects.select_for_update().get(pk=call.pk)
    locked.fallbacks[role] = int(locked.fallbacks.get(role, 0)) + 1
    locked.save(update_fields=["fallbacks"])
    call.fallbacks = locked.fallbacks


@transaction.atomic
def message_append(
    *,
    call: Call,
    role: str,
    text: str,
    funnel_state: str = "",
    intent: str = "",
    interrupted: bool = False,
    stt_ms: int | None = None,
    llm_ms: int | None = None,
    tts_first_byte_ms: int | None = None,
    turn_ms: int | None = None,
) -> Message:
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    # Lock the call row so two writers never pick the same sequence number.
    Call.objects.select_for_update().filter(pk=call.pk).first()
    last = Message.objects.filter(call=call).aggregate(m=Max("seq"))["m"] or 0
    return Message.objects.create(
        call=call,
        seq=last + 1,
        role=role,
        text=text,
        funnel_state=funnel_state,
        intent=intent,
        interrupted=interrupted,
        stt_ms=stt_ms,
        llm_ms=llm_ms,
        tts_first_byte_ms=tts_first_byte_ms,
        turn_ms=turn_ms,
    )


@transaction.atomic
def message_update_timings(*, message: Message, **timings: int | None) -> None:
    allowed = {"stt_ms", "llm_ms", "tts_first_byte_ms", "turn_ms"}
    values = {k: v for k, v in timings.items() if k in allowed}
    if values:
        Message.objects.filter(pk=message.pk).update(**values)
        for key, value in values.items():
            setattr(message, key, value)


@transaction.atomic
def do_not_call_add(*, number: str, reason: str = "", source_call: Call | None = None) -> DoNotCall:
    e164 = to_e164(number)
    entry, created = DoNotCall.objects.get_or_create(
        number=e164, defaults={"reason": reason[:200], "source_call": source_call}
    )
    if created:
        log.info(
            "number added to do-not-call",
            extra={"event": "do_not_call_added", "call_sid": getattr(source_call, "sid", "")},
        )
    return entry


@transaction.atomic
def calls_purge_expired(*, older_than_days: int | None = None) -> int:
    """Delete finished calls (with their messages) older than the retention period.

    Live calls are never deleted, whatever their age. Returns how many calls went.
    """
    days = settings.RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    expired = Call.objects.filter(created_at__lt=cutoff, status__in=TERMINAL_STATUSES)
    count = expired.count()
    expired.delete()
    if count:
        log.info("expired calls purged", extra={"event": "calls_purged", "count": count, "days": days})
    return count


def _refresh(target: Call, source: Call) -> None:
    for field in ("status", "answered_at", "ended_at", "end_reason", "funnel_state"):
        setattr(target, field, getattr(source, field))


__all__ = [
    "CallCreated",
    "CallRejected",
    "call_count_fallback",
    "call_create",
    "call_set_end_reason",
    "call_set_funnel_state",
    "call_set_provider_sid",
    "call_set_status",
    "call_start",
    "calls_purge_expired",
    "do_not_call_add",
    "message_append",
    "message_update_timings",
]
