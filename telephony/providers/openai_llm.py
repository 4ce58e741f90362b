"""OpenAI chat (or any OpenAI-compatible server via `base_url`) behind the `ChatModel` Protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
from openai import AsyncOpenAI

from telephony.providers.base import (
    ChatDelta,
    ChatMessage,
    ProviderError,
    ProviderTimeout,
    ToolCall,
    ToolSpec,
)

ROLE = "llm"


class OpenAIChat:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str,
        timeout: float,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.model = model
        self.timeout = timeout
        # No retries: a phone turn cannot wait for a second attempt; the caller's fallback line can.
        # The SDK accepts an `httpx.AsyncClient`; passing one keeps every request on the httpx stack.
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url or None,
            timeout=timeout,
            max_retries=0,
            http_client=http_client or httpx.AsyncClient(timeout=timeout),
        )

    async def stream(
        self, messages: list[ChatMessage], *, tools: list[ToolSpec] | None = None
    ) -> AsyncIterator[ChatDelta]:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
        if tools:
            kwargs["tools"] = [_tool_param(t) for t in tools]
        pending: dict[int, dict[str, str]] = {}
        try:
            # httpx bounds each read; this bounds the whole wait for the answer to start.
            async with asyncio.timeout(self.timeout):
                response = await self._client.chat.completions.create(**kwargs)
            async for chunk in response:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if delta.content:
                    yield ChatDelta(text=delta.content)
                for part in delta.tool_calls or []:
                    slot = pending.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                    slot["id"] = part.id or slot["id"]
                    if part.function is not None:
                        slot["name"] += part.function.name or ""
                        slot["arguments"] += part.function.arguments or ""
        except (openai.APITimeoutError, TimeoutError) as exc:
            raise ProviderTimeout(ROLE, self.name, "timed out") from exc
        except openai.OpenAIError as exc:
            raise ProviderError(ROLE, self.name, _describe(exc)) from exc
        except httpx.TimeoutException as exc:  # a read timeout while the stream is being consumed
            raise ProviderTimeout(ROLE, self.name, "timed out") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(ROLE, self.name, exc.__class__.__name__) from exc
        for index in sorted(pending):
            slot = pending[index]
            yield ChatDelta(tool_call=ToolCall(name=slot["name"], arguments=self._args(slot), id=slot["id"]))

    async def complete_json(self, messages: list[ChatMessage], *, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": "answer", "schema": schema, "strict": True},
                    },
                )
        except (openai.APITimeoutError, TimeoutError) as exc:
            raise ProviderTimeout(ROLE, self.name, "timed out") from exc
        except openai.OpenAIError as exc:
            raise ProviderError(ROLE, self.name, _describe(exc)) from exc
        content = response.choices[0].message.content if response.choices else None
        try:
            answer = json.loads(content or "")
        except json.JSONDecodeError as exc:
            raise ProviderError(ROLE, self.name, "answer was not JSON") from exc
        if not isinstance(answer, dict):
            raise ProviderError(ROLE, self.name, "answer was not a JSON object")
        return answer

    def _args(self, slot: dict[str, str]) -> dict[str, Any]:
        try:
            args = json.loads(slot["arguments"] or "{}")
        except json.JSONDecodeError as exc:
            raise ProviderError(ROLE, self.name, f"bad arguments for tool {slot['name']!r}") from exc
        return args if isinstance(args, dict) else {}


def _tool_param(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def _describe(exc: openai.OpenAIError) -> str:
    # Status and class only: an SDK message can echo request details we do not want in logs.
    status = getattr(exc, "status_code", None)
    return f"{exc.__class__.__name__}" + (f" (HTTP {status})" if status else "")
