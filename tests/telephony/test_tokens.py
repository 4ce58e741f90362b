from __future__ import annotations

import pytest
from django.core import signing

from telephony.tokens import BadStreamToken, stream_token_check, stream_token_make


def test_it_accepts_a_token_for_its_own_call_only():
    token = stream_token_make(call_sid="CA1")
    stream_token_check(token=token, call_sid="CA1")
    with pytest.raises(BadStreamToken, match="another call"):
        stream_token_check(token=token, call_sid="CA2")


def test_it_refuses_a_forged_or_missing_token():
    for token in (
        "",
        "CA1",
        signing.dumps({"call": "CA1"}, salt="other-salt"),
        stream_token_make(call_sid="CA1")[:-2],
    ):
        with pytest.raises(BadStreamToken):
            stream_token_check(token=token, call_sid="CA1")


def test_it_refuses_an_expired_token(settings, monkeypatch):
    token = stream_token_make(call_sid="CA1")
    settings.STREAM_TOKEN_TTL_SECONDS = 10
    real = signing.TimestampSigner.unsign

    def later(self, value, max_age=None):  # the clock 11 s on
        return real(self, value, max_age=None if max_age is None else max_age - 11)

    monkeypatch.setattr(signing.TimestampSigner, "unsign", later)
    with pytest.raises(BadStreamToken, match="expired"):
        stream_token_check(token=token, call_sid="CA1")
