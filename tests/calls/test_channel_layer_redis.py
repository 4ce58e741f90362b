"""One message through channels-redis, the layer several Daphne workers share."""

from __future__ import annotations

import socket

import pytest
from channels_redis.core import RedisChannelLayer

from tests.conftest import service_unavailable

REDIS = ("127.0.0.1", 6379)


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.services
async def test_it_sends_a_message_through_channels_redis():
    if not _redis_reachable():
        service_unavailable("Redis at 127.0.0.1:6379")
    layer = RedisChannelLayer(hosts=[f"redis://{REDIS[0]}:{REDIS[1]}/3"], prefix="voiceagent-test")
    try:
        channel = await layer.new_channel()
        await layer.group_add("call.CAtest", channel)
        await layer.group_send("call.CAtest", {"type": "call.hangup", "reason": "api"})
        message = await layer.receive(channel)
        assert message == {"type": "call.hangup", "reason": "api"}
        await layer.group_discard("call.CAtest", channel)
    finally:
        await layer.flush()
        await layer.close_pools()
