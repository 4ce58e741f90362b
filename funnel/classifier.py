"""Intent classifiers: offline rules, and an LLM one that falls back to the rules. No Django here.

The rules are ordered by what must never be missed: a do-not-call request or a wish for a person
beats everything else in the same utterance ("not interested, and don't call me again" is do-not-call).
"""

from __future__ import annotations

import asyncio
import re
from typing import Protocol, runtime_checkable

from funnel import prompts
from funnel.intents import CLASSIFIED, OVERRIDES, Intent
from telephony.providers.base import ChatModel, ProviderError
from voiceagent.logging import get_logger

log = get_logger("funnel.classifier")


@runtime_checkable
class IntentClassifier(Protocol):
    name: str

    async def classify(self, text: str, *, state: str = "", question: str = "") -> Intent:
        """The caller's intent; `state`/`question` say what the agent just asked. Never raises."""


# "uh huh" and "mhm" are a yes on the phone, so they are not fillers.
_FILLERS = re.compile(r"\b(?<!uh )(?:uh+(?! huh)|um+|erm|er|ah+|hmm+|mm+|like|well|so|oh)\b")


def normalize(text: str) -> str:
    """Lower case, no punctuation, contractions kept ("don't"), single spaces."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"\ba\.?\s?i\b\.?", "ai", text)  # "a i", "a.i." -> "ai" as ASR spells it
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def _any(*words: str) -> str:
    return "(?:" + "|".join(words) + ")"


_PERSON = r"(?:real |actual |live |human |a real |an actual )?" + _any(
    "person", "human", "humans", "people", "somebody", "someone", "anyone", "anybody", "agent",
    "representative", "rep", "operator", "manager", "supervisor", "owner", "boss",
)  # fmt: skip
_ROBOT = _any(
    "robot", "bot", "ai", "machine", "computer", "recording", "automated", "artificial intelligence",
    "real person", "real", "human", "person", "live person", "recorded",
)  # fmt: skip
_YES = _any(
    "uh huh", "mhm", "yes", "yeah", "yep", "yup", "ya", "yah", "sure", "okay", "ok", "alright",
    "all right", "absolutely", "definitely", "of course", "certainly", "go ahead", "go for it",
)  # fmt: skip

RULES: dict[Intent, re.Pattern[str]] = {
    Intent.DO_NOT_CALL: _rx(
        r"\b(?:don't|do not|never|dont) (?:ever )?(?:call|contact|ring|phone)\b",
        r"\b(?:stop|quit|cease) (?:calling|contacting|ringing|phoning)\b",
        r"\b(?:take|remove|delete|scratch|cross|drop) "
        r"(?:me|us|my number|our number|this number|my name)\b.*\b(?:off|from|list)\b",
        r"\b(?:remove|delete|lose|forget) (?:my|this|our) (?:number|phone number)\b",
        r"\bdo not call (?:list|registry)\b",
        r"\b(?:no|don't want any|don't want) (?:more|further) calls\b",
        r"\bkeep calling\b",
        r"\bunsubscribe\b",
    ),
    Intent.WANTS_HUMAN: _rx(
        rf"\b(?:talk|speak|chat) (?:to|with) (?:a |an |your |the |some )?{_PERSON}\b",
        rf"\b(?:transfer|connect|put|patch|get) (?:me )?(?:through )?(?:to |with )"
        rf"(?:a |an |your |the )?{_PERSON}\b",
        r"\b(?:transfer|connect) me\b",
        rf"\b(?:get|give|want|need|find) (?:me )?(?:a |an |your )?{_PERSON}\b(?! (?:or|calling))",
        rf"\b(?:is there|isn't there) (?:a |an )?{_PERSON}\b",
        rf"\b(?:get|put) (?:a |an )?{_PERSON} on\b",
        r"^(?:an? )?(?:operator|representative|agent|human|real person|live agent|person)(?: please)?$",
    ),
    Intent.ASKS_IF_AI: _rx(
        r"\b(?:are you|is this|is that|am i (?:talking|speaking) (?:to|with)|you) "
        rf"(?:a |an |like a |like an |just a |even a )?(?:real )?{_ROBOT}\b",
        rf"\bis this (?:a |an )?(?:real person|{_ROBOT})\b",
        r"\b(?:you sound like|are you) (?:a |an )?(?:robot|computer|machine|bot)\b",
        r"\bare you real\b",
        r"\b(?:you're|you are) (?:a |an |just a )?(?:robot|bot|ai|machine|computer|recording)\b",
        r"\bwho am i talking to\b.*\b(?:robot|computer|machine|ai)\b",
    ),
    Intent.GOODBYE: _rx(
        r"\b(?:bye|goodbye|bye bye|see ya|take care|gotta go|got to go|have to go|hanging up|hang up)\b",
        r"\b(?:talk to you|see you|catch you) later\b|^later$",
    ),
    Intent.NOT_INTERESTED: _rx(
        r"\bnot (?:\w+ )?interested\b",
        r"^(?:no|nope|nah|no no)\b",
        r"\bno (?:thanks|thank you|way)\b",
        r"\bnot "
        + _any("really", "right now", "now", "today", "for me", "a good time", "the homeowner", "looking")
        + r"\b",
        r"\bnot (?:buying|at this time|at the moment)\b",
        r"\b(?:i'm|we're|i am|we are) (?:good|all set|fine|set|okay) (?:thanks|thank you)?$",
        r"\b(?:i'm|we're) (?:all set|busy|at work)\b",
        r"\b(?:i|we) (?:don't|do not|dont) (?:think so|want|need|own)\b",
        r"\bisn't a good time\b|\bbad time\b",
        r"\b(?:i'll|i will|we'll) pass\b|\bpass on\b",
        r"\b(?:we|i) (?:rent|already have)\b",
        r"\bprobably not\b|\bcan't talk\b|\brather not\b|^(?:yeah|yes) no\b",
        r"\bcall (?:me |us )?back (?:later|tomorrow|another time|some other time)\b",
    ),
    Intent.INTERESTED: _rx(
        rf"\b{_YES}\b",
        r"\b(?:sounds|that's|that is|that'd be|that would be) (?:good|great|fine|interesting|fair|perfect)\b",
        r"\b(?:tell me more|i'm interested|i am interested|interested|sign me up|book it|let's do)\b",
        r"\b(?:i|we) (?:guess|do|own|have|would|'d like|like that)\b",
        r"\bwhy not\b|\bgo on\b|\bthat works\b|\bcould work\b|\bi'd like\b|\bi have a minute\b|\bi've got\b",
    ),
}

# Doubt beats a bare "no"/"yes": "i don't know" and "not sure" are unclear, not a refusal.
_UNSURE = _rx(
    r"\b(?:not sure|don't know|dont know|no idea|maybe|depends|let me think|hold on|hang on)\b",
    r"^(?:sorry )?(?:what|huh|pardon|come again|hello)\b",
    r"^sorry$",
    r"\b(?:repeat|say that again|didn't catch|can't hear|cannot hear)\b",
    r"\b(?:who is this|who's calling|what's this)\b",
)


def classify_rules(text: str) -> Intent:
    """The offline classifier's answer for one utterance."""
    norm = normalize(text)
    norm_nofill = re.sub(r"\s+", " ", _FILLERS.sub(" ", norm)).strip()
    if not norm_nofill:
        return Intent.UNCLEAR
    for intent in CLASSIFIED:
        if intent is Intent.NOT_INTERESTED and _UNSURE.search(norm_nofill):
            return Intent.UNCLEAR
        pattern = RULES.get(intent)
        if pattern is not None and (pattern.search(norm_nofill) or pattern.search(norm)):
            return intent
    return Intent.UNCLEAR


def override_intent(text: str) -> Intent | None:
    """The override the rules find in `text` (do-not-call, person, AI question, goodbye), else None."""
    intent = classify_rules(text)
    return intent if intent in OVERRIDES else None


class RuleClassifier:
    name = "rules"

    async def classify(self, text: str, *, state: str = "", question: str = "") -> Intent:
        return classify_rules(text)


class LLMClassifier:
    """Asks a chat model for one intent as JSON; the rules answer on any error or timeout.

    Overrides the rules already see (do-not-call, a person, the AI question) are taken from the
    rules without asking: they must not depend on a network round trip.
    """

    name = "llm"

    def __init__(self, chat_model: ChatModel, *, timeout: float) -> None:
        self.chat_model = chat_model
        self.timeout = timeout

    async def classify(self, text: str, *, state: str = "", question: str = "") -> Intent:
        ruled = classify_rules(text)
        if ruled in (Intent.DO_NOT_CALL, Intent.WANTS_HUMAN, Intent.ASKS_IF_AI):
            return ruled
        messages = prompts.classifier_messages(text, state=state, question=question)
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self.chat_model.complete_json(messages, schema=prompts.CLASSIFIER_SCHEMA)
            intent = Intent(str(answer.get("intent", "")))
            if intent not in CLASSIFIED:
                raise ValueError(f"not a classifier intent: {intent}")
            return intent
        except (ProviderError, TimeoutError, ValueError, AttributeError) as exc:
            log.warning(
                "llm classifier failed, using rules",
                extra={"event": "classifier_fallback", "error": exc.__class__.__name__},
            )
            return ruled
