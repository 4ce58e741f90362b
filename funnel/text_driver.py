"""Run a whole call from typed caller lines, through the same Conversation a phone call uses.

Each caller line is one utterance; when the lines run out before the call ended, the caller is
silent and the agent ends politely (`silence_timeout`), as on the phone. The call is marked
in progress at the start and completed at the end (failed stays failed), so it shows in the admin
like any other call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from asgiref.sync import sync_to_async

from calls import selectors, services
from calls.models import Call, Message, Status
from funnel.conversation import Conversation
from funnel.policies import Reply

OnLine = Callable[[str, str], Awaitable[None] | None]  # (speaker, text): e.g. print the transcript live


async def run_text_call(
    call: Call,
    caller_lines: Iterable[str],
    *,
    on_line: OnLine | None = None,
    **start_kwargs: Any,
) -> list[Message]:
    """Play `caller_lines` against the call's policy; returns the persisted transcript in order.

    `start_kwargs` go to `Conversation.start` (classifier, writer, chat_model, agent).
    """
    await sync_to_async(services.call_set_status)(call=call, status=Status.IN_PROGRESS)
    conv = await Conversation.start(call, **start_kwargs)

    async def speak(reply: Reply) -> None:
        await reply.drain()
        await conv.record_reply(reply)
        if on_line is not None and reply.text:
            result = on_line("agent", reply.text)
            if result is not None:
                await result

    await speak(await conv.opening())
    for line in caller_lines:
        text = line.strip()
        if conv.finished:
            break
        if not text:
            continue
        if on_line is not None:
            result = on_line("caller", text)
            if result is not None:
                await result
        await speak(await conv.on_utterance(text))
    if not conv.finished:
        await speak(await conv.on_silence())
    await sync_to_async(services.call_set_status)(call=call, status=Status.COMPLETED)
    return await sync_to_async(lambda: list(selectors.call_transcript(call=call)))()
