"""Hang up or transfer a live call: POST /api/call/{sid}/hangup and /api/call/{sid}/transfer."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls.api.errors import Conflict
from calls.api.views import call_from_sid
from calls.models import Call
from telephony import control


class LiveControlOutput(serializers.Serializer):
    success = serializers.BooleanField()
    call_sid = serializers.CharField()
    status = serializers.CharField()
    via = serializers.ChoiceField(
        choices=["stream", "line"],
        help_text="stream: the consumer holding the live stream acted; line: the phone line did",
    )


def _answer(call: Call, via: str) -> Response:
    call.refresh_from_db()
    return Response(
        LiveControlOutput({"success": True, "call_sid": call.sid, "status": call.status, "via": via}).data
    )


class CallHangupView(APIView):
    """POST /api/call/{sid}/hangup — end a call now; what was said so far is kept."""

    @extend_schema(request=None, responses={200: LiveControlOutput})
    def post(self, request: Request, sid: str) -> Response:
        call = call_from_sid(sid)
        try:
            via = control.call_hangup(call=call)
        except control.LiveControlRefused as exc:
            raise Conflict(exc.reason) from None
        return _answer(call, via)


class CallTransferView(APIView):
    """POST /api/call/{sid}/transfer — say so, then connect the caller to HANDOFF_NUMBER."""

    @extend_schema(request=None, responses={200: LiveControlOutput})
    def post(self, request: Request, sid: str) -> Response:
        call = call_from_sid(sid)
        try:
            via = control.call_transfer(call=call)
        except control.LiveControlRefused as exc:
            raise Conflict(exc.reason) from None
        return _answer(call, via)
