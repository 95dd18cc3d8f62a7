"""Rate limits: sign-in and registration per address, every write per user, the items of offline sync
per user, a generous ceiling on reads per user (so nobody scrapes records at machine speed), and the
health check per address.

Each answers 429 with Retry-After (DRF's Throttled). Counts live in the Django cache: set
CACHE_URL to Redis in production, or each process counts on its own. Every throttle here, DRF's
scoped one included, knows a client by `client_network`: the address from `client_address`
(tacro_topical/client_address.py), the one function the sign-in lockout uses too, with an IPv6
address counted by its /64.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings

from tacro_topical.client_address import client_network

logger = logging.getLogger(__name__)

AUTH_PREFIX = "/api/v1/auth/"
# The URL name of POST /api/v1/patients/{patient}/sync/ (tracking/urls.py).
SYNC_ROUTE_NAME = "sync"
UNKNOWN_CLIENT = "unknown"


class ClientAddressThrottle(throttling.BaseThrottle):
    """Counts anonymous callers by `client_network` (the address, or an IPv6 address's /64), never by
    DRF's own reading of X-Forwarded-For."""

    def get_ident(self, request: Request) -> str:
        return client_network(request) or UNKNOWN_CLIENT


class ScopedRateThrottle(ClientAddressThrottle, throttling.ScopedRateThrottle):
    """DRF's per-view scoped throttle (`throttle_scope` on the view), with our client address."""


class SettingsRateThrottle(ClientAddressThrottle, throttling.SimpleRateThrottle):
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
        if not request.path_info.startswith(AUTH_PREFIX):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PerUserRateThrottle(SettingsRateThrottle):
    """Counts per user (per address before sign-in) the requests outside /auth/ whose method it covers."""

    reads: bool

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if (request.method in SAFE_METHODS) != self.reads or request.path_info.startswith(AUTH_PREFIX):
            return None
        user = request.user
        ident = f"user-{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class WriteRateThrottle(PerUserRateThrottle):
    """Every POST, PATCH and DELETE, a sync batch as one request: its items count in SyncItemsRateThrottle."""

    scope = "write"
    reads = False


class ReadRateThrottle(PerUserRateThrottle):
    """Every GET: far above what an app showing a record needs, far below copying records in bulk."""

    scope = "read"
    reads = True


class SyncItemsRateThrottle(PerUserRateThrottle):
    """The logs an account sends through sync, counted per item, per user.

    A sync batch carries up to 2,000 logs in one request, so counting it as one write let one account
    store the write rate times 2,000 rows a minute. Items get a rate of their own rather than counting
    against the write rate: a whole batch must fit in one window, and 2,000 writes a minute would let a
    script hammer the single routes too. A batch that does not fit in what is left of the window is
    refused whole (nothing of it is stored), with Retry-After saying when it will fit.

    The window is a log of (time, items) per user, like DRF's log of request times. Reading and
    writing it are two cache calls, so two batches racing from one account may both pass: the limit
    is per account, and the write rate still bounds how often an account can try.
    """

    scope = "sync_items"
    reads = False
    # Set by SimpleRateThrottle.__init__ from the rate (never None past allow_request's first line).
    num_requests: int
    duration: int
    items: int

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        match = request.resolver_match
        if match is None or match.url_name != SYNC_ROUTE_NAME:
            return None
        return super().get_cache_key(request, view)

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        # Reading the body here parses it: a body that is not JSON is DRF's 400, as it would be in the view.
        self.items = sync_items_in(request.data)
        self.now = self.timer()
        self.history = [entry for entry in self.cache.get(self.key, []) if entry[0] > self.now - self.duration]
        if sum(items for _time, items in self.history) + self.items > self.num_requests:
            return False
        if self.items:
            self.history.insert(0, (self.now, self.items))
            self.cache.set(self.key, self.history, self.duration)
        return True

    def wait(self) -> float | None:
        """Seconds until enough of the oldest batches leave the window for this one to fit."""
        excess = sum(items for _time, items in self.history) + self.items - self.num_requests
        for sent_at, items in reversed(self.history):
            excess -= items
            if excess <= 0:
                return max(0.0, sent_at + self.duration - self.now)
        # A batch larger than the whole rate never fits; THROTTLE_SYNC_ITEMS must allow one full batch.
        return float(self.duration)


def sync_items_in(data: Any) -> int:
    """How many logs a sync body carries: the items of its lists.

    A body the sync view refuses whole (not an object, or more items than one batch may hold) counts
    nothing, since nothing of it is stored, so the client hears the view's 400 saying why.
    """
    # At call time: DRF loads this module with its settings, before any app is ready.
    from tracking.rules import SYNC_MAX_ITEMS

    if not isinstance(data, dict):
        return 0
    items = sum(len(value) for value in data.values() if isinstance(value, list))
    return items if items <= SYNC_MAX_ITEMS else 0


class HealthRateThrottle(SettingsRateThrottle):
    """The health check, per client address: far above a load balancer's polling, and it keeps anyone
    else from turning the check into load on the database."""

    scope = "health"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as error:  # any cache backend's own error
            # Fail open: the health check must answer (503 if the broker shares the cache's Redis),
            # not 500, when the cache holding the counts is down.
            logger.warning("health: throttle cache unavailable (%s)", type(error).__name__)
            return True
