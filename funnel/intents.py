"""What a caller's turn means to the funnel. No Django here."""

from __future__ import annotations

from enum import StrEnum


class Intent(StrEnum):
    # Events the engine gets from code, never from a classifier.
    ANSWERED = "answered"
    SILENCE = "silence"
    # What a classifier reads in a caller's utterance.
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    UNCLEAR = "unclear"
    # Overrides: checked before anything else, in every mode (seed 004's table).
    ASKS_IF_AI = "asks_if_ai"
    WANTS_HUMAN = "wants_human"
    DO_NOT_CALL = "do_not_call"
    GOODBYE = "goodbye"


# What a classifier may answer, in the order the rules check them (first match wins).
CLASSIFIED: tuple[Intent, ...] = (
    Intent.DO_NOT_CALL,
    Intent.WANTS_HUMAN,
    Intent.ASKS_IF_AI,
    Intent.GOODBYE,
    Intent.NOT_INTERESTED,
    Intent.INTERESTED,
    Intent.UNCLEAR,
)

OVERRIDES: frozenset[Intent] = frozenset(
    {Intent.ASKS_IF_AI, Intent.WANTS_HUMAN, Intent.DO_NOT_CALL, Intent.GOODBYE}
)
