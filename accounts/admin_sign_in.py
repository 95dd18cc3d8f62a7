"""Signing in to the admin in two steps: the password, then a code (or, the first time, enrolment).

After the password, an account that is asked for a second factor is only *pending* in the session:
it is not signed in, so no admin page and no session-authenticated API call works for it until a
code is accepted. Then Django's login() runs, with the device that verified it, which django-otp
keeps in the session (the admin site checks it on every page: tacro_topical/admin.py; the API too:
accounts/authentication.py).

Enrolment takes a code e-mailed to the account's address before the authenticator's secret is shown,
so a password alone cannot enrol someone else's authenticator (accounts/second_factor.py).
"""

from __future__ import annotations

import time
from base64 import b32encode
from typing import TYPE_CHECKING, Any, cast

import segno
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import login as auth_login
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import second_factor, services
from accounts.emails import AccountEmail
from accounts.lockout import lockout_response
from accounts.models import User

if TYPE_CHECKING:
    from django.contrib.admin import AdminSite

PENDING_SESSION_KEY = "admin_second_factor_pending"
# The account whose enrolment e-mail code this session typed: only this session is shown the secret.
EMAIL_PROVEN_SESSION_KEY = "admin_second_factor_email_proven"
# Long enough to find the phone and type a code; a half-signed-in session does not linger.
PENDING_SECONDS = 5 * 60
WRONG_CODE = (
    "That code was not accepted. Type the 6 digits your authenticator app shows now (a code works once), "
    "or one of your recovery codes. After repeated failures the account is locked for a while."
)
# Each step of the second page, by its template's name (admin/second_factor/<step>.html).
STEP_TITLES = {
    "enrol_email": "Set up your authenticator app: first, a code by e-mail",
    "enrol": "Set up your authenticator app",
    "verify": "Second factor",
}
WRONG_EMAIL_CODE = (
    "That code was not accepted. Type the 6 digits from the latest e-mail (a code works once, and for a few "
    "minutes), or send a new one. After repeated failures the account is locked for a while."
)


# --- The pending sign-in -------------------------------------------------------------------------


def pending_begin(request: HttpRequest, user: User) -> None:
    """Remember that `user` gave the right password; a code is still to come."""
    request.session.cycle_key()  # a new session id at each step up, as login() does
    request.session[PENDING_SESSION_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", None),
        # A password changed meanwhile ends the pending sign-in, as it ends sessions.
        "hash": user.get_session_auth_hash(),
        "since": time.time(),
    }


def pending_user(request: HttpRequest) -> User | None:
    """The account whose password this session gave, while it is still waiting for its code."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not pending:
        return None
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if (
        user is None
        or time.time() - pending["since"] > PENDING_SECONDS
        or not constant_time_compare(user.get_session_auth_hash(), pending["hash"])
    ):
        request.session.pop(PENDING_SESSION_KEY, None)
        return None
    user.backend = pending["backend"]
    return user


def email_proven(request: HttpRequest, user: User) -> bool:
    """This session typed the enrolment code e-mailed to `user`."""
    return bool(request.session.get(EMAIL_PROVEN_SESSION_KEY) == user.pk)


def email_proven_record(request: HttpRequest, user: User) -> None:
    """Remember the accepted e-mail code; a pending sign-in gets its 5 minutes again, to set up the app."""
    request.session.cycle_key()  # a step up, as at the password
    request.session[EMAIL_PROVEN_SESSION_KEY] = user.pk
    pending = request.session.get(PENDING_SESSION_KEY)
    if pending:
        request.session[PENDING_SESSION_KEY] = {**pending, "since": time.time()}


def sign_in_complete(request: HttpRequest, user: User, device: Device) -> None:
    """Both factors given: sign in, with the device that verified this session."""
    request.session.pop(PENDING_SESSION_KEY, None)
    request.session.pop(EMAIL_PROVEN_SESSION_KEY, None)
    user.otp_device = device  # type: ignore[attr-defined]  # django-otp's user_logged_in receiver keeps it
    auth_login(request, user, backend=getattr(user, "backend", None))


class PasswordStepLoginView(LoginView):
    """Django's admin login form; for an account with a second factor, the password is only the first step."""

    admin_site: AdminSite | None = None  # as_view(admin_site=...) sets it (tacro_topical/admin.py)

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if not second_factor.asks_for_second_factor(user):
            return super().form_valid(form)
        pending_begin(self.request, user)
        url = reverse("admin:second_factor", current_app=cast("AdminSite", self.admin_site).name)
        return HttpResponseRedirect(f"{url}?{urlencode({'next': self.get_success_url()})}")


# --- The second step -----------------------------------------------------------------------------


def second_factor_view(request: HttpRequest, admin_site: AdminSite) -> HttpResponse:
    """The code after the password; or, for an account without an authenticator yet, its enrolment.

    Enrolment has two steps: a code e-mailed to the account's address, then the authenticator's secret
    and its first code. A clinician already signed in without one (local mode, where it is optional) may
    enrol here too, through the same two steps.
    """
    next_url = _next_url(request, admin_site)
    user = pending_user(request)
    pending = user is not None
    if user is None and request.user.is_authenticated and admin_site.has_permission(request):
        user = request.user
    if user is None:
        login_url = reverse("admin:login", current_app=admin_site.name)
        return HttpResponseRedirect(f"{login_url}?{urlencode({'next': next_url})}")
    if not pending and second_factor.is_enrolled(user):
        return HttpResponseRedirect(next_url)

    credentials = {"username": user.email}
    if pending and not AxesProxyHandler.is_allowed(request, credentials):
        # Locked meanwhile (wrong passwords elsewhere, or codes here): the code step ends with the lock.
        request.session.pop(PENDING_SESSION_KEY, None)
        return lockout_response(request)

    enrolled = second_factor.is_enrolled(user)
    step = "verify" if enrolled else "enrol" if email_proven(request, user) else "enrol_email"
    context: dict[str, Any] = {
        **admin_site.each_context(request),
        "title": STEP_TITLES[step],
        "next": next_url,
        "error": None,
        "account": user.email,
        "sent": None,
    }
    if request.method == "POST" and "send" in request.POST:
        # Asking for the e-mail, from this page or an older copy of it: never a wrong code.
        if step == "enrol_email":
            context["sent"] = _enrolment_email_send(user)
    elif request.method == "POST":
        code = str(request.POST.get("code", ""))
        if step == "verify":
            device = second_factor.code_accepted(user, code)
            if device is not None:
                sign_in_complete(request, user, device)
                return HttpResponseRedirect(next_url)
        elif step == "enrol_email":
            if second_factor.enrolment_email_code_accepted(user, code):
                email_proven_record(request, user)
                # To the next step by GET, so reloading its page posts nothing again.
                return HttpResponseRedirect(f"{request.path}?{urlencode({'next': next_url})}")
        else:
            codes = second_factor.enrolment_confirm(user=user, code=code)
            if codes is not None:
                authenticator = TOTPDevice.objects.get(user=user, confirmed=True)
                if pending:
                    sign_in_complete(request, user, authenticator)
                else:
                    request.session.pop(EMAIL_PROVEN_SESSION_KEY, None)
                    otp_login(request, authenticator)
                return TemplateResponse(
                    request,
                    "admin/second_factor/recovery_codes.html",
                    {**context, "title": "Your recovery codes", "codes": codes},
                )
        if pending:
            # A wrong code, e-mailed or from the app, is a failed sign-in, counted by django-axes like a
            # wrong password.
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            if getattr(request, "axes_locked_out", False):
                request.session.pop(PENDING_SESSION_KEY, None)
                return lockout_response(request)
        context["error"] = WRONG_EMAIL_CODE if step == "enrol_email" else WRONG_CODE
    if step == "enrol":
        context.update(_enrolment(user))
    return TemplateResponse(request, f"admin/second_factor/{step}.html", context)


def _enrolment_email_send(user: User) -> bool:
    """E-mail `user` a new enrolment code, unless one was asked for within the last minute; whether it was.

    Through the one path of account e-mails (accounts/services.py): a worker sends it once this request's
    transaction commits.
    """
    if not second_factor.enrolment_email_may_send(user):
        return False
    services.account_email_after_commit(AccountEmail.SECOND_FACTOR_ENROLMENT, user.pk)
    return True


def _enrolment(user: User) -> dict[str, Any]:
    """What the person copies into their authenticator app: the otpauth:// URI, its secret, and a QR code."""
    device = second_factor.authenticator_to_enrol(user)
    secret = b32encode(device.bin_key).decode()
    return {
        "otpauth_uri": device.config_url,
        "secret_groups": [secret[start : start + 4] for start in range(0, len(secret), 4)],
        # An SVG as a data: URI: drawn on the server, nothing loaded from elsewhere (the CSP allows data: images).
        "qr_data_uri": segno.make(device.config_url, error="m").svg_data_uri(scale=4),
    }


def _next_url(request: HttpRequest, admin_site: AdminSite) -> str:
    """Where to go once signed in: the page asked for, if it is on this site, else the admin's index."""
    candidate = str(request.POST.get("next") or request.GET.get("next") or "")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index", current_app=admin_site.name)
