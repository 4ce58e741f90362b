from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_it_serves_the_openapi_schema_without_a_key():
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/call/outbound", "/call/start", "/api/call/{sid}/status", "/api/calls/active"):
        assert path in text
    assert "X-API-Key" in text


@pytest.mark.django_db
def test_it_serves_swagger_ui():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.django_db
def test_it_reports_healthy_parts():
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "checks": {"database": "ok", "channel_layer": "ok"}}


@pytest.mark.django_db
def test_it_names_the_failing_part_with_503(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1"]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = Client().get("/health")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["failing"] == ["channel_layer"]
    assert response.json()["checks"]["database"] == "ok"
