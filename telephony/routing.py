from __future__ import annotations

from django.urls import path

from telephony.consumer import MediaStreamConsumer

websocket_urlpatterns: list = [
    path("twilio/stream", MediaStreamConsumer.as_asgi()),
]
