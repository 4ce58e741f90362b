"""Each mode's policy, one decision per caller turn: offline, and against a faked OpenAI endpoint."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from funnel.classifier import LLMClassifier, RuleClassifier
from funnel.engine import State
from funnel.policies import Decision, FunnelPolicy, InteractivePolicy, Reply, ScriptedPolicy
from funnel.policies.agent import AgentClient
from funnel.prompts import ScriptLines
from funnel.writers import LLMWriter, OfflineWriter
from telephony.providers.base import ProviderError
from tests.funnel.openai_fake import (
    COMPLETIONS,
    _chunk,
    chat_model,
    completed_json,
    sent,
    streamed,
    text_chunks,
    tool_chunks,
)

SCRIPT = ScriptLines()


def funnel(*, handoff: bool = False, writer=None, classifier=None) -> FunnelPolicy:
    return FunnelPolicy(
        script=SCRIPT,
        classifier=classifier or RuleClassifier(),
        writer=writer or OfflineWriter(),
        handoff_configured=handoff,
    )


async def play(turn) -> Reply:
    reply = Reply(turn)
    await reply.drain()
    return reply


async def funnel_at(state: State, **kwargs) -> FunnelPolicy:
    policy = funnel(**kwargs)
    await play(policy.opening())
    while policy.state != state:
        await play(await policy.on_utterance("yes"))
    return policy


# --- the funnel (seed 004) -------------------------------------------------------------------


async def test_it_walks_the_whole_funnel_offline_and_converts():
    policy = funnel()
    opening = await play(policy.opening())
    assert opening.decision.next_state == "INTRO" and opening.decision.intent == "answered"
    assert opening.text.startswith("Hi, this is Alex from Brightside Solar.")
    seen = []
    for said in ["yeah i have a minute", "yes we own it", "sounds good", "yes please book it"]:
        reply = await play(await policy.on_utterance(said))
        seen.append((reply.decision.next_state, reply.decision.action))
    assert seen == [("QUALIFY", "continue"), ("PITCH", "continue"), ("CLOSE", "continue"), ("END", "end")]
    assert reply.decision.end_reason == "converted"
    assert "you're all set" in reply.text


# Seed 004's table, row by row: (caller says, handoff configured) -> what is heard and decided.
SEED_004_TABLE = [
    ("are you an ai", False, "PITCH", "continue", "", "Yes, I'm an AI assistant calling on behalf of"),
    ("can i talk to a real person", True, "END", "transfer", "handoff", "Transferring you now."),
    (
        "can i talk to a real person",
        False,
        "END",
        "end",
        "handoff_unconfigured",
        "I can't transfer you right now",
    ),
    ("please don't call me again", False, "END", "end", "caller_dnc", "won't call you again"),
    ("no thanks not interested", False, "END", "end", "not_interested", "Thanks for your time"),
]


@pytest.mark.parametrize(("said", "handoff", "state", "action", "reason", "heard"), SEED_004_TABLE)
async def test_it_answers_each_row_of_the_seed_table(said, handoff, state, action, reason, heard):
    policy = await funnel_at(State.PITCH, handoff=handoff)
    reply = await play(await policy.on_utterance(said))
    assert (reply.decision.next_state, reply.decision.action, reply.decision.end_reason) == (
        state,
        action,
        reason,
    )
    assert heard in reply.text
    assert policy.state == state


async def test_it_confirms_it_is_an_ai_and_asks_the_current_question_again():
    policy = await funnel_at(State.QUALIFY)
    reply = await play(await policy.on_utterance("wait is this a robot"))
    assert reply.text.startswith("Yes, I'm an AI assistant")
    assert reply.text.endswith(SCRIPT.qualifying_question)


async def test_it_ends_politely_on_silence():
    policy = await funnel_at(State.INTRO)
    reply = await play(policy.on_silence())
    assert reply.decision == Decision(reply.text, "END", "end", "silence_timeout", "silence")
    assert "lost you" in reply.text


async def test_it_says_the_fallback_line_and_ends_with_llm_error_when_the_writer_fails():
    class Broken:
        name = "broken"

        async def write(self, request):
            yield "Great, thanks. "
            raise ProviderError("llm", "broken", "down")

    policy = await funnel_at(State.INTRO)
    policy.writer = Broken()
    reply = Reply(await policy.on_utterance("yes"))
    sentences = [s async for s in reply.sentences()]
    assert sentences[0] == "Great, thanks."
    assert sentences[1:] == ["Sorry, I'm having some trouble on my end, so I'll let you go.", "Goodbye!"]
    assert (reply.decision.action, reply.decision.end_reason, reply.decision.next_state) == (
        "end",
        "llm_error",
        "END",
    )


async def test_it_reasks_twice_on_unclear_answers_then_ends():
    policy = await funnel_at(State.QUALIFY)
    first = await play(await policy.on_utterance("huh"))
    second = await play(await policy.on_utterance("what"))
    third = await play(await policy.on_utterance("hmm"))
    assert [first.decision.next_state, second.decision.next_state] == ["QUALIFY", "QUALIFY"]
    assert first.text != second.text
    assert (third.decision.next_state, third.decision.end_reason) == ("END", "unclear")


async def test_it_resets_the_reask_count_after_a_clear_answer():
    policy = await funnel_at(State.INTRO)
    for said in ["huh", "what", "yes", "huh", "what"]:
        reply = await play(await policy.on_utterance(said))
    assert reply.decision.action == "continue" and policy.state == "QUALIFY"


@respx.mock
async def test_it_runs_the_funnel_with_the_openai_classifier_and_writer():
    route = respx.post(COMPLETIONS).mock(
        side_effect=[
            streamed(text_chunks("Hi, it's Alex from Brightside Solar. ", "Got a quick minute?")),
            completed_json({"intent": "interested"}),
            streamed(text_chunks("Thanks! Do you own your home?")),
        ]
    )
    model = chat_model()
    policy = funnel(writer=LLMWriter(model, timeout=1), classifier=LLMClassifier(model, timeout=1))
    opening = await play(policy.opening())
    assert opening.text == "Hi, it's Alex from Brightside Solar. Got a quick minute?"
    policy.history += [
        {"role": "assistant", "content": opening.text},
        {"role": "user", "content": "go on then"},
    ]
    reply = await play(await policy.on_utterance("go on then"))
    assert reply.decision.next_state == "QUALIFY" and reply.text == "Thanks! Do you own your home?"
    assert sent(route, 2)["messages"][-1] == {"role": "user", "content": "go on then"}


async def _failing_stream():
    yield ("data: " + json.dumps(_chunk({"content": "Great, thanks. "})) + "\n\n").encode()
    raise httpx.ReadError("connection reset")


@respx.mock
async def test_it_falls_back_when_the_openai_stream_breaks_mid_line():
    respx.post(COMPLETIONS).mock(
        return_value=httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=_failing_stream()
        )
    )
    policy = await funnel_at(State.INTRO)
    policy.writer = LLMWriter(chat_model(), timeout=1)
    reply = await play(await policy.on_utterance("yes"))
    assert reply.text.startswith("Great, thanks. Sorry, I'm having some trouble")
    assert reply.decision.end_reason == "llm_error"


# --- scripted (seed 000) ---------------------------------------------------------------------


async def test_it_says_the_scripted_message_then_goodbye_and_ends():
    policy = ScriptedPolicy(message="Your parcel has arrived.")
    reply = await play(policy.opening())
    assert reply.text == "Your parcel has arrived. Goodbye!"
    assert (reply.decision.action, reply.decision.end_reason) == ("end", "delivered")


async def test_it_lets_nothing_the_caller_says_change_a_scripted_call():
    policy = ScriptedPolicy(message="Dinner is ready!")
    for said in ["yes tell me more", "can i talk to a person", "what"]:
        reply = await play(await policy.on_utterance(said))
        assert reply.text == "" and reply.decision.action == "end"


# --- interactive and inbound (seed 000) ------------------------------------------------------


def interactive(*, outbound=True, model=None, agent=None, handoff=False, **kwargs) -> InteractivePolicy:
    return InteractivePolicy(
        outbound=outbound,
        agent_name="Alex",
        chat_model=model,
        agent=agent,
        handoff_configured=handoff,
        timeout=1,
        **kwargs,
    )


async def say(policy: InteractivePolicy, text: str) -> Reply:
    policy.history.append({"role": "user", "content": text})
    reply = await play(await policy.on_utterance(text))
    policy.history.append({"role": "assistant", "content": reply.text})
    return reply


async def test_it_greets_with_the_calls_greeting_or_a_default():
    assert (await play(interactive(greeting="Hey! It's Alex.").opening())).text == "Hey! It's Alex."
    assert (await play(interactive().opening())).text == "Hi! This is Alex calling."
    inbound = await play(interactive(outbound=False).opening())
    assert inbound.text == "Hi, you've reached Alex. How can I help you today?"


@pytest.mark.parametrize(
    ("said", "handoff", "action", "reason", "heard"),
    [
        ("is this a robot", False, "continue", "", "Yes, I'm an AI assistant."),
        ("take me off your list", False, "end", "caller_dnc", "won't call you again"),
        ("let me talk to a human", True, "transfer", "handoff", "Transferring you now."),
        ("let me talk to a human", False, "end", "handoff_unconfigured", "can't transfer you"),
        ("okay bye", False, "end", "caller_goodbye", "Have a wonderful day!"),
        ("no that's all", False, "end", "not_interested", "Have a wonderful day!"),
        ("i need milk eggs and bread", False, "continue", "", "Is there anything else I can help you with?"),
    ],
)
@pytest.mark.parametrize("outbound", [True, False])
async def test_it_answers_offline_without_an_llm(said, handoff, action, reason, heard, outbound):
    reply = await say(interactive(outbound=outbound, handoff=handoff), said)
    assert (reply.decision.action, reply.decision.end_reason) == (action, reason)
    assert heard in reply.text


@respx.mock
async def test_it_converses_with_the_objective_in_the_seed_prompt():
    route = respx.post(COMPLETIONS).mock(return_value=streamed(text_chunks("Sure! ", "What's the status?")))
    policy = interactive(model=chat_model(), objective="Ask about the quarterly report")
    reply = await say(policy, "hi who's this")
    assert reply.text == "Sure! What's the status?" and reply.decision.action == "continue"
    body = sent(route)
    assert "YOUR OBJECTIVE: Ask about the quarterly report" in body["messages"][0]["content"]
    assert {t["function"]["name"] for t in body["tools"]} == {"end_call", "transfer_to_human"}


@respx.mock
async def test_it_uses_a_custom_system_prompt_instead_of_the_default():
    route = respx.post(COMPLETIONS).mock(return_value=streamed(text_chunks("Ahoy.")))
    policy = interactive(
        model=chat_model(), outbound=False, system_prompt="Talk like a pirate, {agent_name}."
    )
    await say(policy, "hello there")
    assert sent(route)["messages"][0]["content"] == "Talk like a pirate, Alex."


@respx.mock
async def test_it_checks_override_intents_before_the_llm_runs():
    route = respx.post(COMPLETIONS).mock(return_value=streamed(text_chunks("Sure!")))
    policy = interactive(model=chat_model())
    reply = await say(policy, "don't call me again")
    assert reply.decision.end_reason == "caller_dnc" and not route.called


@respx.mock
async def test_it_ends_the_call_when_the_llm_calls_end_call():
    respx.post(COMPLETIONS).mock(
        return_value=streamed(tool_chunks("end_call", {}, before="Thanks so much for your time! "))
    )
    reply = await say(interactive(model=chat_model()), "that's everything")
    assert (reply.decision.action, reply.decision.end_reason) == ("end", "completed")
    assert reply.text == "Thanks so much for your time!"


@pytest.mark.parametrize(
    ("handoff", "action", "heard"), [(True, "transfer", "Transferring"), (False, "end", "can't")]
)
@respx.mock
async def test_it_transfers_when_the_llm_calls_transfer_to_human(handoff, action, heard):
    respx.post(COMPLETIONS).mock(return_value=streamed(tool_chunks("transfer_to_human", {})))
    reply = await say(interactive(model=chat_model(), handoff=handoff), "i have a billing question")
    assert reply.decision.action == action and heard in reply.text


AGENT = "https://agent.example.test"


@respx.mock
async def test_it_delegates_to_the_agent_with_history_objective_and_key():
    respx.post(COMPLETIONS).mock(
        return_value=streamed(tool_chunks("delegate_to_agent", {"request": "Add milk to the shopping list"}))
    )
    agent_route = respx.post(f"{AGENT}/api/message").mock(
        return_value=httpx.Response(200, json={"response": "I've added milk to your shopping list!"})
    )
    agent = AgentClient(url=AGENT, api_key="agent-secret", timeout=1, user_id="user-42")
    policy = interactive(model=chat_model(), agent=agent, objective="Get items for the grocery list")
    reply = await say(policy, "add milk to my list")
    assert reply.text == "One moment. I've added milk to your shopping list!"
    assert reply.decision.action == "continue"
    request = agent_route.calls[0].request
    assert request.headers["authorization"] == "Bearer agent-secret"
    assert request.headers["x-api-key"] == "agent-secret"
    body = json.loads(request.content)
    assert body["message"] == "Add milk to the shopping list" and body["user_id"] == "user-42"
    assert body["conversation_history"][0] == {
        "role": "system",
        "content": "Call objective: Get items for the grocery list",
    }
    assert body["conversation_history"][-1] == {"role": "user", "content": "add milk to my list"}


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(502, text="bad gateway"), httpx.ConnectTimeout("slow"), httpx.Response(200, json={})],
)
@respx.mock
async def test_it_apologises_and_carries_on_when_the_agent_fails(failure):
    respx.post(COMPLETIONS).mock(
        return_value=streamed(
            tool_chunks("delegate_to_agent", {"request": "remind me"}, before="Let me check. ")
        )
    )
    route = respx.post(f"{AGENT}/api/message")
    if isinstance(failure, Exception):
        route.mock(side_effect=failure)
    else:
        route.mock(return_value=failure)
    policy = interactive(model=chat_model(), agent=AgentClient(url=AGENT, timeout=1))
    reply = await say(policy, "remind me to call mom")
    assert reply.text.startswith("Let me check. Sorry, I couldn't get that done right now.")
    assert reply.decision.action == "continue"


@respx.mock
async def test_it_ends_with_llm_error_when_the_interactive_llm_fails():
    respx.post(COMPLETIONS).mock(return_value=httpx.Response(500, json={"error": {"message": "x"}}))
    reply = await say(interactive(model=chat_model()), "what's the weather like")
    assert (reply.decision.action, reply.decision.end_reason) == ("end", "llm_error")
    assert "having some trouble" in reply.text


async def test_it_ends_an_interactive_call_politely_on_silence():
    reply = await play(interactive().on_silence())
    assert (reply.decision.action, reply.decision.end_reason) == ("end", "silence_timeout")
