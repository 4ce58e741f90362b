"""The six-state sales funnel: code decides where the call goes. No Django import.

    INIT -> INTRO -> QUALIFY -> PITCH -> CLOSE -> END

- INIT -> INTRO when the call is answered (`Intent.ANSWERED`).
- `interested` moves one step forward; `interested` in CLOSE is a conversion and ends the call.
- `not_interested`, `do_not_call`, `wants_human`, `goodbye` and `silence` go to END from any live state.
- `asks_if_ai` keeps the state (the agent confirms it is an AI and carries on).
- `unclear` keeps the state and the agent re-asks, **at most twice** (`MAX_REASKS`) in one state.
  A third unclear answer in a row ends the call (end reason `unclear`) instead of moving on: pushing
  the pitch on someone we cannot understand is worse for the caller than a polite goodbye, and a
  funnel that advances on noise would log conversions that never happened.

Anything else — an utterance before the call was answered, anything after END — is an
`InvalidTransition`.
"""

from __future__ import annotations

from enum import StrEnum

from funnel.intents import Intent

MAX_REASKS = 2


class State(StrEnum):
    INIT = "INIT"
    INTRO = "INTRO"
    QUALIFY = "QUALIFY"
    PITCH = "PITCH"
    CLOSE = "CLOSE"
    END = "END"


class InvalidTransition(ValueError):
    def __init__(self, state: State, intent: Intent) -> None:
        super().__init__(f"no transition from {state} on {intent}")
        self.state = state
        self.intent = intent


LIVE_STATES: tuple[State, ...] = (State.INTRO, State.QUALIFY, State.PITCH, State.CLOSE)
_NEXT: dict[State, State] = {
    State.INTRO: State.QUALIFY,
    State.QUALIFY: State.PITCH,
    State.PITCH: State.CLOSE,
    State.CLOSE: State.END,
}
_TO_END = (Intent.NOT_INTERESTED, Intent.DO_NOT_CALL, Intent.WANTS_HUMAN, Intent.GOODBYE, Intent.SILENCE)


def _build_table() -> dict[tuple[State, Intent], State]:
    table: dict[tuple[State, Intent], State] = {(State.INIT, Intent.ANSWERED): State.INTRO}
    for state in LIVE_STATES:
        table[(state, Intent.INTERESTED)] = _NEXT[state]
        table[(state, Intent.UNCLEAR)] = state
        table[(state, Intent.ASKS_IF_AI)] = state
        for intent in _TO_END:
            table[(state, intent)] = State.END
    return table


TRANSITIONS: dict[tuple[State, Intent], State] = _build_table()


def advance(state: State | str, intent: Intent | str, *, reasks: int = 0) -> State:
    """The next state. `reasks` is how many times the agent already re-asked in `state`."""
    state, intent = State(state), Intent(intent)
    try:
        target = TRANSITIONS[(state, intent)]
    except KeyError:
        raise InvalidTransition(state, intent) from None
    if intent is Intent.UNCLEAR and reasks >= MAX_REASKS:
        return State.END
    return target
