"""The client for the back-office agent that interactive calls delegate tasks to (seed 000's Norns)."""

from __future__ import annotations

from typing import Any

import httpx

from voiceagent.logging import get_logger

log = get_logger("funnel.agent")


class AgentError(Exception):
    pass


class AgentClient:
    """POST `{url}/api/message` with the request, the user and the conversation so far."""

    def __init__(self, *, url: str, api_key: str = "", timeout: float, user_id: str = "") -> None:
        self.url = url.rstrip("/") + "/api/message"
        self.api_key = api_key
        self.timeout = timeout
        self.user_id = user_id

    async def ask(self, message: str, *, history: list[dict[str, Any]], objective: str = "") -> str:
        conversation = [{"role": m["role"], "content": m["content"]} for m in history]
        if objective.strip():
            conversation.insert(0, {"role": "system", "content": f"Call objective: {objective.strip()}"})
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
            headers["X-API-Key"] = self.api_key
        payload = {"message": message, "user_id": self.user_id, "conversation_history": conversation}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.url, json=payload, headers=headers)
                response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning(
                "agent request failed", extra={"event": "agent_failed", "error": exc.__class__.__name__}
            )
            raise AgentError(exc.__class__.__name__) from exc
        return _reply_text(response)


def _reply_text(response: httpx.Response) -> str:
    """The agent's answer: a JSON object's `response`/`reply`/`message`/`text`/`content`, or plain text."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        for key in ("response", "reply", "message", "text", "content"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        raise AgentError("no reply text in the agent's answer")
    if isinstance(body, str) and body.strip():
        return body.strip()
    raise AgentError("empty answer from the agent")
