"""X-API-Key authentication: 401 without a key, 403 with a wrong one."""

from __future__ import annotations

import hmac

from django.conf import settings
from rest_framework import exceptions
from rest_framework.permissions import BasePermission


class HasApiKey(BasePermission):
    def has_permission(self, request, view) -> bool:
        supplied = request.headers.get("X-API-Key", "")
        if not supplied:
            raise exceptions.NotAuthenticated("the X-API-Key header is required")
        expected = settings.API_KEY
        if not expected:
            raise exceptions.PermissionDenied("the API is disabled: API_KEY is not configured")
        # Constant-time compare: the time taken says nothing about how much of the key matched.
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise exceptions.PermissionDenied("the X-API-Key is not valid")
        return True
