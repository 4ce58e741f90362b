"""What every phone line does: place a call, hang it up, hand it to a person.

A line is the phone network's side of a call. Twilio's REST API is one; the simulated line,
which plays Twilio's whole part against our own webhooks and stream, is the other. Code that
starts or ends calls depends only on this Protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from calls.models import Call


class LineError(Exception):
    """The line could not do what was asked (e.g. Twilio rejected the call)."""

    def __init__(self, line: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(f"{line}: {message}")
        self.line = line
        self.status_code = status_code


@runtime_checkable
class PhoneLine(Protocol):
    name: str

    def place(self, call: Call) -> None:
        """Start dialling `call.to_number`; returns once the network has accepted the call.

        Stores the network's own call id with `call_set_provider_sid`. Raises LineError.
        """

    def hangup(self, call: Call) -> None:
        """End the call now; a call that is already over is not an error."""

    def transfer(self, call: Call, to_number: str) -> None:
        """Leave the agent and connect the callee to `to_number` (E.164)."""
