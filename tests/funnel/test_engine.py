from __future__ import annotations

import ast
from pathlib import Path

import pytest

from funnel.engine import LIVE_STATES, MAX_REASKS, TRANSITIONS, InvalidTransition, State, advance
from funnel.intents import Intent

EXPECTED = {
    (State.INIT, Intent.ANSWERED): State.INTRO,
    (State.INTRO, Intent.INTERESTED): State.QUALIFY,
    (State.QUALIFY, Intent.INTERESTED): State.PITCH,
    (State.PITCH, Intent.INTERESTED): State.CLOSE,
    (State.CLOSE, Intent.INTERESTED): State.END,
    **{(s, Intent.UNCLEAR): s for s in LIVE_STATES},
    **{(s, Intent.ASKS_IF_AI): s for s in LIVE_STATES},
    **{
        (s, i): State.END
        for s in LIVE_STATES
        for i in (
            Intent.NOT_INTERESTED,
            Intent.DO_NOT_CALL,
            Intent.WANTS_HUMAN,
            Intent.GOODBYE,
            Intent.SILENCE,
        )
    },
}


@pytest.mark.parametrize(("state", "intent", "target"), [(s, i, t) for (s, i), t in EXPECTED.items()])
def test_it_follows_every_transition_of_the_table(state, intent, target):
    assert advance(state, intent) is target


def test_it_has_no_transition_beyond_the_documented_ones():
    assert TRANSITIONS == EXPECTED


INVALID = [(s, i) for s in State for i in Intent if (s, i) not in EXPECTED]


@pytest.mark.parametrize(("state", "intent"), INVALID)
def test_it_raises_on_an_invalid_transition(state, intent):
    with pytest.raises(InvalidTransition):
        advance(state, intent)


def test_it_rejects_anything_after_the_end_and_speech_before_the_answer():
    with pytest.raises(InvalidTransition, match="END"):
        advance(State.END, Intent.INTERESTED)
    with pytest.raises(InvalidTransition, match="INIT"):
        advance(State.INIT, Intent.NOT_INTERESTED)


@pytest.mark.parametrize("state", LIVE_STATES)
def test_it_reasks_twice_then_ends_on_the_third_unclear_answer(state):
    assert MAX_REASKS == 2
    assert advance(state, Intent.UNCLEAR, reasks=0) is state
    assert advance(state, Intent.UNCLEAR, reasks=1) is state
    assert advance(state, Intent.UNCLEAR, reasks=2) is State.END


def test_it_accepts_plain_strings_as_stored_in_the_database():
    assert advance("QUALIFY", "interested") is State.PITCH


def test_it_imports_nothing_from_django():
    tree = ast.parse(Path("funnel/engine.py").read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m and m.startswith("django")]
