"""What happened: calls, every turn of them, and the numbers that asked not to be called."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import models


def new_call_sid() -> str:
    # Same shape as a Twilio CallSid (CA + 32 hex) so operators can treat them alike.
    return "CA" + secrets.token_hex(16)


class Direction(models.TextChoices):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Mode(models.TextChoices):
    FUNNEL = "funnel"
    SCRIPTED = "scripted"
    INTERACTIVE = "interactive"


class Status(models.TextChoices):
    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress", "in progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer", "no answer"
    CANCELED = "canceled"
    TRANSFERRED = "transferred"


TERMINAL_STATUSES = frozenset(
    {Status.COMPLETED, Status.BUSY, Status.FAILED, Status.NO_ANSWER, Status.CANCELED}
)
# Where each status stands in the lifecycle: a call only ever moves forward, so Twilio's
# callbacks may arrive late, repeated or out of order and still leave the right final state.
# A transferred call ends when Twilio says the bridged call completed (end_reason stays).
STATUS_RANK = {
    Status.QUEUED: 0,
    Status.INITIATED: 1,
    Status.RINGING: 2,
    Status.IN_PROGRESS: 3,
    Status.TRANSFERRED: 4,
    **{status: 5 for status in TERMINAL_STATUSES},
}


class Call(models.Model):
    sid = models.CharField(max_length=34, unique=True, default=new_call_sid, editable=False)
    # Twilio's own CallSid once a line has placed or received the call.
    provider_sid = models.CharField(max_length=64, blank=True, default="", db_index=True)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    mode = models.CharField(max_length=12, choices=Mode.choices)
    from_number = models.CharField(max_length=16, blank=True, default="")
    to_number = models.CharField(max_length=16)
    user_id = models.CharField(max_length=64, blank=True, default="")
    display_name = models.CharField(max_length=120, blank=True, default="Unknown")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    funnel_state = models.CharField(max_length=8, blank=True, default="")
    end_reason = models.CharField(max_length=32, blank=True, default="")
    greeting = models.TextField(blank=True, default="")
    message = models.TextField(blank=True, default="")
    objective = models.TextField(blank=True, default="")
    system_prompt = models.TextField(blank=True, default="")
    callback_url = models.URLField(max_length=500, blank=True, default="")
    script = models.ForeignKey(
        "funnel.Script", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    line = models.CharField(max_length=16, blank=True, default="")
    # Provider fallbacks during the call, e.g. {"tts": 1}; counted so operators see degradation.
    fallbacks = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="call_status_created"),
            models.Index(fields=["to_number"], name="call_to_number"),
            models.Index(fields=["from_number"], name="call_from_number"),
            models.Index(fields=["mode", "direction"], name="call_mode_direction"),
        ]

    def __str__(self) -> str:
        return f"{self.sid} {self.direction} {self.to_number} {self.status}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def duration(self) -> timedelta | None:
        if self.answered_at and self.ended_at:
            return self.ended_at - self.answered_at
        return None

    @property
    def caller_number(self) -> str:
        """The party we talk to: the callee outbound, the caller inbound."""
        return self.from_number if self.direction == Direction.INBOUND else self.to_number


class Role(models.TextChoices):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


class Message(models.Model):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField(blank=True, default="")
    funnel_state = models.CharField(max_length=8, blank=True, default="")
    intent = models.CharField(max_length=16, blank=True, default="")
    # True when the caller talked over this line: `text` then holds only what was heard.
    interrupted = models.BooleanField(default=False)
    stt_ms = models.PositiveIntegerField(null=True, blank=True)
    llm_ms = models.PositiveIntegerField(null=True, blank=True)
    tts_first_byte_ms = models.PositiveIntegerField(null=True, blank=True)
    turn_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # What a transcript shows of each turn (the admin inline, the API).
    TRANSCRIPT_FIELDS = (
        "seq",
        "role",
        "text",
        "funnel_state",
        "intent",
        "interrupted",
        "stt_ms",
        "llm_ms",
        "tts_first_byte_ms",
        "turn_ms",
        "created_at",
    )

    class Meta:
        ordering = ["call", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["call", "seq"], name="message_call_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.call.sid}#{self.seq} {self.role}: {self.text[:40]}"


class DoNotCall(models.Model):
    number = models.CharField(max_length=16, unique=True)
    reason = models.CharField(max_length=200, blank=True, default="")
    source_call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "do-not-call number"
        verbose_name_plural = "do-not-call list"

    def __str__(self) -> str:
        return self.number
