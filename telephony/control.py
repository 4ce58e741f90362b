"""Hang up or transfer a live call from outside the stream (the REST API, operators).

The consumer holding a call's stream registers here (`streams_here`, this process) and joins
the channel-layer group `call.<sid>` (every worker, with channels-redis). A stream in this
process gets the request on its own channel, not awaited: the API views are sync and hold
Django's one thread for sync code, which a consumer needs before it handles any message, so
waiting on it would deadlock. A stream on another worker acknowledges on a reply channel.
When nobody holds the stream the call's phone line ends it instead (Twilio's REST API, or
the simulated line), or it is just recorded when no line carries it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from calls import services as call_services
from calls.models import Call, Status
from telephony.lines import LineError, line_for
from voiceagent.logging import get_logger

log = get_logger("telephony.control")

ACK_TIMEOUT_S = 0.5  # a Redis round trip takes milliseconds; this bounds the wait when nobody answers
HANGUP = "call.hangup"
TRANSFER = "call.transfer"
_NOT_ANSWERED = frozenset({Status.QUEUED, Status.INITIATED, Status.RINGING})


class LiveControlRefused(Exception):
    """The call cannot be hung up or transferred now; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# call sid → the channel name of the consumer holding its stream, for streams in this process.
streams_here: dict[str, str] = {}


def call_group(call_sid: str) -> str:
    return f"call.{call_sid}"


def stream_register(call_sid: str, channel_name: str) -> None:
    streams_here[call_sid] = channel_name


def stream_unregister(call_sid: str) -> None:
    streams_here.pop(call_sid, None)


def call_hangup(*, call: Call, reason: str = "api_hangup") -> str:
    """End the call; returns how: `stream` (the consumer closed it) or `line`."""
    if call.is_terminal:
        raise LiveControlRefused(f"the call has already ended ({call.status})")
    if _ask_stream(call, HANGUP, reason=reason):
        return "stream"
    line = line_for(call)
    if line is not None:
        try:
            line.hangup(call)
        except LineError as exc:
            raise LiveControlRefused(f"the phone line could not end the call: {exc}") from None
    status = Status.CANCELED if call.status in _NOT_ANSWERED else Status.COMPLETED
    call_services.call_set_status(call=call, status=status, end_reason=reason)
    return "line"


def call_transfer(*, call: Call) -> str:
    """Hand the caller to HANDOFF_NUMBER; returns `stream` or `line`."""
    if call.is_terminal:
        raise LiveControlRefused(f"the call has already ended ({call.status})")
    if call.status == Status.TRANSFERRED:
        raise LiveControlRefused("the call is already transferred")
    if not settings.HANDOFF_NUMBER:
        raise LiveControlRefused("HANDOFF_NUMBER is not configured")
    if _ask_stream(call, TRANSFER):
        return "stream"
    line = line_for(call)
    if call.status != Status.IN_PROGRESS or line is None:
        raise LiveControlRefused("the call has no live stream to transfer")
    try:
        line.transfer(call, settings.HANDOFF_NUMBER)
    except LineError as exc:
        raise LiveControlRefused(f"the phone line could not transfer the call: {exc}") from None
    call_services.call_set_status(call=call, status=Status.TRANSFERRED, end_reason="api_transfer")
    return "line"


def _ask_stream(call: Call, kind: str, **fields: str) -> bool:
    """Send `kind` to the consumer holding the call's stream; True when one has it."""
    event = {"type": kind, **fields}
    layer = get_channel_layer()
    if layer is None:
        return False
    here = streams_here.get(call.sid)
    if here is not None:
        # Delivered, not awaited: the consumer acts once this view has let go of the thread.
        async_to_sync(layer.send)(here, event)
        return True
    if isinstance(layer, InMemoryChannelLayer):
        return False  # one process only, and the stream is not here
    return async_to_sync(_ask_stream_async)(call.sid, event)


async def _ask_stream_async(call_sid: str, event: dict[str, Any]) -> bool:
    layer = get_channel_layer()
    reply_to = await layer.new_channel()
    await layer.group_send(call_group(call_sid), {**event, "reply_to": reply_to})
    try:
        await asyncio.wait_for(layer.receive(reply_to), ACK_TIMEOUT_S)
    except TimeoutError:
        return False
    return True
