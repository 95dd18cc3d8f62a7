"""django-axes hooks: which account a sign-in attempt is for, and what a locked-out caller sees."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext

from accounts.models import normalize_email_address


def username_from_credentials(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The e-mail an attempt signs in as, from the JWT endpoint (`email`) or the admin form (`username`)."""
    credentials = credentials or {}
    raw = credentials.get("email") or credentials.get("username")
    if raw is None:
        data = getattr(request, "data", None) or request.POST
        raw = data.get("email") or data.get("username")
    return normalize_email_address(str(raw)) if raw else None


def lockout_seconds(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_message(request: HttpRequest | None = None) -> str:
    minutes = max(1, lockout_seconds(request) // 60)
    return gettext(
        "Too many failed sign-in attempts: this account is locked for "
        "{minutes} minutes. Try again later, or ask your clinic to unlock it."
    ).format(minutes=minutes)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """429 with Retry-After; JSON under /api/, plain text for the admin's form."""
    message = lockout_message(request)
    response: HttpResponse
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": "account_locked"}, status=429)
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(lockout_seconds(request))
    return response
