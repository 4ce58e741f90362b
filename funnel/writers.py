"""Line writers: they word the line code already chose. No Django here.

The offline writer fills per-state templates from the script; the LLM writer asks a chat model for
one or two short spoken sentences and streams them. Both are called only after the policy decided
where the call goes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from funnel import prompts
from funnel.prompts import ScriptLines
from telephony.providers.base import ChatModel, ProviderError, ProviderTimeout

LineKind = Literal["state", "reask", "ai"]
T = TypeVar("T")


@dataclass(frozen=True)
class LineRequest:
    state: str  # INTRO, QUALIFY, PITCH or CLOSE: the step this line belongs to
    script: ScriptLines
    kind: LineKind = "state"  # the step's own line, a re-ask, or the question after "yes, I'm an AI"
    attempt: int = 0  # which re-ask this is (1, 2)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def goal(self) -> str:
        if self.kind == "reask":
            return prompts.REASK_GOAL
        if self.kind == "ai":
            return prompts.AI_GOAL
        return prompts.STATE_GOALS[self.state]


@runtime_checkable
class LineWriter(Protocol):
    name: str

    def write(self, request: LineRequest) -> AsyncIterator[str]:
        """Text chunks of the line; raises ProviderError / ProviderTimeout."""


def state_question(state: str, script: ScriptLines) -> str:
    """The question a step asks; re-asks and the classifier's context use it."""
    return {
        "INTRO": f"Do you have a quick minute to hear about {script.product}?",
        "QUALIFY": script.qualifying_question,
        "PITCH": "Does that sound like something you'd be interested in?",
        "CLOSE": script.closing_offer,
    }.get(state, "")


def offline_line(request: LineRequest) -> str:
    s, state = request.script, request.state
    question = state_question(state, s)
    if request.kind == "ai":
        return question
    if request.kind == "reask":
        if request.attempt <= 1:
            return f"Sorry, I didn't quite catch that. {question}"
        return f"Let me put it another way. {question}"
    return {
        "INTRO": (
            f"Hi, this is {s.agent_name} from {s.company}. I'm calling about {s.product}. "
            "Do you have a quick minute?"
        ),
        "QUALIFY": f"Great, thanks. {s.qualifying_question}",
        "PITCH": f"{s.pitch} {question}",
        "CLOSE": s.closing_offer,
    }[state]


class OfflineWriter:
    name = "offline"

    async def write(self, request: LineRequest) -> AsyncIterator[str]:
        yield offline_line(request)


class LLMWriter:
    """Streams the line from a chat model (OpenAI in production).

    `timeout` bounds the wait for each chunk, the first one included; a bound on the whole line
    would also count the time the caller spends listening to the sentences already streamed.
    """

    name = "llm"

    def __init__(self, chat_model: ChatModel, *, timeout: float) -> None:
        self.chat_model = chat_model
        self.timeout = timeout

    async def write(self, request: LineRequest) -> AsyncIterator[str]:
        messages = prompts.writer_messages(
            script=request.script, state=request.state, goal=request.goal, history=request.history
        )
        wrote = False
        async for delta in within(self.chat_model.stream(messages), self.timeout, self.chat_model.name):
            if delta.text:
                wrote = wrote or bool(delta.text.strip())
                yield delta.text
        if not wrote:
            raise ProviderError("llm", self.chat_model.name, "empty line")


async def within(stream: AsyncIterator[T], timeout: float, provider: str) -> AsyncIterator[T]:
    """`stream`'s items, each one due within `timeout` seconds (ProviderTimeout otherwise)."""
    try:
        while True:
            try:
                item = await asyncio.wait_for(anext(stream), timeout)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise ProviderTimeout("llm", provider, "timed out") from exc
            yield item
    finally:
        await _aclose(stream)


async def _aclose(stream: AsyncIterator[Any]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


# A sentence ends at . ! or ? followed by a space; "1.50" and "Mr.Smith" stay whole.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(buffer: str) -> tuple[list[str], str]:
    """Complete sentences in `buffer`, and the unfinished rest."""
    parts = _SENTENCE_END.split(buffer)
    done = [p.strip() for p in parts[:-1] if p.strip()]
    return done, parts[-1]
