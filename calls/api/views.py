"""REST API: one view per operation, each with its own Input/Output serializers."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import selectors, services
from calls.api.errors import Conflict
from calls.api.serializers import CallSummaryOutput, MessageOutput, duration_seconds
from calls.models import Call, Mode
from calls.phone import InvalidPhoneNumber

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Repeat a start safely: the same key returns the first call, never a second one.",
)


class StartedOutput(serializers.Serializer):
    success = serializers.BooleanField()
    call_sid = serializers.CharField()
    status = serializers.CharField()


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 128:
        raise ValidationError({"Idempotency-Key": "must be at most 128 characters"})
    return key or None


def _start_call(request, **fields) -> Response:
    """Create the call (or return the one this idempotency key already made) and dial it."""
    try:
        result = services.call_start(idempotency_key=_idempotency_key(request), **fields)
    except InvalidPhoneNumber as exc:
        field = "phone" if "phone" in request.data else "to_number"
        raise ValidationError({field: str(exc)}) from None
    except services.CallRejected as exc:
        if exc.status_code == status.HTTP_409_CONFLICT:
            conflict = Conflict(f"{exc.field} {exc.reason}")
            conflict.fields = {exc.field: exc.reason}
            raise conflict from None
        raise ValidationError({exc.field: exc.reason}) from None
    call = result.call
    body = StartedOutput({"success": True, "call_sid": call.sid, "status": call.status}).data
    response = Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
    if not result.created:
        response["Idempotent-Replayed"] = "true"
    return response


class OutboundCallView(APIView):
    """POST /api/call/outbound — place an outbound call (seed 000's body)."""

    class Input(serializers.Serializer):
        to_number = serializers.CharField(max_length=32)
        mode = serializers.ChoiceField(choices=Mode.values, default=Mode.INTERACTIVE)
        user_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
        display_name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
        message = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        greeting = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
        objective = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
        system_prompt = serializers.CharField(max_length=8000, required=False, allow_blank=True, default="")
        callback_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
        script_id = serializers.IntegerField(required=False, allow_null=True, default=None)

        def validate(self, attrs):
            if attrs["mode"] == Mode.SCRIPTED and not attrs["message"].strip():
                raise ValidationError({"message": "is required for scripted calls"})
            return attrs

    @extend_schema(
        request=Input, responses={201: StartedOutput, 200: StartedOutput}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request):
        data = _validated(self.Input, request)
        return _start_call(request, **data)


class StartFunnelCallView(APIView):
    """POST /call/start — start a sales-funnel call (seed 004's body)."""

    class Input(serializers.Serializer):
        phone = serializers.CharField(max_length=32)
        script_id = serializers.IntegerField(required=False, allow_null=True, default=None)
        callback_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
        user_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    @extend_schema(
        request=Input, responses={201: StartedOutput, 200: StartedOutput}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request):
        data = _validated(self.Input, request)
        return _start_call(request, to_number=data.pop("phone"), mode=Mode.FUNNEL, **data)


class CallStatusView(APIView):
    """GET /api/call/{sid}/status — by full sid or a unique prefix of at least 8 characters."""

    class Output(serializers.Serializer):
        success = serializers.BooleanField()
        call_sid = serializers.CharField()
        status = serializers.CharField()
        funnel_state = serializers.CharField()
        end_reason = serializers.CharField()
        duration_seconds = serializers.FloatField(allow_null=True)

    @extend_schema(responses={200: Output})
    def get(self, request, sid: str):
        call = call_from_sid(sid)
        return Response(
            self.Output(
                {
                    "success": True,
                    "call_sid": call.sid,
                    "status": call.status,
                    "funnel_state": call.funnel_state,
                    "end_reason": call.end_reason,
                    "duration_seconds": duration_seconds(call),
                }
            ).data
        )


class ActiveCallsView(APIView):
    """GET /api/calls/active — calls not yet in a terminal state."""

    class Output(serializers.Serializer):
        success = serializers.BooleanField()
        count = serializers.IntegerField()
        calls = CallSummaryOutput(many=True)

    @extend_schema(responses={200: Output})
    def get(self, request):
        calls = list(selectors.calls_active()[:500])
        return Response(self.Output({"success": True, "count": len(calls), "calls": calls}).data)


class CallDetailView(APIView):
    """GET /api/calls/{sid} — the call with its transcript in order."""

    class Output(CallSummaryOutput):
        greeting = serializers.CharField()
        message = serializers.CharField()
        objective = serializers.CharField()
        callback_url = serializers.CharField()
        fallbacks = serializers.DictField()
        transcript = serializers.SerializerMethodField()

        class Meta(CallSummaryOutput.Meta):
            fields = [
                *CallSummaryOutput.Meta.fields,
                "greeting",
                "message",
                "objective",
                "callback_url",
                "fallbacks",
                "transcript",
            ]

        @extend_schema_field(MessageOutput(many=True))
        def get_transcript(self, call: Call):
            return MessageOutput(selectors.call_transcript(call=call), many=True).data

    @extend_schema(responses={200: Output})
    def get(self, request, sid: str):
        return Response(self.Output(call_from_sid(sid)).data)


def _validated(input_class: type[serializers.Serializer], request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": "the body must be a JSON object"})
    serializer = input_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def call_from_sid(sid: str) -> Call:
    """The call a URL names, or the API error that says why not (400, 404, 409)."""
    try:
        return selectors.call_get(sid=sid)
    except selectors.SidTooShort as exc:
        raise ValidationError({"sid": str(exc)}) from None
    except Call.DoesNotExist:
        raise NotFound(f"no call matches {sid!r}") from None
    except selectors.AmbiguousSid as exc:
        conflict = Conflict(f"{sid!r} matches more than one call; give more characters")
        conflict.fields = {"sid": f"ambiguous: matches {', '.join(exc.matches)}"}
        raise conflict from None
