"""Typed readers for environment settings that fail loudly, naming the variable.

django-environ parses; these helpers add the range and format checks it lacks so a bad
value stops the process at start with ``ImproperlyConfigured`` instead of surfacing mid-call.
"""

from __future__ import annotations

from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def _fail(name: str, value: object, why: str) -> ImproperlyConfigured:
    # Never echo the value of a secret; the names below are not secrets.
    return ImproperlyConfigured(f"{name}={value!r} is invalid: {why}")


def str_var(name: str, default: str = "") -> str:
    return env.str(name, default=default).strip()


def bool_var(name: str, default: bool) -> bool:
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise _fail(name, raw, "expected true/false")


def float_var(name: str, default: float, *, minimum: float, maximum: float) -> float:
    raw = env.str(name, default="").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _fail(name, raw, "expected a number") from None
    if not minimum <= value <= maximum:
        raise _fail(name, raw, f"expected a number from {minimum} to {maximum}")
    return value


def int_var(name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.str(name, default="").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _fail(name, raw, "expected a whole number") from None
    if not minimum <= value <= maximum:
        raise _fail(name, raw, f"expected a whole number from {minimum} to {maximum}")
    return value


def url_var(name: str, default: str = "", *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    raw = env.str(name, default=default).strip()
    if raw == "":
        return ""
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise _fail(name, raw, f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return raw.rstrip("/")


def choice_var(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.str(name, default=default).strip().lower() or default
    if raw not in choices:
        raise _fail(name, raw, f"expected one of {', '.join(choices)}")
    return raw


def phone_var(name: str, region: str) -> str:
    """An optional phone number, stored as E.164."""
    raw = env.str(name, default="").strip()
    if raw == "":
        return ""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise _fail(name, raw, "not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise _fail(name, raw, "not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def region_var(name: str, default: str) -> str:
    import phonenumbers

    raw = env.str(name, default=default).strip().upper() or default
    if raw not in phonenumbers.SUPPORTED_REGIONS:
        raise _fail(name, raw, "expected a two-letter region code such as US or GB")
    return raw
