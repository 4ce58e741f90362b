from __future__ import annotations

from django.urls import path

from telephony import softphone, webhooks

urlpatterns = [
    path("twilio/webhook", webhooks.inbound_webhook, name="twilio-webhook"),
    path("twilio/outbound-webhook", webhooks.outbound_webhook, name="twilio-outbound-webhook"),
    path("twilio/status-callback", webhooks.status_callback, name="twilio-status-callback"),
    path("twilio/stream-ended", webhooks.stream_ended, name="twilio-stream-ended"),
]

# The browser softphone (staff only): the page, and the JSON it calls.
urlpatterns += [
    path("softphone/", softphone.softphone_page, name="softphone"),
    path("softphone/calls", softphone.softphone_call_create, name="softphone-call-create"),
    path(
        "softphone/calls/<str:sid>/transcript",
        softphone.softphone_call_transcript,
        name="softphone-call-transcript",
    ),
    path("softphone/calls/<str:sid>/end", softphone.softphone_call_end, name="softphone-call-end"),
]
