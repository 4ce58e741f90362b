"""Every API error has the same shape: {"success": false, "error": ..., "fields": {...}}."""

from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict"
    default_code = "conflict"


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django's 500 handler logs it
    if isinstance(exc, ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = {"success": False, "error": "invalid input", "fields": _flatten(fields)}
    else:
        detail = exc.detail if hasattr(exc, "detail") else str(exc)
        body = {"success": False, "error": str(detail)}
        fields = getattr(exc, "fields", None)
        if fields:
            body["fields"] = fields
    response.data = body
    return response


def _flatten(fields) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in fields.items():
        if isinstance(value, list | tuple):
            out[key] = "; ".join(str(v) for v in value)
        elif isinstance(value, dict):
            for sub, msg in _flatten(value).items():
                out[f"{key}.{sub}"] = msg
        else:
            out[key] = str(value)
    return out
