from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from funnel.prompts import ScriptLines
from funnel.writers import LineRequest, LineWriter, LLMWriter, OfflineWriter, split_sentences
from telephony.providers.base import ProviderError, ProviderTimeout
from tests.funnel.openai_fake import COMPLETIONS, chat_model, sent, streamed, text_chunks

SCRIPT = ScriptLines(
    agent_name="Sam",
    company="Acme Heat",
    product="a heat pump",
    qualifying_question="Do you heat with gas?",
    pitch="We swap your boiler for a heat pump at no upfront cost.",
    closing_offer="Shall I book a survey for Tuesday?",
)


async def line(writer: LineWriter, request: LineRequest) -> str:
    return "".join([chunk async for chunk in writer.write(request)])


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (
            "INTRO",
            "Hi, this is Sam from Acme Heat. I'm calling about a heat pump. Do you have a quick minute?",
        ),
        ("QUALIFY", "Great, thanks. Do you heat with gas?"),
        (
            "PITCH",
            "We swap your boiler for a heat pump at no upfront cost. "
            "Does that sound like something you'd be interested in?",
        ),
        ("CLOSE", "Shall I book a survey for Tuesday?"),
    ],
)
async def test_it_fills_each_state_template_from_the_script(state, expected):
    assert await line(OfflineWriter(), LineRequest(state=state, script=SCRIPT)) == expected


async def test_it_rephrases_the_question_on_each_reask():
    first = await line(OfflineWriter(), LineRequest(state="QUALIFY", script=SCRIPT, kind="reask", attempt=1))
    second = await line(OfflineWriter(), LineRequest(state="QUALIFY", script=SCRIPT, kind="reask", attempt=2))
    assert first.endswith("Do you heat with gas?") and second.endswith("Do you heat with gas?")
    assert first != second


@respx.mock
async def test_it_streams_the_llm_line_with_the_goal_script_and_history():
    route = respx.post(COMPLETIONS).mock(
        return_value=streamed(text_chunks("Great. ", "Do you heat ", "with gas?"))
    )
    history = [{"role": "assistant", "content": "Hi, it's Sam."}, {"role": "user", "content": "yeah go on"}]
    writer = LLMWriter(chat_model(), timeout=1)
    chunks = [c async for c in writer.write(LineRequest(state="QUALIFY", script=SCRIPT, history=history))]
    assert "".join(chunks) == "Great. Do you heat with gas?"
    assert len(chunks) == 3  # streamed, not buffered
    messages = sent(route)["messages"]
    system = messages[0]["content"]
    assert "Acme Heat" in system and "Do you heat with gas?" in system and "qualifying question" in system
    assert "one or two short spoken sentences" in system
    assert messages[1:] == history


@respx.mock
async def test_it_raises_provider_error_when_the_llm_fails():
    respx.post(COMPLETIONS).mock(return_value=httpx.Response(503, json={"error": {"message": "x"}}))
    with pytest.raises(ProviderError):
        await line(LLMWriter(chat_model(), timeout=1), LineRequest(state="INTRO", script=SCRIPT))


@respx.mock
async def test_it_raises_provider_error_on_an_empty_line():
    respx.post(COMPLETIONS).mock(return_value=streamed(text_chunks("", "  ")))
    with pytest.raises(ProviderError, match="empty"):
        await line(LLMWriter(chat_model(), timeout=1), LineRequest(state="INTRO", script=SCRIPT))


@respx.mock
async def test_it_times_out_when_the_first_token_is_late():
    async def slow(request):
        await asyncio.sleep(2)
        return streamed(text_chunks("late"))

    respx.post(COMPLETIONS).mock(side_effect=slow)
    writer = LLMWriter(chat_model(timeout=5), timeout=0.1)
    with pytest.raises(ProviderTimeout):
        await asyncio.wait_for(line(writer, LineRequest(state="INTRO", script=SCRIPT)), 1)


@pytest.mark.parametrize(
    ("buffer", "done", "rest"),
    [
        ("Hello there. How are", ["Hello there."], "How are"),
        ("It costs $1.50 a day! Ok? ", ["It costs $1.50 a day!", "Ok?"], ""),
        ("No end yet", [], "No end yet"),
    ],
)
def test_it_splits_complete_sentences(buffer, done, rest):
    assert split_sentences(buffer) == (done, rest)
