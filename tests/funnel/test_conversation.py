"""The Conversation contract against the database: persistence, decision effects and transition logs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import respx
from asgiref.sync import sync_to_async

from calls import services
from calls.models import Call, DoNotCall, Message
from funnel.classifier import LLMClassifier, RuleClassifier
from funnel.conversation import Conversation, ConversationError
from funnel.models import Script
from funnel.writers import LLMWriter, OfflineWriter
from tests.funnel.openai_fake import COMPLETIONS, streamed, text_chunks

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "+14155550123"


@sync_to_async
def new_call(**kwargs) -> Call:
    return services.call_create(to_number=NUMBER, **kwargs).call


@sync_to_async
def fresh(call: Call) -> Call:
    return Call.objects.get(pk=call.pk)


@sync_to_async
def messages(call: Call) -> list[tuple]:
    return list(
        Message.objects.filter(call=call).values_list("role", "text", "funnel_state", "intent", "interrupted")
    )


async def spoken(conv: Conversation, reply, **kwargs):
    await reply.drain()
    await conv.record_reply(reply, **kwargs)
    return reply


async def test_it_persists_nothing_for_the_opening_until_record_reply():
    call = await new_call()
    conv = await Conversation.start(call)
    reply = await conv.opening()
    assert (await fresh(call)).funnel_state == "INTRO"
    assert await messages(call) == []
    await spoken(conv, reply)
    assert await messages(call) == [("assistant", reply.text, "INTRO", "answered", False)]


async def test_it_saves_the_callers_turn_with_state_intent_and_stt_ms_before_returning():
    call = await new_call()
    conv = await Conversation.start(call)
    await spoken(conv, await conv.opening())
    reply = await conv.on_utterance("yeah sure", stt_ms=240)
    user = await sync_to_async(Message.objects.get)(call=call, role="user")
    assert (user.text, user.funnel_state, user.intent, user.stt_ms) == (
        "yeah sure",
        "INTRO",
        "interested",
        240,
    )
    assert reply.decision.next_state == "QUALIFY"
    assert (await fresh(call)).funnel_state == "QUALIFY"


async def test_it_records_only_what_the_caller_heard():
    call = await new_call()
    conv = await Conversation.start(call)
    reply = await conv.opening()
    await reply.drain()
    msg = await conv.record_reply(
        reply, heard="Hi, this is Alex", interrupted=True, tts_first_byte_ms=90, turn_ms=700
    )
    assert (msg.text, msg.interrupted, msg.tts_first_byte_ms, msg.turn_ms) == (
        "Hi, this is Alex",
        True,
        90,
        700,
    )
    assert msg.llm_ms is not None
    assert conv.policy.history[-1] == {"role": "assistant", "content": "Hi, this is Alex"}


async def test_it_logs_one_json_line_per_transition(caplog):
    caplog.set_level(logging.INFO, logger="voiceagent.funnel")
    call = await new_call()
    conv = await Conversation.start(call)
    await spoken(conv, await conv.opening())
    await spoken(conv, await conv.on_utterance("yes"))
    await spoken(conv, await conv.on_utterance("not interested"))
    moves = [
        (r.__dict__["from"], r.__dict__["to"], r.__dict__["intent"], r.__dict__["call_sid"])
        for r in caplog.records
        if getattr(r, "event", "") == "funnel_transition"
    ]
    assert moves == [
        ("INIT", "INTRO", "answered", call.sid),
        ("INTRO", "QUALIFY", "interested", call.sid),
        ("QUALIFY", "END", "not_interested", call.sid),
    ]
    from voiceagent.logging import JsonFormatter

    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["event"] == "funnel_transition" and line["to"] == "END"


async def test_it_adds_the_number_to_do_not_call_and_ends_with_caller_dnc():
    call = await new_call()
    conv = await Conversation.start(call)
    await spoken(conv, await conv.opening())
    reply = await spoken(conv, await conv.on_utterance("take me off your list"))
    assert conv.finished and reply.decision.action == "end"
    stored = await fresh(call)
    assert (stored.end_reason, stored.funnel_state) == ("caller_dnc", "END")
    entry = await sync_to_async(DoNotCall.objects.get)(number=NUMBER)
    assert entry.source_call_id == call.pk


async def test_it_sets_status_transferred_when_it_decides_to_transfer(settings):
    settings.HANDOFF_NUMBER = "+14155550999"
    call = await new_call()
    conv = await Conversation.start(call)
    await spoken(conv, await conv.opening())
    reply = await spoken(conv, await conv.on_utterance("can i talk to a real person"))
    assert reply.text == "Transferring you now." and reply.decision.action == "transfer"
    stored = await fresh(call)
    assert (stored.status, stored.end_reason) == ("transferred", "handoff")


async def test_it_ends_with_handoff_unconfigured_without_a_handoff_number():
    call = await new_call()
    conv = await Conversation.start(call)
    await spoken(conv, await conv.opening())
    await spoken(conv, await conv.on_utterance("let me speak to a human"))
    stored = await fresh(call)
    assert (stored.status, stored.end_reason) == ("queued", "handoff_unconfigured")


async def test_it_ends_on_silence_with_silence_timeout():
    call = await new_call()
    conv = await Conversation.start(call)
    await spoken(conv, await conv.opening())
    reply = await spoken(conv, await conv.on_silence())
    assert conv.finished and "lost you" in reply.text
    assert (await fresh(call)).end_reason == "silence_timeout"


@respx.mock
async def test_it_marks_the_call_failed_with_llm_error_when_the_writer_fails():
    respx.post(COMPLETIONS).mock(return_value=httpx.Response(500, json={"error": {"message": "x"}}))
    call = await new_call()
    conv = await Conversation.start(call, chat_model=None, writer=LLMWriter(_model(), timeout=1))
    reply = await spoken(conv, await conv.opening())
    assert "having some trouble" in reply.text and conv.finished
    stored = await fresh(call)
    assert (stored.status, stored.end_reason, stored.funnel_state) == ("failed", "llm_error", "END")
    assert (await messages(call))[-1][2] == "END"


async def test_it_records_words_after_the_end_and_still_honours_do_not_call():
    call = await new_call(mode="scripted", message="Your parcel is here.")
    conv = await Conversation.start(call)
    reply = await spoken(conv, await conv.opening())
    assert reply.text == "Your parcel is here. Goodbye!" and conv.finished
    late = await conv.on_utterance("stop calling me")
    assert late.decision.action == "end" and [s async for s in late.sentences()] == []
    assert await sync_to_async(DoNotCall.objects.filter(number=NUMBER).exists)()
    assert (await messages(call))[-1][:4] == ("user", "stop calling me", "", "do_not_call")
    assert (await fresh(call)).end_reason == "delivered"


async def test_it_refuses_an_utterance_before_the_opening():
    conv = await Conversation.start(await new_call())
    with pytest.raises(ConversationError):
        await conv.on_utterance("hello?")


async def test_it_uses_the_calls_script_or_the_default_one():
    await sync_to_async(Script.objects.create)(name="Default", is_default=True)
    custom = await sync_to_async(Script.objects.create)(name="Heat", agent_name="Sam", company="Acme Heat")
    conv = await Conversation.start(await new_call(script_id=custom.pk))
    assert (await (await conv.opening()).drain()).startswith("Hi, this is Sam from Acme Heat.")
    conv = await Conversation.start(await new_call())
    assert (await (await conv.opening()).drain()).startswith("Hi, this is Alex from Brightside Solar.")


async def test_it_picks_the_policy_from_mode_and_direction():
    inbound = await new_call(mode="interactive", direction="inbound", from_number="+14155550177")
    conv = await Conversation.start(inbound)
    assert (await (await conv.opening()).drain()).startswith("Hi, you've reached Alex.")
    outbound = await new_call(mode="interactive", greeting="Hey! Following up on the project.")
    conv = await Conversation.start(outbound)
    assert await (await conv.opening()).drain() == "Hey! Following up on the project."
    reply = await conv.on_utterance("is this a robot")
    assert (await reply.drain()).startswith("Yes, I'm an AI assistant.")


async def test_it_runs_offline_without_a_key_and_with_openai_when_one_is_set(settings):
    conv = await Conversation.start(await new_call())
    assert isinstance(conv.policy.classifier, RuleClassifier) and isinstance(
        conv.policy.writer, OfflineWriter
    )
    settings.OPENAI_API_KEY = "sk-test"
    settings.LLM_PROVIDER = "auto"
    conv = await Conversation.start(await new_call())
    assert isinstance(conv.policy.classifier, LLMClassifier) and isinstance(conv.policy.writer, LLMWriter)
    settings.LLM_PROVIDER = "offline"
    conv = await Conversation.start(await new_call())
    assert isinstance(conv.policy.writer, OfflineWriter)


@respx.mock
async def test_it_streams_an_openai_line_and_persists_it():
    respx.post(COMPLETIONS).mock(return_value=streamed(text_chunks("Hi, it's Alex. ", "Got a minute?")))
    call = await new_call()
    conv = await Conversation.start(call, chat_model=None, writer=LLMWriter(_model(), timeout=1))
    reply = await conv.opening()
    assert [s async for s in reply.sentences()] == ["Hi, it's Alex.", "Got a minute?"]
    assert reply.decision.say == "Hi, it's Alex. Got a minute?"
    await conv.record_reply(reply)
    assert (await messages(call))[0][1] == "Hi, it's Alex. Got a minute?"


def _model():
    from tests.funnel.openai_fake import chat_model

    return chat_model()
