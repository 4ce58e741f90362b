"""Twilio's REST API faked at twilio's own HttpClient seam (respx cannot see the requests it makes)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from twilio.http import HttpClient
from twilio.http.response import Response

TWILIO_SID = "CA" + "f" * 32


@dataclass
class FakeTwilioHttp(HttpClient):
    """Records every request; answers with the queued (status, body) pairs, else a created call."""

    answers: list[tuple[int, dict]] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(logger=None, is_async=False)

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, **kwargs):
        self.requests.append({"method": method, "uri": uri, "data": data or {}, "auth": auth})
        status, body = self.answers.pop(0) if self.answers else (201, {"sid": TWILIO_SID, "status": "queued"})
        return Response(status, json.dumps(body))
