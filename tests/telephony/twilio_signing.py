"""Webhook requests signed the way Twilio (or the simulated line) signs them."""

from __future__ import annotations

from django.conf import settings
from twilio.request_validator import RequestValidator


def signature(path: str, params: dict[str, str], token: str | None = None) -> str:
    url = settings.PUBLIC_BASE_URL + path
    return RequestValidator(token or settings.SIMULATED_AUTH_TOKEN).compute_signature(url, params)


def signed_post(client, path: str, params: dict[str, str], *, token: str | None = None):
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature(path, params, token))
