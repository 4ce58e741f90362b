from __future__ import annotations

import pytest

from telephony import twiml as answers
from telephony.lines.twiml import TwimlError, parse


@pytest.mark.django_db
def test_it_reads_our_connect_stream_answer():
    (verb,) = parse(answers.connect_stream(call_sid="CA123", token="tok"))
    assert verb.name == "Connect"
    assert verb.attrs["action"] == "https://voice.example.test/twilio/stream-ended?call=CA123"
    assert verb.stream_url == "wss://voice.example.test/twilio/stream"
    assert verb.parameters == {"call_sid": "CA123", "token": "tok"}


def test_it_reads_dial_and_hangup():
    assert parse(answers.dial("+12025550199"))[0].text == "+12025550199"
    assert parse("<Response><Dial><Number>+12025550199</Number></Dial></Response>")[0].text == "+12025550199"
    assert [v.name for v in parse(answers.hangup())] == ["Hangup"]


@pytest.mark.parametrize(
    "document",
    [
        "not xml",
        "<Twiml/>",
        "<Response><Gather/></Response>",
        "<Response><Connect/></Response>",
        "<Response><Dial/></Response>",
    ],
)
def test_it_refuses_what_our_webhooks_never_answer(document):
    with pytest.raises(TwimlError):
        parse(document)
