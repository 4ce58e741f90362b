"""GET /health: no auth; checks the parts a call needs and names the one that fails."""

from __future__ import annotations

import asyncio
import secrets

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from voiceagent.logging import get_logger

log = get_logger("health")


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _roundtrip_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("health.")
    token = secrets.token_hex(8)
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


@require_GET
def health(request):
    checks = {"database": _check_database, "channel_layer": async_to_sync(_roundtrip_channel_layer)}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means unhealthy; say which part
            log.warning("health check failed", extra={"event": "health_failed", "part": name})
            results[name] = f"failed: {exc.__class__.__name__}"
    healthy = all(v == "ok" for v in results.values())
    failing = [name for name, v in results.items() if v != "ok"]
    body = {"ok": healthy, "checks": results}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if healthy else 503)
