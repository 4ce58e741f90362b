"""Shapes of the API's answers, shared by the views (inputs live on each view)."""

from __future__ import annotations

from rest_framework import serializers

from calls.models import Call, Message


def duration_seconds(call: Call) -> float | None:
    d = call.duration
    return round(d.total_seconds(), 1) if d is not None else None


class MessageOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = Message.TRANSCRIPT_FIELDS


class CallSummaryOutput(serializers.ModelSerializer):
    call_sid = serializers.CharField(source="sid")
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = [
            "call_sid",
            "provider_sid",
            "direction",
            "mode",
            "status",
            "funnel_state",
            "end_reason",
            "from_number",
            "to_number",
            "user_id",
            "display_name",
            "created_at",
            "answered_at",
            "ended_at",
            "duration_seconds",
        ]

    def get_duration_seconds(self, call: Call) -> float | None:
        return duration_seconds(call)
