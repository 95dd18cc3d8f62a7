"""Signed-in (admin) sessions end SESSION_COOKIE_AGE after sign-in, and SESSION_IDLE_TIMEOUT after the last request.

Django alone would keep a session alive for as long as it keeps being saved: the cookie age counts
from the last save. So the sign-in time and the last request are kept in the session, and checked here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse

SIGNED_IN_AT = "signed_in_at"
LAST_SEEN_AT = "last_seen_at"
# The last request is written at most once a minute, not on every request: an idle timeout of
# 30 minutes may run out up to a minute late, and a busy page costs no session write per request.
LAST_SEEN_RESOLUTION_SECONDS = 60


def session_clocks_start(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """At sign-in (the user_logged_in signal), both clocks start again: login() keeps an old session's data."""
    session = getattr(request, "session", None)
    # The token endpoint sends the signal too, with a DRF request: it has no session to start.
    if isinstance(request, HttpRequest) and session is not None:
        session[SIGNED_IN_AT] = session[LAST_SEEN_AT] = time.time()


class SessionTimeoutMiddleware:
    """Sign out a session past its lifetime or idle too long; the next page asks for the sign-in again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        # SESSION_KEY: a signed-in session. API calls with a bearer token carry no session and cost nothing here.
        if session is not None and SESSION_KEY in session:
            self._check(request)
        return self.get_response(request)

    @staticmethod
    def _check(request: HttpRequest) -> None:
        session = request.session
        now = time.time()
        signed_in_at = session.get(SIGNED_IN_AT)
        last_seen_at = session.get(LAST_SEEN_AT, signed_in_at)
        idle_seconds = settings.SESSION_IDLE_TIMEOUT.total_seconds()
        if signed_in_at is None or last_seen_at is None:
            # Every sign-in starts the clocks (session_clocks_start), so a session without them was signed in
            # before they existed: how old it is, or whether it ever gave a second factor, is unknown. It ends;
            # starting its clocks now would give it another full lifetime.
            reason = "You were signed out: your sign-in was from before the site's last update."
        elif now - signed_in_at > settings.SESSION_COOKIE_AGE:
            reason = f"You were signed out {settings.SESSION_COOKIE_AGE // 3600} hours after signing in."
        elif now - last_seen_at > idle_seconds:
            reason = f"You were signed out after {int(idle_seconds // 60)} minutes without activity."
        else:
            if now - last_seen_at >= LAST_SEEN_RESOLUTION_SECONDS:
                session[LAST_SEEN_AT] = now
            return
        logout(request)
        if hasattr(request, "_messages"):
            messages.info(request, f"{reason} Sign in again to go on.")
