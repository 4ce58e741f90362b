from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from telephony.providers.base import ChatDelta, ChatModel, ProviderError, ProviderTimeout, ToolCall, ToolSpec
from tests.funnel.openai_fake import (
    COMPLETIONS,
    chat_model,
    completed_json,
    sent,
    streamed,
    text_chunks,
    tool_chunks,
)

MESSAGES = [{"role": "user", "content": "hi"}]


async def collect(model, **kwargs) -> list[ChatDelta]:
    return [d async for d in model.stream(MESSAGES, **kwargs)]


def test_it_implements_the_chat_model_protocol():
    assert isinstance(chat_model(), ChatModel)


@respx.mock
async def test_it_streams_text_deltas_and_sends_the_model_and_key():
    route = respx.post(COMPLETIONS).mock(return_value=streamed(text_chunks("Hello", " there.")))
    deltas = await collect(chat_model())
    assert [d.text for d in deltas] == ["Hello", " there."]
    body = sent(route)
    assert body["model"] == "gpt-test" and body["stream"] is True and body["messages"] == MESSAGES
    assert route.calls[0].request.headers["authorization"] == "Bearer sk-test-not-real"


@respx.mock
async def test_it_assembles_a_tool_call_streamed_in_pieces():
    args = {"request": "add milk to the shopping list"}
    route = respx.post(COMPLETIONS).mock(
        return_value=streamed(tool_chunks("delegate_to_agent", args, before="One moment."))
    )
    tool = ToolSpec("delegate_to_agent", "delegate", {"type": "object", "properties": {}})
    deltas = await collect(chat_model(), tools=[tool])
    assert deltas[0].text == "One moment."
    assert deltas[-1].tool_call == ToolCall(name="delegate_to_agent", arguments=args, id="call_1")
    assert sent(route)["tools"][0]["function"]["name"] == "delegate_to_agent"


@respx.mock
async def test_it_maps_an_http_error_to_provider_error():
    respx.post(COMPLETIONS).mock(return_value=httpx.Response(500, json={"error": {"message": "boom"}}))
    with pytest.raises(ProviderError) as err:
        await collect(chat_model())
    assert not isinstance(err.value, ProviderTimeout)
    assert "500" in str(err.value)
    assert respx.calls.call_count == 1  # no retries inside a phone turn


@respx.mock
async def test_it_maps_a_timeout_to_provider_timeout():
    respx.post(COMPLETIONS).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderTimeout):
        await collect(chat_model())
    with pytest.raises(ProviderTimeout):
        await chat_model().complete_json(MESSAGES, schema={"type": "object"})


@respx.mock
async def test_it_times_out_on_a_server_slower_than_its_timeout():
    async def slow(request):
        await asyncio.sleep(1)
        return streamed(text_chunks("late"))

    respx.post(COMPLETIONS).mock(side_effect=slow)
    model = chat_model(timeout=0.1)
    with pytest.raises(ProviderTimeout):
        await asyncio.wait_for(collect(model), 0.5)
    with pytest.raises(ProviderTimeout):
        await asyncio.wait_for(model.complete_json(MESSAGES, schema={"type": "object"}), 0.5)


@respx.mock
async def test_it_completes_json_with_a_json_schema_response_format():
    route = respx.post(COMPLETIONS).mock(return_value=completed_json({"intent": "interested"}))
    schema = {"type": "object", "properties": {"intent": {"type": "string"}}, "required": ["intent"]}
    answer = await chat_model().complete_json(MESSAGES, schema=schema)
    assert answer == {"intent": "interested"}
    fmt = sent(route)["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == schema


@respx.mock
async def test_it_rejects_an_answer_that_is_not_json():
    respx.post(COMPLETIONS).mock(return_value=completed_json("sure thing"))
    with pytest.raises(ProviderError, match="not JSON"):
        await chat_model().complete_json(MESSAGES, schema={"type": "object"})
