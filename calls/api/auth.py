"""X-API-Key authentication: 401 without a key, 403 with a wrong one."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission


@dataclass(frozen=True)
class ApiClient:
    """Who called: the holder of the API key (there is one key, so one client)."""

    is_authenticated: bool = True


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        supplied = request.headers.get("X-API-Key", "")
        if not supplied:
            return None  # the permission check answers 401
        expected = settings.API_KEY
        if not expected:
            raise exceptions.PermissionDenied("the API is disabled: API_KEY is not configured")
        # Constant-time compare: the time taken says nothing about how much of the key matched.
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise exceptions.PermissionDenied("the X-API-Key is not valid")
        return ApiClient(), None

    def authenticate_header(self, request) -> str:
        # Present so DRF answers 401 (not 403) when the key is missing.
        return "X-API-Key"


class HasApiKey(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, ApiClient):
            raise exceptions.NotAuthenticated("the X-API-Key header is required")
        return True
