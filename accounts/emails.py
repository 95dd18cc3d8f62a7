"""The e-mails about an account, each in the recipient's language, with a text and an HTML body.

None carries a password, a diagnosis or a treatment: only a greeting, what happened and a link (or,
for setting up an authenticator app, a single-use code).
They are sent by a worker (accounts.tasks), never in the request, so a request takes as long whether an
address has an account or not.
"""

from __future__ import annotations

import math
from enum import StrEnum

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts import links, second_factor
from accounts.models import User


class AccountEmail(StrEnum):
    VERIFY_EMAIL = "verify_email"
    # Someone tried to register an address that has an account: its owner hears, with a reset link.
    REGISTRATION_ATTEMPT = "registration_attempt"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - the name of an e-mail, not a password
    # A clinician setting up an authenticator app proves the mailbox is theirs, not only the password.
    SECOND_FACTOR_ENROLMENT = "second_factor_enrolment"


# Subjects travel in the clear and show on lock screens: nothing about the person's health in them.
SUBJECTS: dict[AccountEmail, Promise] = {
    AccountEmail.VERIFY_EMAIL: _("Confirm your e-mail address"),
    AccountEmail.REGISTRATION_ATTEMPT: _("Someone tried to create an account with your e-mail address"),
    AccountEmail.PASSWORD_RESET: _("Choose a new password"),
    # Not the code itself: a lock screen shows the subject to whoever holds the phone.
    AccountEmail.SECOND_FACTOR_ENROLMENT: _("Your code to set up your authenticator app"),
}


def account_email_send(kind: AccountEmail, user: User) -> None:
    """Write and send one e-mail to `user`, in `user.language`."""
    with translation.override(user.language):
        context = {"user": user, **_links(kind, user)}
        email = EmailMultiAlternatives(
            subject=str(SUBJECTS[kind]),
            body=render_to_string(f"accounts/email/{kind}.txt", context),
            to=[user.email],
        )
        email.attach_alternative(render_to_string(f"accounts/email/{kind}.html", context), "text/html")
    email.send()


def _links(kind: AccountEmail, user: User) -> dict[str, object]:
    if kind == AccountEmail.SECOND_FACTOR_ENROLMENT:
        # A new code at each e-mail, made as it is written: only the latest one sent works.
        return {
            "code": second_factor.enrolment_email_code_issue(user),
            "minutes": second_factor.enrolment_email_code_minutes(),
        }
    if kind == AccountEmail.VERIFY_EMAIL:
        return {
            "link": links.verify_email_link(user),
            "days": settings.ACCOUNT_EMAIL_VERIFICATION_MAX_AGE.days,
        }
    return {"link": links.reset_password_link(user), "minutes": math.ceil(settings.PASSWORD_RESET_TIMEOUT / 60)}
