"""The API's browser-session authentication: DRF's, with the admin's second-factor rule.

A browser signed in to the admin also reaches the API with its session cookie. DRF's own
SessionAuthentication accepts any signed-in session; this one accepts only a session the admin site
would accept too (accounts/second_factor.py: session_is_verified), so the API is no way around the code.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from accounts import second_factor


class SecondFactorSessionAuthentication(SessionAuthentication):
    """A signed-in session, if its user needs no second factor or this session gave one.

    A session that still owes its code counts as no credentials at all (None, not an error): DRF then
    answers as for a request without any, 401 or 403, and another authenticator may still accept the request.
    """

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        authenticated = super().authenticate(request)
        # request._request: the Django request, whose user django-otp's middleware marked with its device.
        if authenticated is None or not second_factor.session_is_verified(request._request):
            return None
        return authenticated


class SecondFactorSessionScheme(SessionScheme):
    """The schema names it as it names DRF's: the session cookie (`cookieAuth`)."""

    target_class = "accounts.authentication.SecondFactorSessionAuthentication"
