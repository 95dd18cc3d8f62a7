"""Rate limits: sign-in and registration per address, every write per user, and a generous
ceiling on reads per user (so nobody scrapes records at machine speed).

Each answers 429 with Retry-After (DRF's Throttled). Counts live in the Django cache: set
CACHE_URL to Redis in production, or each process counts on its own.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

AUTH_PREFIX = "/api/v1/auth/"


class SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from the settings on each request, not once at import (DRF's default), so a
    changed THROTTLE_* setting, or a test's, applies without a restart of the class."""

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return None if rate is None else str(rate)


class AuthRateThrottle(SettingsRateThrottle):
    """Registration, tokens and logout, per client address: guessing passwords from one place is slow.

    django-axes still locks an account after repeated failures from anywhere (accounts/lockout.py).
    """

    scope = "auth"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not request.path.startswith(AUTH_PREFIX):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PerUserRateThrottle(SettingsRateThrottle):
    """Counts per user (per address before sign-in) the requests outside /auth/ whose method it covers."""

    reads: bool

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if (request.method in SAFE_METHODS) != self.reads or request.path.startswith(AUTH_PREFIX):
            return None
        user = request.user
        ident = f"user-{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class WriteRateThrottle(PerUserRateThrottle):
    """Every POST, PATCH and DELETE. Offline sync sends up to hundreds of logs in one request, so the
    rate counts requests, not logs."""

    scope = "write"
    reads = False


class ReadRateThrottle(PerUserRateThrottle):
    """Every GET: far above what an app showing a record needs, far below copying records in bulk."""

    scope = "read"
    reads = True
