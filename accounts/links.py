"""The signed links accounts e-mail: confirming an address, and choosing a new password.

Both are Django's own tools. A reset link is `PasswordResetTokenGenerator`'s token: it hashes the password
and the last sign-in, so it works once (setting the password changes the hash) and until
PASSWORD_RESET_TIMEOUT. A confirmation link is a `django.core.signing` token with its own age limit,
bound to the address it was sent to. Links open the web app (issue #16), which posts what they carry:

- `{SITE_URL}/app/#/verify-email?token=<token>`: POST auth/verify-email/ `{token}`;
- `{SITE_URL}/app/#/reset-password?uid=<uid>&token=<token>`: POST auth/password/reset/confirm/
  `{uid, token, new_password}`.

Everything after `#` stays in the browser: it is never sent to a server, so never in an access log.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import User

VERIFY_EMAIL_SALT = "accounts.links.verify-email"
VERIFY_EMAIL_PATH = "/app/#/verify-email"
RESET_PASSWORD_PATH = "/app/#/reset-password"  # noqa: S105 - a path, not a password


def _address_fingerprint(email: str) -> str:
    # Binds a confirmation link to the address it went to, without putting the address in the link.
    return salted_hmac(VERIFY_EMAIL_SALT, email, algorithm="sha256").hexdigest()[:20]


def email_verification_token(user: User) -> str:
    """A token confirming `user.email`, good for ACCOUNT_EMAIL_VERIFICATION_MAX_AGE."""
    return signing.dumps([user.pk, _address_fingerprint(user.email)], salt=VERIFY_EMAIL_SALT)


def user_for_email_verification_token(token: str) -> User | None:
    """The active user whose current address the token confirms, or None (bad, expired, another address)."""
    try:
        user_id, fingerprint = signing.loads(
            token, salt=VERIFY_EMAIL_SALT, max_age=settings.ACCOUNT_EMAIL_VERIFICATION_MAX_AGE
        )
    except (signing.BadSignature, TypeError, ValueError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first() if isinstance(user_id, int) else None
    if user is None or fingerprint != _address_fingerprint(user.email):
        return None
    return user


def password_reset_uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def user_id_from_reset_uid(uid: str) -> int | None:
    try:
        return int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None


def password_reset_token_is_valid(user: User, token: str) -> bool:
    return default_token_generator.check_token(user, token)


def verify_email_link(user: User) -> str:
    return _web_app_link(VERIFY_EMAIL_PATH, token=email_verification_token(user))


def reset_password_link(user: User) -> str:
    return _web_app_link(
        RESET_PASSWORD_PATH, uid=password_reset_uid(user), token=default_token_generator.make_token(user)
    )


def _web_app_link(path: str, **query: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}?{urlencode(query)}"
