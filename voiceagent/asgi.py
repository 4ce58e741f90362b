"""ASGI entry point: HTTP goes to Django, WebSockets to the media-stream consumer."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagent.settings")
# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from telephony.routing import websocket_urlpatterns  # noqa: E402

if settings.WARM_MODELS:
    from telephony.providers.factory import warm_local_models_in_background

    warm_local_models_in_background()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Twilio cannot send cookies or an Origin header; the stream authenticates itself
        # with the signed token in its `start` message instead.
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
