"""ElevenLabs streaming text-to-speech (elevenlabs SDK, `text_to_speech.stream`).

`output_format=ulaw_8000` is exactly what Twilio carries, so chunks go to the caller as
they arrive with no resampling. No SDK retries: a failing request should fall back to the
local voice at once rather than retry while the caller waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from telephony.providers.base import ProviderError, ProviderTimeout, ProviderUnavailable

OUTPUT_FORMAT = "ulaw_8000"


class ElevenLabsTTS:
    name = "elevenlabs"

    def __init__(
        self,
        *,
        api_key: str,
        voice_id: str,
        timeout: float,
        model: str = "eleven_flash_v2_5",
        base_url: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.voice_id = voice_id
        self.timeout = timeout
        self.model = model
        self.base_url = base_url
        self._client: Any = None

    def _sdk(self) -> Any:
        if self._client is None:
            from elevenlabs.client import AsyncElevenLabs

            kwargs: dict[str, Any] = {"api_key": self.api_key, "timeout": self.timeout}
            if self.base_url:
                kwargs["base_url"] = self.base_url
            self._client = AsyncElevenLabs(**kwargs)
        return self._client

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if not text.strip():
            return
        stream = self._sdk().text_to_speech.stream(
            self.voice_id,
            text=text,
            model_id=self.model,
            output_format=OUTPUT_FORMAT,
            # chunk_size None: pass bytes on as they arrive instead of buffering a fixed size.
            request_options={"max_retries": 0, "chunk_size": None, "timeout_in_seconds": self.timeout},
        )
        try:
            while True:
                # The timeout covers the first byte and every gap between chunks.
                try:
                    chunk = await asyncio.wait_for(anext(stream), self.timeout)
                except StopAsyncIteration:
                    return
                if chunk:
                    yield chunk
        except TimeoutError as exc:
            raise ProviderTimeout("tts", self.name, f"no audio within {self.timeout:.1f}s") from exc
        except ProviderError:
            raise
        except Exception as exc:  # SDK ApiError, httpx transport errors
            raise ProviderError("tts", self.name, _describe(exc)) from exc
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def check(self) -> str:
        """One cheap authenticated request (get the configured voice); raises ProviderError."""
        try:
            voice = await asyncio.wait_for(
                self._sdk().voices.get(self.voice_id, request_options={"max_retries": 0}), self.timeout
            )
        except TimeoutError as exc:
            raise ProviderTimeout("tts", self.name, "voice request timed out") from exc
        except Exception as exc:
            raise ProviderUnavailable("tts", self.name, _describe(exc)) from exc
        return f"voice {getattr(voice, 'name', '') or self.voice_id}"


def _describe(exc: BaseException) -> str:
    # The SDK's ApiError repr includes response headers; the status code is what matters.
    status = getattr(exc, "status_code", None)
    if status is not None:
        return f"{exc.__class__.__name__} (HTTP {status})"
    return exc.__class__.__name__
