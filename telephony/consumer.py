"""`/twilio/stream`: one Twilio Media Stream, one call, one pipeline.

The stream proves which call it carries with the signed token in `start`; until then it
can do nothing. Every frame goes through one dispatch on Twilio's `event`; a frame we cannot
read is logged and skipped. `stop` and a dropped socket share one idempotent finalize.
"""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import aclose_old_connections
from channels.generic.websocket import AsyncWebsocketConsumer

from calls.models import Call
from telephony import control, protocol
from telephony.pipeline import CallPipeline
from telephony.tokens import BadStreamToken, stream_token_check
from voiceagent.logging import get_logger

log = get_logger("telephony.stream")


class MediaStreamConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.call: Call | None = None
        self.stream_sid = ""
        self.group = ""
        self.pipeline: CallPipeline | None = None
        self.closed = False
        self._skipped_before_start = 0
        await self.accept()

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.receive":
            # Channels' dispatch runs close_old_connections() through the sync thread before every
            # message: at 50 media frames a second per call that hop was most of the server's CPU
            # and queued frames behind database writes. `receive` keeps it for non-media events.
            await self.receive(text_data=message.get("text"), bytes_data=message.get("bytes"))
            return
        await super().dispatch(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = protocol.parse_event(text_data)
            handler = getattr(self, f"on_{message['event']}")
            if message["event"] != "media":
                await aclose_old_connections()
            await handler(message)
        except protocol.MalformedFrame as exc:
            log.warning(
                "malformed frame skipped",
                extra={"event": "stream_malformed_frame", "call_sid": self._sid, "why": str(exc)},
            )

    async def disconnect(self, code: int) -> None:
        self.closed = True
        await self._finalize("caller_hangup")

    # --- Twilio's events ------------------------------------------------------------------

    async def on_connected(self, message: dict[str, Any]) -> None:
        log.debug("stream connected", extra={"event": "stream_connected"})

    async def on_start(self, message: dict[str, Any]) -> None:
        if self.call is not None:
            return  # one start per stream; a repeat changes nothing
        start = protocol.parse_start(message)
        try:
            stream_token_check(token=start.token, call_sid=start.call_sid)
        except BadStreamToken as exc:
            log.warning("stream token refused", extra={"event": "stream_bad_token", "why": str(exc)})
            await self._close(protocol.CLOSE_BAD_TOKEN)
            return
        call = await sync_to_async(Call.objects.filter(sid=start.call_sid).first)()
        if call is None:
            await self._close(protocol.CLOSE_UNKNOWN_CALL)
            return
        if call.is_terminal:
            await self._close(protocol.CLOSE_CALL_ENDED)
            return
        self.call = call
        self.stream_sid = start.stream_sid
        self.group = control.call_group(call.sid)
        await self.channel_layer.group_add(self.group, self.channel_name)
        control.stream_register(call.sid, self.channel_name)
        log.info("stream started", extra={"event": "stream_started", "call_sid": call.sid})
        self.pipeline = CallPipeline(
            call=call, stream_sid=start.stream_sid, send=self._send_json, close=self._close_normal
        )
        try:
            await self.pipeline.start()
        except Exception:
            log.exception("pipeline failed to start", extra={"event": "pipeline_error", "call_sid": call.sid})
            await self._close(protocol.CLOSE_INTERNAL_ERROR)
            await self._finalize("internal_error")

    async def on_media(self, message: dict[str, Any]) -> None:
        track, audio = protocol.parse_media(message)
        if self.pipeline is None:
            self._skipped_before_start += 1
            return
        if track == "inbound":
            self.pipeline.on_audio(audio)

    async def on_mark(self, message: dict[str, Any]) -> None:
        name = protocol.parse_mark(message)
        if self.pipeline is not None:
            self.pipeline.on_mark(name)

    async def on_dtmf(self, message: dict[str, Any]) -> None:
        digit = protocol.parse_dtmf(message)
        if self.pipeline is not None:
            self.pipeline.on_dtmf(digit)

    async def on_stop(self, message: dict[str, Any]) -> None:
        await self._finalize("caller_hangup")

    # --- live control from outside (channel layer group `call.<sid>`) -----------------------

    async def call_hangup(self, event: dict[str, Any]) -> None:
        await self._ack(event)
        if self.pipeline is not None:
            # In a task: this consumer must keep reading frames (marks) while the call ends.
            self.pipeline.spawn(self.pipeline.hangup(reason=event.get("reason") or "api_hangup"))

    async def call_transfer(self, event: dict[str, Any]) -> None:
        await self._ack(event)
        if self.pipeline is not None:
            self.pipeline.spawn(self.pipeline.transfer())

    async def _ack(self, event: dict[str, Any]) -> None:
        reply_to = event.get("reply_to")
        if reply_to:
            await self.channel_layer.send(reply_to, {"type": "call.ack", "call_sid": self._sid})

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def _sid(self) -> str:
        return self.call.sid if self.call is not None else ""

    async def _send_json(self, message: dict[str, Any]) -> None:
        if not self.closed:
            await self.send(text_data=json.dumps(message))

    async def _close_normal(self) -> None:
        await self._close(protocol.CLOSE_NORMAL)

    async def _close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            await self.close(code=code)

    async def _finalize(self, reason: str) -> None:
        if self.call is not None:
            control.stream_unregister(self.call.sid)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.pipeline is not None:
            await self.pipeline.finalize(reason=reason)
