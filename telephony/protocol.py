"""Twilio Media Streams over the WebSocket: the message shapes and our close codes.

Inbound (Twilio → us): connected, start, media, mark, dtmf, stop.
Outbound (us → Twilio): media, mark, clear.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

# Close codes: 1000 for a normal end; 44xx name why we refused a stream (4000–4999 are the
# application range of RFC 6455).
CLOSE_NORMAL = 1000
CLOSE_BAD_TOKEN = 4401
CLOSE_UNKNOWN_CALL = 4404
CLOSE_CALL_ENDED = 4409
CLOSE_INTERNAL_ERROR = 4500

INBOUND_EVENTS = frozenset({"connected", "start", "media", "mark", "dtmf", "stop"})


class MalformedFrame(ValueError):
    """A message that is not a Twilio Media Streams event we can read."""


@dataclass(frozen=True)
class StreamStart:
    stream_sid: str
    provider_call_sid: str
    call_sid: str
    token: str
    parameters: dict[str, str] = field(default_factory=dict)


def parse_event(text: str | None) -> dict[str, Any]:
    """The decoded JSON event; MalformedFrame for anything else."""
    if not text:
        raise MalformedFrame("empty or binary frame")
    try:
        message = json.loads(text)
    except ValueError:
        raise MalformedFrame("not JSON") from None
    if not isinstance(message, dict) or message.get("event") not in INBOUND_EVENTS:
        raise MalformedFrame("unknown event")
    return message


def parse_start(message: dict[str, Any]) -> StreamStart:
    start = message.get("start")
    if not isinstance(start, dict):
        raise MalformedFrame("start without a start object")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise MalformedFrame("customParameters is not an object")
    params = {str(k): str(v) for k, v in params.items()}
    return StreamStart(
        stream_sid=str(start.get("streamSid") or message.get("streamSid") or ""),
        provider_call_sid=str(start.get("callSid") or ""),
        call_sid=params.get("call_sid", ""),
        token=params.get("token", ""),
        parameters=params,
    )


def parse_media(message: dict[str, Any]) -> tuple[str, bytes]:
    """(track, μ-law bytes) of a media event."""
    media = message.get("media")
    if not isinstance(media, dict) or not isinstance(media.get("payload"), str):
        raise MalformedFrame("media without a payload")
    try:
        audio = base64.b64decode(media["payload"], validate=True)
    except (binascii.Error, ValueError):
        raise MalformedFrame("media payload is not base64") from None
    return str(media.get("track") or "inbound"), audio


def parse_mark(message: dict[str, Any]) -> str:
    mark = message.get("mark")
    if not isinstance(mark, dict) or not mark.get("name"):
        raise MalformedFrame("mark without a name")
    return str(mark["name"])


def parse_dtmf(message: dict[str, Any]) -> str:
    dtmf = message.get("dtmf")
    if not isinstance(dtmf, dict) or not dtmf.get("digit"):
        raise MalformedFrame("dtmf without a digit")
    return str(dtmf["digit"])


def media_message(stream_sid: str, mulaw: bytes) -> dict[str, Any]:
    return {
        "event": "media",
        "streamSid": stream_sid,
        "media": {"payload": base64.b64encode(mulaw).decode("ascii")},
    }


def mark_message(stream_sid: str, name: str) -> dict[str, Any]:
    return {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}


def clear_message(stream_sid: str) -> dict[str, Any]:
    return {"event": "clear", "streamSid": stream_sid}
