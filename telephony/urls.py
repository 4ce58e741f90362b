from __future__ import annotations

from django.urls import path

from telephony import webhooks

urlpatterns = [
    path("twilio/webhook", webhooks.inbound_webhook, name="twilio-webhook"),
    path("twilio/outbound-webhook", webhooks.outbound_webhook, name="twilio-outbound-webhook"),
    path("twilio/status-callback", webhooks.status_callback, name="twilio-status-callback"),
    path("twilio/stream-ended", webhooks.stream_ended, name="twilio-stream-ended"),
]
