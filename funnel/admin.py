from __future__ import annotations

from django.contrib import admin

from funnel.models import Script


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin):
    list_display = ("name", "agent_name", "company", "product", "is_default", "updated_at")
    list_filter = ("is_default",)
    search_fields = ("name", "company", "product")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "is_default")}),
        ("Who is calling", {"fields": ("agent_name", "company", "product")}),
        ("The funnel's lines", {"fields": ("qualifying_question", "pitch", "closing_offer")}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
