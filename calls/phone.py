"""Phone numbers: any format in, E.164 out, with a reason when it can't be one."""

from __future__ import annotations

import phonenumbers
from django.conf import settings


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(raw: str, *, region: str | None = None) -> str:
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("a phone number is required")
    if len(text) > 32:
        raise InvalidPhoneNumber("too long to be a phone number")
    try:
        parsed = phonenumbers.parse(text, region or settings.DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number ({exc._msg.rstrip('.')})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber("not a possible phone number (wrong length)")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("not a valid phone number (no such number range)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
