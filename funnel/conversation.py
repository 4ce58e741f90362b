"""One conversation per call: the policy decides, this applies the decision to the Call and persists turns.

The telephony pipeline and the text driver use it the same way (see docs/architecture.md,
"Conversation contract"). It is the only part of the funnel that touches the database.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from calls import services
from calls.models import Call, Direction, Message, Mode, Role, Status
from funnel.classifier import IntentClassifier, classify_rules
from funnel.defaults import default_chat_model, default_classifier, default_writer
from funnel.engine import State
from funnel.intents import Intent
from funnel.policies import Decision, FunnelPolicy, InteractivePolicy, Policy, Reply, ScriptedPolicy, Turn
from funnel.policies.agent import AgentClient
from funnel.policies.base import LLM_ERROR, TRANSFER
from funnel.prompts import ScriptLines
from funnel.selectors import script_get_default
from funnel.writers import LineWriter
from telephony.providers.base import ChatModel
from voiceagent.logging import get_logger

log = get_logger("funnel")
_DEFAULT: Any = object()


class ConversationError(RuntimeError):
    """The conversation was used out of order (an utterance before the opening line)."""


class Conversation:
    def __init__(self, call: Call, policy: Policy) -> None:
        self.call = call
        self.policy = policy
        self.is_funnel = call.mode == Mode.FUNNEL
        self.finished = False
        self._opened = False
        self._last = Decision("", policy.state, "continue")

    @property
    def state(self) -> str:
        return self.policy.state

    @classmethod
    async def start(
        cls,
        call: Call,
        *,
        classifier: IntentClassifier | None = None,
        writer: LineWriter | None = None,
        chat_model: ChatModel | None = _DEFAULT,
        agent: AgentClient | None = _DEFAULT,
    ) -> Conversation:
        """The conversation for `call`, its policy picked from the call's mode and direction.

        Anything not injected is built from settings: `chat_model=None` forces offline.
        """
        script = await sync_to_async(_script_lines)(call)
        if chat_model is _DEFAULT:
            chat_model = default_chat_model()
        policy: Policy
        if call.mode == Mode.FUNNEL:
            policy = FunnelPolicy(
                script=script,
                classifier=classifier or default_classifier(chat_model),
                writer=writer or default_writer(chat_model),
                handoff_configured=bool(settings.HANDOFF_NUMBER),
            )
            await sync_to_async(services.call_set_funnel_state)(call=call, state=State.INIT)
        elif call.mode == Mode.SCRIPTED:
            policy = ScriptedPolicy(message=call.message)
        else:
            if agent is _DEFAULT:
                agent = _default_agent(call)
            policy = InteractivePolicy(
                outbound=call.direction == Direction.OUTBOUND,
                agent_name=script.agent_name,
                greeting=call.greeting,
                objective=call.objective,
                system_prompt=call.system_prompt,
                chat_model=chat_model,
                agent=agent,
                handoff_configured=bool(settings.HANDOFF_NUMBER),
                timeout=settings.LLM_TIMEOUT_SECONDS,
            )
        return cls(call, policy)

    async def opening(self) -> Reply:
        if self._opened:
            raise ConversationError("the conversation has already opened")
        self._opened = True
        return await self._reply(self.policy.opening(), time.monotonic())

    async def on_utterance(self, text: str, stt_ms: int | None = None) -> Reply:
        """Decide the answer to one caller utterance; the caller's Message is saved before this returns."""
        started = time.monotonic()
        if not self._opened:
            raise ConversationError("opening() comes before the caller's first utterance")
        state_before = self.policy.state
        if self.finished:
            # Words after the end still go on the record (and a do-not-call still counts).
            intent = classify_rules(text).value
            turn = Turn(decision=replace(self._last, say="", intent=intent), from_state=state_before)
        else:
            self.policy.history.append({"role": "user", "content": text})
            turn = await self.policy.on_utterance(text)
        await sync_to_async(services.message_append)(
            call=self.call,
            role=Role.USER,
            text=text,
            funnel_state=state_before,
            intent=turn.decision.intent,
            stt_ms=stt_ms,
        )
        if self.finished:
            await self._apply(turn.from_state, turn.decision, transition=False)
            return Reply(turn, started=started)
        return await self._reply(turn, started)

    async def on_silence(self) -> Reply:
        started = time.monotonic()
        if self.finished:
            return Reply(Turn(decision=replace(self._last, say="")), started=started)
        return await self._reply(self.policy.on_silence(), started)

    async def record_reply(
        self,
        reply: Reply,
        heard: str | None = None,
        interrupted: bool = False,
        tts_first_byte_ms: int | None = None,
        turn_ms: int | None = None,
    ) -> Message | None:
        """Persist the agent's line as the caller heard it (`heard=None`: all of it). None if it was empty."""
        text = (reply.text if heard is None else heard).strip()
        if not text and not interrupted:
            return None
        self.policy.history.append({"role": "assistant", "content": text})
        return await sync_to_async(services.message_append)(
            call=self.call,
            role=Role.ASSISTANT,
            text=text,
            funnel_state=reply.decision.next_state,
            intent=reply.decision.intent,
            interrupted=interrupted,
            llm_ms=reply.llm_ms,
            tts_first_byte_ms=tts_first_byte_ms,
            turn_ms=turn_ms,
        )

    # --- applying decisions ---------------------------------------------------------------

    async def _reply(self, turn: Turn, started: float) -> Reply:
        await self._apply(turn.from_state, turn.decision)
        return Reply(turn, started=started, on_decision=self._changed)

    async def _changed(self, previous: Decision, decision: Decision) -> None:
        """A decision changed while the line streamed: a tool call, or the writer failed."""
        if self.is_funnel:
            self.policy.state = decision.next_state
        await self._apply(
            previous.next_state, decision, transition=decision.next_state != previous.next_state
        )

    async def _apply(self, from_state: str, decision: Decision, *, transition: bool = True) -> None:
        self._last = decision
        call = self.call
        if self.is_funnel and transition:
            log.info(
                "funnel transition",
                extra={
                    "event": "funnel_transition",
                    "call_sid": call.sid,
                    "from": from_state,
                    "to": decision.next_state,
                    "intent": decision.intent,
                },
            )
            if decision.next_state != call.funnel_state:
                await sync_to_async(services.call_set_funnel_state)(call=call, state=decision.next_state)
        if decision.intent == Intent.DO_NOT_CALL:
            await sync_to_async(_add_do_not_call)(call)
        if not decision.final:
            return
        self.finished = True
        if decision.end_reason:
            await sync_to_async(services.call_set_end_reason)(call=call, end_reason=decision.end_reason)
        if decision.end_reason == LLM_ERROR:
            await sync_to_async(services.call_set_status)(
                call=call, status=Status.FAILED, end_reason=LLM_ERROR
            )
        elif decision.action == TRANSFER:
            await sync_to_async(services.call_set_status)(call=call, status=Status.TRANSFERRED)
        if not self.is_funnel:
            log.info(
                "conversation decided",
                extra={
                    "event": "conversation_end",
                    "call_sid": call.sid,
                    "action": decision.action,
                    "end_reason": decision.end_reason,
                    "intent": decision.intent,
                },
            )


def _script_lines(call: Call) -> ScriptLines:
    script = call.script or script_get_default()
    return ScriptLines(
        agent_name=script.agent_name,
        company=script.company,
        product=script.product,
        qualifying_question=script.qualifying_question,
        pitch=script.pitch,
        closing_offer=script.closing_offer,
    )


def _default_agent(call: Call) -> AgentClient | None:
    if not settings.AGENT_URL:
        return None
    return AgentClient(
        url=settings.AGENT_URL,
        api_key=settings.AGENT_API_KEY,
        timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        user_id=call.user_id,
    )


def _add_do_not_call(call: Call) -> None:
    number = call.caller_number
    if not number:
        log.warning("do-not-call asked on a call with no number", extra={"event": "do_not_call_no_number"})
        return
    try:
        services.do_not_call_add(number=number, reason="asked during the call", source_call=call)
    except ValueError:  # a withheld or malformed caller id cannot be listed
        log.warning(
            "do-not-call number not valid", extra={"event": "do_not_call_bad_number", "call_sid": call.sid}
        )
