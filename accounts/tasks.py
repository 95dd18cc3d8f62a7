"""Celery tasks for accounts: thin. They take ids, load rows and send."""

from __future__ import annotations

from celery import shared_task

from accounts import services
from accounts.emails import AccountEmail, account_email_send
from accounts.models import User

# A mail server that does not answer now may later: SMTP errors are OSErrors. The wait doubles from 30 s.
EMAIL_RETRY = {"autoretry_for": (OSError,), "retry_backoff": 30, "max_retries": 6}


@shared_task(name="accounts.tasks.send_account_email", ignore_result=True, **EMAIL_RETRY)
def send_account_email(kind: str, user_id: int | None) -> None:
    """Send one account e-mail to an active user; nothing when there is no such user.

    `user_id` is None for an address without an account: the request sent the task all the same, so
    that it looked and took the same whether the address has an account or not.
    """
    if user_id is None:
        return
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        account_email_send(AccountEmail(kind), user)


@shared_task(name="accounts.tasks.prune_sessions", ignore_result=True)
def prune_sessions() -> None:
    """Daily: drop long-ended sign-ins and expired refresh-token records (accounts.services.sessions_prune)."""
    services.sessions_prune()
