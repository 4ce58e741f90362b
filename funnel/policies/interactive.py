"""Interactive outbound and inbound calls (seed 000): a greeting, then a conversation. No Django here.

Code checks the override intents (do-not-call, a person, the AI question, goodbye) with the rules
before any model runs, so those answers never depend on the LLM. The rest goes to the chat model with
the seed's system prompt and three tools: `end_call`, `transfer_to_human` and `delegate_to_agent`.

Without a chat model (no key, or LLM_PROVIDER=offline) an offline responder takes the model's place:
it greets, answers the overrides, ends politely on goodbye or "not interested" (a "no" to "anything
else?" included), and otherwise acknowledges and asks whether there is anything else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from funnel import prompts
from funnel.classifier import classify_rules
from funnel.intents import OVERRIDES, Intent
from funnel.policies.agent import AgentClient, AgentError
from funnel.policies.base import (
    CALLER_DNC,
    CALLER_GOODBYE,
    COMPLETED,
    CONTINUE,
    DNC_LINE,
    END,
    HANDOFF,
    HANDOFF_UNCONFIGURED,
    NO_TRANSFER_LINE,
    NOT_INTERESTED,
    SILENCE_LINE,
    SILENCE_TIMEOUT,
    TRANSFER,
    TRANSFER_LINE,
    Decision,
    Turn,
    fixed,
)
from funnel.writers import within
from telephony.providers.base import ChatModel, ProviderError, ToolCall, ToolSpec

GOODBYE_LINE = "Thanks so much for your time! Have a wonderful day!"
ANYTHING_ELSE_LINE = "Got it, thank you. Is there anything else I can help you with?"
AGENT_APOLOGY = "Sorry, I couldn't get that done right now. Is there anything else I can help with?"

END_CALL = ToolSpec("end_call", "Hang up politely once the conversation is over.")
TRANSFER_TO_HUMAN = ToolSpec(
    "transfer_to_human", "Transfer the caller to a human when they ask for a person."
)
DELEGATE_TO_AGENT = ToolSpec(
    "delegate_to_agent",
    "Hand a request that needs tools or memory (tasks, reminders, calendar, messages, look-ups) to the "
    "back-office agent; its answer is read to the caller.",
    {
        "type": "object",
        "properties": {"request": {"type": "string", "description": "What the caller wants, in full."}},
        "required": ["request"],
    },
)


class InteractivePolicy:
    def __init__(
        self,
        *,
        outbound: bool,
        agent_name: str,
        greeting: str = "",
        objective: str = "",
        system_prompt: str = "",
        chat_model: ChatModel | None,
        agent: AgentClient | None,
        handoff_configured: bool,
        timeout: float,
    ) -> None:
        self.outbound = outbound
        self.agent_name = agent_name
        self.greeting = greeting.strip()
        self.objective = objective
        self.system = prompts.interactive_system_prompt(
            agent_name=agent_name, outbound=outbound, objective=objective, custom=system_prompt
        )
        self.chat_model = chat_model
        self.agent = agent
        self.handoff_configured = handoff_configured
        self.timeout = timeout
        self.state = ""
        self.history: list[dict[str, str]] = []

    @property
    def tools(self) -> list[ToolSpec]:
        return [END_CALL, TRANSFER_TO_HUMAN, *([DELEGATE_TO_AGENT] if self.agent else [])]

    def opening(self) -> Turn:
        if self.greeting:
            line = self.greeting
        elif self.outbound:
            line = f"Hi! This is {self.agent_name} calling."
        else:
            line = f"Hi, you've reached {self.agent_name}. How can I help you today?"
        return fixed(Decision(line, "", CONTINUE, "", Intent.ANSWERED.value))

    async def on_utterance(self, text: str) -> Turn:
        intent = classify_rules(text)
        if intent in OVERRIDES:
            return self._override(intent)
        if self.chat_model is None:
            if intent is Intent.NOT_INTERESTED:
                return fixed(Decision(f"Alright. {GOODBYE_LINE}", "", END, NOT_INTERESTED, intent.value))
            return fixed(Decision(ANYTHING_ELSE_LINE, "", CONTINUE, "", intent.value))
        decision = Decision("", "", CONTINUE, "", intent.value)
        return Turn(decision=decision, pieces=[lambda: self._converse(decision)])

    def on_silence(self) -> Turn:
        return fixed(Decision(SILENCE_LINE, "", END, SILENCE_TIMEOUT, Intent.SILENCE.value))

    def _override(self, intent: Intent) -> Turn:
        if intent is Intent.DO_NOT_CALL:
            return fixed(Decision(DNC_LINE, "", END, CALLER_DNC, intent.value))
        if intent is Intent.WANTS_HUMAN:
            return fixed(self._transfer(intent.value))
        if intent is Intent.GOODBYE:
            return fixed(Decision(GOODBYE_LINE, "", END, CALLER_GOODBYE, intent.value))
        follow = "Happy to carry on if that's alright with you." if self.outbound else "How can I help you?"
        return fixed(Decision(f"Yes, I'm an AI assistant. {follow}", "", CONTINUE, "", intent.value))

    def _transfer(self, intent: str) -> Decision:
        if self.handoff_configured:
            return Decision(TRANSFER_LINE, "", TRANSFER, HANDOFF, intent)
        return Decision(NO_TRANSFER_LINE, "", END, HANDOFF_UNCONFIGURED, intent)

    async def _converse(self, decision: Decision) -> AsyncIterator[str | Decision]:
        assert self.chat_model is not None
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.system}, *self.history]
        spoke = False
        stream = self.chat_model.stream(messages, tools=self.tools)
        async for delta in within(stream, self.timeout, self.chat_model.name):
            if delta.text:
                spoke = spoke or bool(delta.text.strip())
                yield delta.text
            elif delta.tool_call is not None:
                async for item in self._tool(delta.tool_call, decision, spoke=spoke):
                    spoke = True
                    yield item
        if not spoke:
            raise ProviderError("llm", self.chat_model.name, "empty answer")

    async def _tool(
        self, call: ToolCall, decision: Decision, *, spoke: bool
    ) -> AsyncIterator[str | Decision]:
        if call.name == END_CALL.name:
            yield Decision("", "", END, COMPLETED, decision.intent)
            if not spoke:
                yield GOODBYE_LINE
        elif call.name == TRANSFER_TO_HUMAN.name:
            moved = self._transfer(decision.intent)
            yield moved
            yield f" {moved.say}"
        elif call.name == DELEGATE_TO_AGENT.name and self.agent is not None:
            request = str(call.arguments.get("request") or self._last_user_text())
            if not spoke:
                yield "One moment. "
            try:
                answer = await self.agent.ask(request, history=self.history, objective=self.objective)
            except AgentError:
                answer = AGENT_APOLOGY
            yield f" {answer}"
        else:
            # A tool we did not offer: the model made it up; carry on without it.
            if not spoke:
                yield ANYTHING_ELSE_LINE

    def _last_user_text(self) -> str:
        return next((m["content"] for m in reversed(self.history) if m["role"] == "user"), "")
