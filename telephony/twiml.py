"""TwiML answers, built with the twilio library so the XML is always well formed."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from twilio.twiml.voice_response import Connect, VoiceResponse

STREAM_PATH = "/twilio/stream"
STREAM_ENDED_PATH = "/twilio/stream-ended"


def public_url(path: str, **query: str) -> str:
    url = settings.PUBLIC_BASE_URL.rstrip("/") + path
    return f"{url}?{urlencode(query)}" if query else url


def stream_url() -> str:
    """The WebSocket twin of PUBLIC_BASE_URL: https → wss, http → ws."""
    parts = urlsplit(public_url(STREAM_PATH))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path, "", ""))


def connect_stream(*, call_sid: str, token: str) -> str:
    """Open the media stream; when it ends Twilio asks the action URL what to do next."""
    response = VoiceResponse()
    connect = Connect(action=public_url(STREAM_ENDED_PATH, call=call_sid), method="POST")
    stream = connect.stream(url=stream_url())
    stream.parameter(name="call_sid", value=call_sid)
    stream.parameter(name="token", value=token)
    response.append(connect)
    return str(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def dial(number: str) -> str:
    response = VoiceResponse()
    response.dial(number)
    return str(response)
