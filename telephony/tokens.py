"""The signed, expiring token that lets a media stream speak for one call.

Twilio cannot authenticate a WebSocket, so the TwiML that opens the stream carries this
token as a `<Parameter>`; the consumer checks it in `start` before anything else.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

SALT = "telephony.stream-token"


class BadStreamToken(Exception):
    """The stream token is missing, forged, expired or for another call."""


def stream_token_make(*, call_sid: str) -> str:
    return signing.dumps({"call": call_sid}, salt=SALT)


def stream_token_check(*, token: str, call_sid: str) -> None:
    """Raise BadStreamToken unless `token` was made for `call_sid` within the TTL."""
    if not token or not call_sid:
        raise BadStreamToken("missing")
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.STREAM_TOKEN_TTL_SECONDS)
    except signing.SignatureExpired:
        raise BadStreamToken("expired") from None
    except signing.BadSignature:
        raise BadStreamToken("invalid") from None
    if not isinstance(data, dict) or data.get("call") != call_sid:
        raise BadStreamToken("for another call")
