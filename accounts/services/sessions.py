"""Sign-in sessions: started, ended one by one or all at once, pruned (accounts.tokens issues and checks the tokens)."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import (
    AuthSession,
    SessionEnd,
    User,
)


@transaction.atomic
def session_start(*, user: User) -> AuthSession:
    """A new sign-in: it lasts at most ACCOUNT_SESSION_LIFETIME, however often its tokens are refreshed."""
    now = timezone.now()
    session = AuthSession(
        user=user,
        started_at=now,
        expires_at=now + settings.ACCOUNT_SESSION_LIFETIME,
        auth_hash=user.get_session_auth_hash(),
    )
    session.save()
    return session


@transaction.atomic
def session_end(*, session_id: uuid.UUID | str, reason: SessionEnd) -> bool:
    """End one sign-in: every token it gave, access and refresh, stops working. False if it had ended."""
    ended = AuthSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )
    return bool(ended)


@transaction.atomic
def user_sessions_end(*, user: User, reason: SessionEnd, keep_session_id: uuid.UUID | None = None) -> int:
    """End every sign-in of the account but `keep_session_id`, and refuse tokens issued before now that
    carry no session (accounts.tokens); return how many sessions ended.

    The kept session takes the user's password as it is now: after a password change it would otherwise be
    refused with the others (AuthSession.auth_hash).
    """
    now = timezone.now()
    user.sessions_ended_at = now
    user.save(update_fields=["sessions_ended_at"])
    others = AuthSession.objects.filter(user=user, ended_at__isnull=True)
    if keep_session_id is not None:
        others = others.exclude(pk=keep_session_id)
        AuthSession.objects.filter(pk=keep_session_id, user=user, ended_at__isnull=True).update(
            auth_hash=user.get_session_auth_hash()
        )
    return others.update(ended_at=now, end_reason=reason)


@transaction.atomic
def sessions_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete sign-ins that ended or expired more than ACCOUNT_ENDED_SESSIONS_KEPT ago, and simplejwt's
    records of refresh tokens past their expiry (what its flushexpiredtokens command does).

    Their tokens are refused already: the rows would only grow. Ended sessions are kept a while first, to
    answer "when did this account sign in, and how did it end" after an incident. Returns the sessions deleted.
    """
    now = now or timezone.now()
    cutoff = now - settings.ACCOUNT_ENDED_SESSIONS_KEPT
    OutstandingToken.objects.filter(expires_at__lte=now).delete()
    ended = AuthSession.objects.filter(Q(ended_at__lte=cutoff) | Q(expires_at__lte=cutoff))
    deleted, _by_model = ended.delete()
    return deleted
