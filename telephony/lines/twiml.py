"""Reading TwiML the way Twilio does, for the simulated line: the verbs in order.

Only what our webhooks answer with is understood (Say, Pause, Connect/Stream, Dial, Hangup,
Reject, Redirect); anything else is an error, so a webhook that drifts from the contract
fails loudly in tests instead of being silently skipped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

KNOWN_VERBS = frozenset({"Say", "Pause", "Connect", "Dial", "Hangup", "Reject", "Redirect"})


class TwimlError(ValueError):
    pass


@dataclass(frozen=True)
class Verb:
    name: str
    text: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    # <Connect><Stream>: the stream's URL and its <Parameter>s.
    stream_url: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


def parse(document: str) -> list[Verb]:
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise TwimlError(f"not XML: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(f"root element is <{root.tag}>, expected <Response>")
    return [_verb(element) for element in root]


def _verb(element: ET.Element) -> Verb:
    if element.tag not in KNOWN_VERBS:
        raise TwimlError(f"unsupported verb <{element.tag}>")
    attrs = dict(element.attrib)
    if element.tag == "Connect":
        stream = element.find("Stream")
        if stream is None or not stream.get("url"):
            raise TwimlError("<Connect> without a <Stream url=…>")
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return Verb("Connect", attrs=attrs, stream_url=stream.get("url", ""), parameters=parameters)
    if element.tag == "Dial":
        # <Dial>+1555…</Dial> or <Dial><Number>+1555…</Number></Dial>
        number = element.find("Number")
        text = (number.text if number is not None else element.text) or ""
        if not text.strip():
            raise TwimlError("<Dial> without a number")
        return Verb("Dial", text=text.strip(), attrs=attrs)
    return Verb(element.tag, text=(element.text or "").strip(), attrs=attrs)
