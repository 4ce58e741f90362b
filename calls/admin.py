"""Browse what happened: calls with their transcripts, and the editable do-not-call list."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.db.models import DurationField, ExpressionWrapper, F

from calls.models import Call, DoNotCall, Message
from calls.phone import InvalidPhoneNumber, to_e164


class MessageInline(admin.TabularInline):
    model = Message
    ordering = ["seq"]
    fields = readonly_fields = Message.TRANSCRIPT_FIELDS
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DurationFilter(admin.SimpleListFilter):
    title = "duration"
    parameter_name = "duration"
    # (value, label, at least, under) in seconds
    BANDS = (
        ("short", "under 30 s", None, 30),
        ("medium", "30 s to 2 min", 30, 120),
        ("long", "over 2 min", 120, None),
    )

    def lookups(self, request, model_admin):
        return [(value, label) for value, label, _, _ in self.BANDS]

    def queryset(self, request, queryset):
        for value, _, low, high in self.BANDS:
            if self.value() == value:
                answered = queryset.filter(answered_at__isnull=False, ended_at__isnull=False)
                length = ExpressionWrapper(F("ended_at") - F("answered_at"), output_field=DurationField())
                answered = answered.annotate(length=length)
                if low is not None:
                    answered = answered.filter(length__gte=timedelta(seconds=low))
                if high is not None:
                    answered = answered.filter(length__lt=timedelta(seconds=high))
                return answered
        return queryset


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = [
        "sid",
        "created_at",
        "direction",
        "mode",
        "status",
        "funnel_state",
        "end_reason",
        "to_number",
        "from_number",
        "duration_display",
    ]
    list_filter = ["status", "mode", "direction", "funnel_state", "end_reason", DurationFilter, "line"]
    search_fields = ["sid", "provider_sid", "to_number", "from_number", "user_id"]
    date_hierarchy = "created_at"
    list_per_page = 50
    inlines = [MessageInline]
    readonly_fields = [
        "sid",
        "provider_sid",
        "line",
        "direction",
        "mode",
        "status",
        "funnel_state",
        "end_reason",
        "from_number",
        "to_number",
        "user_id",
        "display_name",
        "script",
        "greeting",
        "message",
        "objective",
        "system_prompt",
        "callback_url",
        "idempotency_key",
        "fallbacks",
        "created_at",
        "answered_at",
        "ended_at",
        "duration_display",
    ]
    fieldsets = [
        (None, {"fields": ["sid", "provider_sid", "line", "direction", "mode", "status"]}),
        ("Outcome", {"fields": ["funnel_state", "end_reason", "fallbacks", "duration_display"]}),
        ("Parties", {"fields": ["from_number", "to_number", "user_id", "display_name"]}),
        (
            "Script",
            {"fields": ["script", "greeting", "message", "objective", "system_prompt", "callback_url"]},
        ),
        ("Times", {"fields": ["created_at", "answered_at", "ended_at", "idempotency_key"]}),
    ]

    def has_add_permission(self, request) -> bool:
        # Calls are started through the API, place_call or the softphone, never typed in.
        return False

    @admin.display(description="duration")
    def duration_display(self, call: Call) -> str:
        d = call.duration
        if d is None:
            return "—"
        seconds = int(d.total_seconds())
        return f"{seconds // 60}:{seconds % 60:02d}"


class DoNotCallForm(forms.ModelForm):
    class Meta:
        model = DoNotCall
        fields = ["number", "reason", "source_call"]

    def clean_number(self) -> str:
        try:
            return to_e164(self.cleaned_data["number"])
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(DoNotCall)
class DoNotCallAdmin(admin.ModelAdmin):
    form = DoNotCallForm
    list_display = ["number", "reason", "source_call", "created_at"]
    search_fields = ["number", "reason"]
    raw_id_fields = ["source_call"]
    readonly_fields = ["created_at"]
