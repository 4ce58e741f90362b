from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest
import respx

from funnel.classifier import LLMClassifier, RuleClassifier, classify_rules, normalize, override_intent
from funnel.intents import Intent
from tests.funnel.openai_fake import COMPLETIONS, chat_model, completed_json, sent

DATA = Path(__file__).with_name("utterances.tsv")


def labelled() -> list[tuple[Intent, str]]:
    rows = []
    for line in DATA.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            label, text = line.split("\t")
            rows.append((Intent(label), text))
    return rows


def test_it_ships_a_labelled_set_of_at_least_150_utterances_covering_every_intent():
    rows = labelled()
    assert len(rows) >= 150
    counts = Counter(label for label, _ in rows)
    assert set(counts) == {
        Intent.INTERESTED,
        Intent.NOT_INTERESTED,
        Intent.UNCLEAR,
        Intent.ASKS_IF_AI,
        Intent.WANTS_HUMAN,
        Intent.DO_NOT_CALL,
        Intent.GOODBYE,
    }
    assert min(counts.values()) >= 10


def test_it_scores_at_least_90_percent_on_the_labelled_set():
    rows = labelled()
    wrong = [(label, text, classify_rules(text)) for label, text in rows if classify_rules(text) != label]
    accuracy = 1 - len(wrong) / len(rows)
    assert accuracy >= 0.90, wrong


@pytest.mark.parametrize("intent", [Intent.DO_NOT_CALL, Intent.WANTS_HUMAN])
def test_it_recalls_at_least_99_percent_of_do_not_call_and_wants_human(intent):
    texts = [text for label, text in labelled() if label is intent]
    missed = [t for t in texts if classify_rules(t) is not intent]
    assert 1 - len(missed) / len(texts) >= 0.99, missed


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("not interested", Intent.NOT_INTERESTED),
        ("Not interested.", Intent.NOT_INTERESTED),
        ("i'm interested", Intent.INTERESTED),
        ("don't call me again", Intent.DO_NOT_CALL),
        ("take me off your list", Intent.DO_NOT_CALL),
        ("not interested and don't call me again", Intent.DO_NOT_CALL),
        ("is this a robot?", Intent.ASKS_IF_AI),
        ("am i talking to a real person", Intent.ASKS_IF_AI),
        ("can I talk to a real person", Intent.WANTS_HUMAN),
        ("yeah sure", Intent.INTERESTED),
        ("I guess", Intent.INTERESTED),
        ("uh huh", Intent.INTERESTED),
        ("i don't know", Intent.UNCLEAR),
        ("i'm not sure", Intent.UNCLEAR),
        ("call me back later", Intent.NOT_INTERESTED),
        ("okay bye", Intent.GOODBYE),
        ("", Intent.UNCLEAR),
        ("uh um", Intent.UNCLEAR),
    ],
)
def test_it_reads_phrases_negation_and_fillers(text, intent):
    assert classify_rules(text) is intent


def test_it_normalizes_asr_text():
    assert normalize("Is this an A.I.?  Really…") == "is this an ai really"
    assert normalize("Don’t CALL") == "don't call"


def test_it_reports_only_override_intents_as_overrides():
    assert override_intent("stop calling me") is Intent.DO_NOT_CALL
    assert override_intent("yes please") is None


async def test_it_classifies_offline_through_the_protocol():
    assert await RuleClassifier().classify("no thanks", state="PITCH") is Intent.NOT_INTERESTED


# --- the LLM classifier against a faked OpenAI endpoint ---------------------------------


@respx.mock
async def test_it_asks_the_llm_with_a_json_schema_and_uses_its_intent():
    route = respx.post(COMPLETIONS).mock(return_value=completed_json({"intent": "interested"}))
    classifier = LLMClassifier(chat_model(), timeout=1)
    # The rules would call this unclear; the model reads it in context.
    assert await classifier.classify("how soon could you install", state="PITCH", question="Sound good?") == (
        Intent.INTERESTED
    )
    body = sent(route)
    assert body["response_format"]["json_schema"]["schema"]["properties"]["intent"]["enum"]
    assert "Sound good?" in body["messages"][-1]["content"]


@respx.mock
async def test_it_takes_do_not_call_and_person_requests_from_the_rules_without_asking_the_llm():
    route = respx.post(COMPLETIONS).mock(return_value=completed_json({"intent": "interested"}))
    classifier = LLMClassifier(chat_model(), timeout=1)
    assert await classifier.classify("take me off your list") is Intent.DO_NOT_CALL
    assert await classifier.classify("let me speak to a human") is Intent.WANTS_HUMAN
    assert not route.called


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"error": {"message": "down"}}),
        httpx.Response(401, json={"error": {"message": "bad key"}}),
        completed_json("not json"),
        completed_json({"intent": "buy_now"}),
        completed_json({"intent": "answered"}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
@respx.mock
async def test_it_falls_back_to_the_rules_on_any_llm_error(failure):
    if isinstance(failure, Exception):
        respx.post(COMPLETIONS).mock(side_effect=failure)
    else:
        respx.post(COMPLETIONS).mock(return_value=failure)
    classifier = LLMClassifier(chat_model(), timeout=1)
    assert await classifier.classify("no thanks") is Intent.NOT_INTERESTED


@respx.mock
async def test_it_falls_back_to_the_rules_when_the_llm_is_slower_than_the_timeout():
    async def slow(request):
        await asyncio.sleep(2)
        return completed_json({"intent": "not_interested"})

    respx.post(COMPLETIONS).mock(side_effect=slow)
    classifier = LLMClassifier(chat_model(timeout=5), timeout=0.1)
    started = asyncio.get_running_loop().time()
    assert await classifier.classify("yeah sure") is Intent.INTERESTED
    assert asyncio.get_running_loop().time() - started < 1
