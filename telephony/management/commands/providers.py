"""`python manage.py providers check`: which provider serves each role, and is it working.

Loads the local models (timing the load) and makes one cheap authenticated request to each
configured cloud provider. Exits non-zero when any check fails. Never prints a key: errors
are reported by type and HTTP status only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.providers import factory
from telephony.providers.base import ProviderError
from telephony.providers.deepgram_stt import DeepgramSTT
from telephony.providers.elevenlabs_tts import ElevenLabsTTS
from telephony.providers.local_stt import WhisperSTT
from telephony.providers.local_tts import PiperTTS

Check = Callable[[], Awaitable[str]]


class Command(BaseCommand):
    help = "Show which provider each role uses and check that it works."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check"], help="check: load local models, ping cloud ones")

    def handle(self, *args: object, **options: object) -> None:
        failures = asyncio.run(self._check_all())
        if failures:
            raise CommandError(f"{failures} provider check(s) failed")
        self.stdout.write(self.style.SUCCESS("all providers OK"))

    async def _check_all(self) -> int:
        failures = 0
        for role in ("stt", "tts", "llm"):
            try:
                name = factory.provider_for(role)
            except ImproperlyConfigured as exc:
                self.stdout.write(self.style.ERROR(f"{role}: misconfigured: {exc}"))
                failures += 1
                continue
            if not await self._run(role, name, _check_for(role, name)):
                failures += 1
        return failures

    async def _run(self, role: str, name: str, check: Check) -> bool:
        started = time.perf_counter()
        try:
            detail = await check()
        except ProviderError as exc:
            self.stdout.write(self.style.ERROR(f"{role}: {name} FAILED: {exc}"))
            return False
        except Exception as exc:  # an SDK error we did not map: report its type only
            self.stdout.write(self.style.ERROR(f"{role}: {name} FAILED: {exc.__class__.__name__}"))
            return False
        ms = (time.perf_counter() - started) * 1000
        self.stdout.write(f"{role}: {name} OK ({detail}, {ms:.0f} ms)")
        return True


def _check_for(role: str, name: str) -> Check:
    timeout = settings.PROVIDER_TIMEOUT_SECONDS
    if name == "local":
        local = WhisperSTT(timeout=timeout) if role == "stt" else PiperTTS(timeout=timeout)

        async def load() -> str:
            await local.warm()
            return f"{local.name} model loaded"

        return load
    if name == "offline":

        async def offline() -> str:
            return "offline writer and classifier, nothing to load"

        return offline
    if name == "deepgram":
        return DeepgramSTT(api_key=settings.DEEPGRAM_API_KEY, timeout=timeout).check
    if name == "elevenlabs":
        return ElevenLabsTTS(
            api_key=settings.ELEVENLABS_API_KEY, voice_id=settings.ELEVENLABS_VOICE_ID, timeout=timeout
        ).check
    return _openai_check


async def _openai_check() -> str:
    import httpx
    import openai

    client = openai.AsyncOpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=settings.LLM_TIMEOUT_SECONDS,
        max_retries=0,
        # A plain httpx client, as OpenAIChat uses: the same transport stack as every other provider.
        http_client=httpx.AsyncClient(timeout=settings.LLM_TIMEOUT_SECONDS),
    )
    try:
        page = await client.models.list()
    except openai.APITimeoutError as exc:
        raise ProviderError("llm", "openai", "models request timed out") from exc
    except openai.APIStatusError as exc:
        raise ProviderError("llm", "openai", f"{exc.__class__.__name__} (HTTP {exc.status_code})") from exc
    except openai.OpenAIError as exc:
        raise ProviderError("llm", "openai", exc.__class__.__name__) from exc
    finally:
        await client.close()
    models = [m.id for m in page.data]
    found = "configured model available" if settings.OPENAI_MODEL in models else "model list fetched"
    return f"{found}, {settings.OPENAI_MODEL}"
