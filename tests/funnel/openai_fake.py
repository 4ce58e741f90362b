"""A faked OpenAI chat-completions endpoint for respx: streamed (SSE) and JSON answers."""

from __future__ import annotations

import json
from typing import Any

import httpx

from telephony.providers.openai_llm import OpenAIChat

BASE_URL = "https://llm.example.test/v1"
COMPLETIONS = f"{BASE_URL}/chat/completions"


def chat_model(timeout: float = 2.0) -> OpenAIChat:
    return OpenAIChat(api_key="sk-test-not-real", base_url=BASE_URL, model="gpt-test", timeout=timeout)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def text_chunks(*texts: str) -> list[dict[str, Any]]:
    return [_chunk({"role": "assistant", "content": t}) for t in texts] + [_chunk({}, "stop")]


def tool_chunks(name: str, arguments: dict[str, Any], *, before: str = "", call_id: str = "call_1") -> list:
    """A tool call streamed the way OpenAI does it: name first, then the arguments in pieces."""
    chunks = [_chunk({"role": "assistant", "content": before})] if before else []
    raw = json.dumps(arguments)
    third = max(1, len(raw) // 3)
    head = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    chunks.append(_chunk({"tool_calls": [head]}))
    for start in range(0, len(raw), third):
        piece = {"index": 0, "function": {"arguments": raw[start : start + third]}}
        chunks.append(_chunk({"tool_calls": [piece]}))
    chunks.append(_chunk({}, "tool_calls"))
    return chunks


def streamed(chunks: list[dict[str, Any]]) -> httpx.Response:
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})


def completed_json(answer: Any) -> httpx.Response:
    content = answer if isinstance(answer, str) else json.dumps(answer)
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-2",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-test",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
        },
    )


def sent(route: Any, index: int = -1) -> dict[str, Any]:
    """The JSON body of a request the route received."""
    return json.loads(route.calls[index].request.content)
