"""JSON Web Tokens that belong to a sign-in session (accounts.models.AuthSession), on simplejwt.

simplejwt signs, expires, rotates and blacklists the tokens; this module adds the session:
- every token carries its session's id (claim `sid`), and works only while the session is in force,
  access tokens included: ending a session (signing out, a password change or reset, a replaced refresh
  token shown again) ends all its tokens at once, without waiting for them to expire;
- a session is in force only with the password it signed in with (AuthSession.auth_hash), so a password
  set outside the API (the admin's password pages, `manage.py changepassword`) ends it too;
- a session lasts at most ACCOUNT_SESSION_LIFETIME from its sign-in: a refresh token, and an access
  token, never outlive it, however often they are refreshed;
- a refresh token works once. One shown again after it was replaced has been copied, or its client is
  confused: either way the whole session ends, so the copy and the successor both stop working.

A token without `sid` (simplejwt's bare `for_user`, or one from before sessions existed) belongs to no
session: it cannot be refreshed, and as an access token it is refused once the account has ended its
sign-ins after it was issued (User.sessions_ended_at). It lasts ACCESS_TOKEN_LIFETIME at most. A password
set outside the API does not refuse it, and need not: the API issues no such token (every sign-in starts a
session), so the last ones expired ACCESS_TOKEN_LIFETIME after the release that brought sessions; only
code calling simplejwt directly (tests) makes new ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme, TokenRefreshSerializerExtension
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.utils import datetime_to_epoch

from accounts import services
from accounts.models import AuthSession, SessionEnd, User

SESSION_CLAIM = "sid"
SESSION_ENDED = gettext_lazy("This sign-in has ended. Sign in again.")
NO_SESSION = gettext_lazy("This refresh token is from an older version of the app. Sign in again.")


# The one answer to a sign-in refused for its credentials or for an unconfirmed address, in one body and
# code. Answering an unconfirmed account differently would not reach only its holder: whoever registers
# an address chooses the password, so "confirm your address" after that password would mean the address
# was free, and "wrong password" that someone is already treated here. The words help both people.
# simplejwt's TokenObtainSerializer sends error_messages["no_active_account"] for both; the sign-in
# serializer (accounts.auth_apis.EmailTokenObtainPairSerializer) takes its wording from here.
SIGN_IN_REFUSED = gettext_lazy(
    "Wrong e-mail address or password, or the address is not confirmed yet: "
    "follow the link we e-mailed you when you registered."
)


def may_sign_in(user: User | None) -> bool:
    """simplejwt's USER_AUTHENTICATION_RULE, on signing in and on every refresh: an active account, whose
    address is confirmed where settings.ACCOUNT_EMAIL_VERIFICATION_REQUIRED says it must be.

    False, never an error of its own: simplejwt then answers as for wrong credentials (SIGN_IN_REFUSED).
    """
    if user is None or not user.is_active:
        return False
    return not (settings.ACCOUNT_EMAIL_VERIFICATION_REQUIRED and user.email_verified_at is None)


class SessionRefreshToken(RefreshToken):
    """simplejwt's refresh token, naming its session."""

    @classmethod
    def for_user(cls, user: Any) -> SessionRefreshToken:
        """A sign-in: a new session, and the first refresh token of its family."""
        return cls.for_session(services.session_start(user=user))

    @classmethod
    def for_session(cls, session: AuthSession) -> SessionRefreshToken:
        """The next refresh token of a session, expiring no later than the session."""
        token = cls()
        token[api_settings.USER_ID_CLAIM] = str(session.user_id)
        token[SESSION_CLAIM] = str(session.pk)
        token["exp"] = min(token["exp"], datetime_to_epoch(session.expires_at))
        token.outstand()  # simplejwt's record of it, which blacklisting marks
        return token

    @property
    def access_token(self) -> AccessToken:
        access = super().access_token  # copies `sid`
        access["exp"] = min(access["exp"], self["exp"])
        return access

    def check_blacklist(self) -> None:
        # simplejwt calls this once the signature and expiry have been checked, so the `sid` is ours.
        try:
            super().check_blacklist()
        except TokenError:
            session_id = self.payload.get(SESSION_CLAIM)
            if session_id:
                services.session_end(session_id=session_id, reason=SessionEnd.TOKEN_REUSED)
            raise


def session_id_of(token: Any) -> uuid.UUID | None:
    """The session a validated token belongs to, or None (no token, or one without a session)."""
    raw = token.get(SESSION_CLAIM) if token is not None else None
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def _session_in_force(token: Any) -> AuthSession | None:
    """The token's session, with its user, if it has not ended, has not expired, and signed in with the
    user's current password; None otherwise. The one check of a session, for every token."""
    session_id = session_id_of(token)
    if session_id is None:
        return None
    try:
        session = (
            AuthSession.objects.in_force(timezone.now())
            .select_related("user")
            .filter(pk=session_id, user_id=token[api_settings.USER_ID_CLAIM])
            .first()
        )
    except (KeyError, ValidationError, ValueError):
        return None
    if session is None or not _signed_in_with_current_password(session):
        return None
    return session


def _signed_in_with_current_password(session: AuthSession) -> bool:
    # A password set outside the API's own change (the admin's password pages, `changepassword`) ends no
    # session row, but it changes the user's hash. Django's fallbacks keep sessions across a rotation of
    # SECRET_KEY that lists the old key in SECRET_KEY_FALLBACKS, as Django's own session cookies do.
    # A hasher upgrade while signing in (Django re-hashes an outdated hash) changes it too: the account's
    # other sessions end then, once, as its admin session cookies would.
    user = session.user
    return any(
        constant_time_compare(session.auth_hash, current)
        for current in (user.get_session_auth_hash(), *user.get_session_auth_fallback_hash())
    )


@dataclass(frozen=True)
class RefreshInForce:
    token: SessionRefreshToken
    user: User
    session: AuthSession | None  # None for a token from before sessions existed


def refresh_in_force(raw: str, *, session_required: bool = True) -> RefreshInForce:
    """A refresh token that may still be used: signed, unexpired, never replaced, its session in force.

    Raises TokenError (401) otherwise. A token replaced earlier ends its session here.
    """
    token = SessionRefreshToken(cast(Any, raw))  # simplejwt annotates the encoded token as a Token; it is a str
    session = _session_in_force(token)
    if session is not None:
        return RefreshInForce(token, session.user, session)
    if session_id_of(token) is not None:
        raise TokenError(SESSION_ENDED)
    if session_required:
        raise TokenError(NO_SESSION)
    user = User.objects.filter(pk=token.get(api_settings.USER_ID_CLAIM)).first()
    if user is None or not _issued_after_sessions_ended(token, user):
        raise TokenError(SESSION_ENDED)
    return RefreshInForce(token, user, None)


def _issued_after_sessions_ended(token: Any, user: User) -> bool:
    # `iat` is whole seconds: a token issued in the very second the sign-ins ended counts as before.
    ended = user.sessions_ended_at
    return ended is None or token["iat"] > ended.timestamp()


class SessionTokenRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, within the session: the old token is blacklisted, the new one ends with the session."""

    token_class = SessionRefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = refresh_in_force(attrs["refresh"])
        session = refresh.session
        if session is None:  # not reached: refresh_in_force requires a session unless told otherwise
            raise TokenError(NO_SESSION)
        if not api_settings.USER_AUTHENTICATION_RULE(refresh.user):
            raise AuthenticationFailed(str(self.error_messages["no_active_account"]), "no_active_account")
        with transaction.atomic():
            # Two requests with one token can both pass the checks above; the blacklist's unique row lets
            # only the first through, and the second is a reuse like any other.
            # simplejwt annotates blacklist() as one row; it returns get_or_create's (row, created).
            _, first_use = cast(tuple[BlacklistedToken, bool], refresh.token.blacklist())
            successor = SessionRefreshToken.for_session(session) if first_use else None
        if successor is None:
            services.session_end(session_id=session.pk, reason=SessionEnd.TOKEN_REUSED)
            raise TokenError(SESSION_ENDED)
        return {"access": str(successor.access_token), "refresh": str(successor)}


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer-token authentication, refusing a token whose session has ended.

    One query, as before: the session with its user.
    """

    def get_user(self, validated_token: Any) -> Any:
        if session_id_of(validated_token) is None:
            user = cast(User, super().get_user(validated_token))
            if not _issued_after_sessions_ended(validated_token, user):
                raise AuthenticationFailed(str(SESSION_ENDED), code="session_ended")
            return user
        session = _session_in_force(validated_token)
        if session is None:
            raise AuthenticationFailed(str(SESSION_ENDED), code="session_ended")
        if not session.user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        return session.user


# The schema describes these as simplejwt's own: the same `jwtAuth` scheme and `TokenRefresh` bodies.
class SessionJWTScheme(SimpleJWTScheme):
    target_class = "accounts.tokens.SessionJWTAuthentication"


class SessionTokenRefreshSerializerScheme(TokenRefreshSerializerExtension):
    target_class = "accounts.tokens.SessionTokenRefreshSerializer"

    def get_name(self, auto_schema: Any, direction: str) -> str:
        return "TokenRefresh"
