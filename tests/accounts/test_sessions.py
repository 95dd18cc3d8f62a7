"""Sign-in sessions: every token belongs to one, and ending it ends them all (issue #22, Medium 4).

A password change or reset ends every token issued before it; a session ends at the latest 30 days after
signing in, however often it is refreshed; a replaced refresh token shown again ends its whole session;
signing out with `all` ends every session of the account, access tokens included.
"""

from __future__ import annotations

import datetime
import importlib
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken

from accounts import links, services, tokens
from accounts.models import AuthSession, Role, SessionEnd, User
from accounts.tokens import SessionJWTAuthentication, SessionRefreshToken
from tests.accounts.test_auth import LOGOUT_URL, ME_URL, NEW_PASSWORD, REFRESH_URL, sign_in
from tests.factories import TEST_PASSWORD, UserFactory
from tests.personas import admin_client_as

pytestmark = pytest.mark.django_db

CHANGE_URL = "/api/v1/auth/password/change/"
RESET_CONFIRM_URL = "/api/v1/auth/password/reset/confirm/"
SIGN_IN_AT = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC)


def pair_for(user: User, password: str = TEST_PASSWORD) -> dict[str, str]:
    response = sign_in(APIClient(), user.email, password)
    assert response.status_code == 200, response.content
    return response.json()


def me_with(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(ME_URL).status_code


def refresh_with(refresh: str) -> Any:
    return APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json")


def change_password(access: str, old: str = TEST_PASSWORD, new: str = NEW_PASSWORD) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.post(CHANGE_URL, {"old_password": old, "new_password": new}, format="json")


def reset_password(user: User, new: str = NEW_PASSWORD) -> Any:
    user.refresh_from_db()  # the link hashes the last sign-in, which signing in just changed
    body = {
        "uid": links.password_reset_uid(user),
        "token": default_token_generator.make_token(user),
        "new_password": new,
    }
    return APIClient().post(RESET_CONFIRM_URL, body, format="json")


# --- Every token names its session -----------------------------------------------------------------


def test_signing_in_starts_a_session_that_both_tokens_name() -> None:
    user = UserFactory()

    pair = pair_for(user)

    (session,) = AuthSession.objects.filter(user=user)
    assert UntypedToken(pair["access"])["sid"] == str(session.pk)
    assert UntypedToken(pair["refresh"])["sid"] == str(session.pk)
    assert session.expires_at - session.started_at == settings.ACCOUNT_SESSION_LIFETIME


def test_authenticating_a_session_token_is_one_query_and_still_refuses_an_inactive_account(
    django_assert_num_queries: Any,
) -> None:
    user = UserFactory()
    access = pair_for(user)["access"]
    request = RequestFactory().get(ME_URL, HTTP_AUTHORIZATION=f"Bearer {access}")

    with django_assert_num_queries(1):  # the session and its user, as simplejwt's own check read the user
        authenticated, token = SessionJWTAuthentication().authenticate(request)

    assert (authenticated, token["sid"]) == (user, str(AuthSession.objects.get(user=user).pk))
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert me_with(access) == 401


# --- A password change or reset ends the tokens issued before it ---------------------------------


def test_a_password_change_ends_every_other_sign_in_access_and_refresh_tokens_alike() -> None:
    user = UserFactory()
    this_device, other_device = pair_for(user), pair_for(user)

    assert change_password(this_device["access"]).status_code == 204

    assert me_with(other_device["access"]) == 401
    assert refresh_with(other_device["refresh"]).status_code == 401
    # "Every other token" (API.md): the session the change came from stays signed in.
    assert me_with(this_device["access"]) == 200
    assert refresh_with(this_device["refresh"]).status_code == 200


def test_a_password_change_ends_a_token_that_has_no_session() -> None:
    # simplejwt's bare for_user() makes these (tests do; tokens from before sessions are such too).
    user = UserFactory()
    bare = str(AccessToken.for_user(user))
    assert me_with(bare) == 200
    this_device = pair_for(user)

    with time_machine.travel(datetime.timedelta(seconds=1)):
        assert change_password(this_device["access"]).status_code == 204

        assert me_with(bare) == 401


def test_a_password_reset_ends_every_token_issued_before_it() -> None:
    user = UserFactory()
    first, second = pair_for(user), pair_for(user)

    assert reset_password(user).status_code == 204

    for pair in (first, second):
        assert me_with(pair["access"]) == 401
        assert refresh_with(pair["refresh"]).status_code == 401
    assert me_with(pair_for(user, NEW_PASSWORD)["access"]) == 200


# --- A password set outside the API ends the account's sessions too (review of #22, defect 3) ------------


def test_a_password_a_superuser_sets_on_the_admins_password_page_ends_every_session_of_the_account() -> None:
    user = UserFactory()
    phone, laptop = pair_for(user), pair_for(user)
    superuser = UserFactory(is_superuser=True, is_staff=True, role=Role.CLINIC_STAFF)

    response = admin_client_as(superuser).post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content
    for pair in (phone, laptop):
        assert me_with(pair["access"]) == 401
        assert refresh_with(pair["refresh"]).status_code == 401
    assert me_with(pair_for(user, NEW_PASSWORD)["access"]) == 200


def test_a_clinician_changing_their_own_password_in_the_admin_ends_their_api_sessions(dermatologist: User) -> None:
    app = pair_for(dermatologist)

    response = admin_client_as(dermatologist).post(
        "/admin/password_change/",
        {"old_password": TEST_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302, response.content
    assert me_with(app["access"]) == 401
    assert refresh_with(app["refresh"]).status_code == 401


def _with_djangos_password_change_form(user: User) -> None:
    form = PasswordChangeForm(
        user, {"old_password": TEST_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert form.is_valid(), form.errors
    form.save()


def _with_set_password_and_save(user: User) -> None:
    # What `manage.py changepassword` does.
    user.set_password(NEW_PASSWORD)
    user.save()


@pytest.mark.parametrize("change", [_with_djangos_password_change_form, _with_set_password_and_save])
def test_a_password_set_through_django_without_the_api_ends_every_session_of_the_account(
    change: Callable[[User], None],
) -> None:
    user = UserFactory()
    pair = pair_for(user)
    assert me_with(pair["access"]) == 200

    change(User.objects.get(pk=user.pk))

    assert me_with(pair["access"]) == 401
    assert refresh_with(pair["refresh"]).status_code == 401


def test_the_apis_password_change_keeps_the_callers_session_on_the_new_password() -> None:
    user = UserFactory()
    this_device = pair_for(user)

    assert change_password(this_device["access"]).status_code == 204

    session = AuthSession.objects.get(pk=UntypedToken(this_device["access"])["sid"])
    user.refresh_from_db()
    assert session.auth_hash == user.get_session_auth_hash()
    assert me_with(this_device["access"]) == 200
    rotated = refresh_with(this_device["refresh"])
    assert rotated.status_code == 200
    # It follows the password it was carried over to: another change, made elsewhere, ends it.
    _with_set_password_and_save(User.objects.get(pk=user.pk))
    assert me_with(rotated.json()["access"]) == 401


def test_rotating_the_secret_key_keeps_sessions_only_with_the_old_key_as_a_fallback_as_django_does() -> None:
    pair = pair_for(UserFactory())
    new_key = "a-new-secret-key-long-enough-for-django-0123456789"

    with override_settings(SECRET_KEY=new_key, SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]):
        assert me_with(pair["access"]) == 200
    with override_settings(SECRET_KEY=new_key, SECRET_KEY_FALLBACKS=[]):
        assert me_with(pair["access"]) == 401


def test_the_migration_fingerprints_the_sessions_in_force_before_it() -> None:
    user = UserFactory()
    pair = pair_for(user)
    ended = services.session_start(user=user)
    services.session_end(session_id=ended.pk, reason=SessionEnd.SIGNED_OUT)
    AuthSession.objects.update(auth_hash="")  # as the column arrives
    assert me_with(pair["access"]) == 401

    migration = importlib.import_module("accounts.migrations.0006_session_auth_hash_email_text_rule")
    migration.fingerprint_sessions_not_ended(django_apps, SimpleNamespace(connection=connection))

    assert me_with(pair["access"]) == 200
    assert AuthSession.objects.get(pk=ended.pk).auth_hash == ""


def test_tokens_issued_after_a_password_change_work() -> None:
    user = UserFactory()
    assert change_password(pair_for(user)["access"]).status_code == 204

    fresh = pair_for(user, NEW_PASSWORD)

    assert me_with(fresh["access"]) == 200
    assert refresh_with(fresh["refresh"]).status_code == 200


# --- A session ends 30 days after signing in, however often it is refreshed -------------------------


def test_refreshing_never_takes_a_session_past_30_days_from_signing_in() -> None:
    assert settings.ACCOUNT_SESSION_LIFETIME == datetime.timedelta(days=30)
    user = UserFactory()
    with time_machine.travel(SIGN_IN_AT, tick=False):
        refresh = pair_for(user)["refresh"]
    for day in (10, 20, 29):
        with time_machine.travel(SIGN_IN_AT + datetime.timedelta(days=day), tick=False):
            response = refresh_with(refresh)
            assert response.status_code == 200, (day, response.content)
            refresh = response.json()["refresh"]
            access = response.json()["access"]
    end = int((SIGN_IN_AT + datetime.timedelta(days=30)).timestamp())
    assert UntypedToken(refresh, verify=False)["exp"] == end
    assert UntypedToken(access, verify=False)["exp"] <= end

    with time_machine.travel(SIGN_IN_AT + datetime.timedelta(days=30, seconds=1), tick=False):
        assert refresh_with(refresh).status_code == 401


def test_an_access_token_stops_when_its_session_reaches_its_end() -> None:
    user = UserFactory()
    with time_machine.travel(SIGN_IN_AT, tick=False):
        refresh = pair_for(user)["refresh"]
    last_minute = SIGN_IN_AT + datetime.timedelta(days=30, minutes=-5)
    with time_machine.travel(last_minute, tick=False):
        access = refresh_with(refresh).json()["access"]
        assert me_with(access) == 200

    # Its own 15 minutes would run until 30 days and 10 minutes; the session's end comes first.
    with time_machine.travel(last_minute + datetime.timedelta(minutes=6), tick=False):
        assert me_with(access) == 401


# --- A replaced refresh token shown again ends the whole session -----------------------------------


def test_reusing_a_replaced_refresh_token_ends_the_whole_session_successors_included() -> None:
    user = UserFactory()
    first = pair_for(user)
    second = refresh_with(first["refresh"]).json()

    reused = refresh_with(first["refresh"])

    assert reused.status_code == 401
    assert set(reused.json()) == {"detail"}
    assert refresh_with(second["refresh"]).status_code == 401
    # At once, not when the access token expires: API.md says reuse ends the whole session.
    assert me_with(second["access"]) == 401
    assert AuthSession.objects.get(user=user).end_reason == SessionEnd.TOKEN_REUSED


def test_reuse_ends_the_session_it_belongs_to_and_no_other() -> None:
    user = UserFactory()
    stolen, other_device = pair_for(user), pair_for(user)
    successor = refresh_with(stolen["refresh"]).json()

    refresh_with(stolen["refresh"])

    assert refresh_with(successor["refresh"]).status_code == 401
    assert me_with(other_device["access"]) == 200
    assert refresh_with(other_device["refresh"]).status_code == 200


def test_two_refreshes_racing_with_one_token_end_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    user = UserFactory()
    pair = pair_for(user)
    # Both requests pass the blacklist check before either blacklists the token.
    monkeypatch.setattr(SessionRefreshToken, "check_blacklist", lambda self: None)
    winner = refresh_with(pair["refresh"])
    assert winner.status_code == 200

    loser = refresh_with(pair["refresh"])

    assert loser.status_code == 401
    assert me_with(winner.json()["access"]) == 401
    monkeypatch.undo()
    assert refresh_with(winner.json()["refresh"]).status_code == 401


def test_a_refresh_token_without_a_session_is_refused_asking_to_sign_in_again() -> None:
    bare = str(RefreshToken.for_user(UserFactory()))

    response = refresh_with(bare)

    assert response.status_code == 401
    assert "Sign in again" in response.json()["detail"]


# --- Signing out ------------------------------------------------------------------------------------


def test_signing_out_ends_that_session_at_once_and_no_other() -> None:
    user = UserFactory()
    leaving, staying = pair_for(user), pair_for(user)

    response = APIClient().post(LOGOUT_URL, {"refresh": leaving["refresh"]}, format="json")

    assert response.status_code == 205
    assert me_with(leaving["access"]) == 401
    assert refresh_with(leaving["refresh"]).status_code == 401
    assert me_with(staying["access"]) == 200
    assert refresh_with(staying["refresh"]).status_code == 200


def test_signing_out_with_all_ends_every_session_of_the_account_access_tokens_too() -> None:
    user = UserFactory()
    phone, laptop, tablet = pair_for(user), pair_for(user), pair_for(user)
    someone_else = pair_for(UserFactory())

    response = APIClient().post(LOGOUT_URL, {"refresh": phone["refresh"], "all": True}, format="json")

    assert response.status_code == 205
    for pair in (phone, laptop, tablet):
        assert me_with(pair["access"]) == 401
        assert refresh_with(pair["refresh"]).status_code == 401
    assert me_with(someone_else["access"]) == 200
    assert set(AuthSession.objects.filter(user=user).values_list("end_reason", flat=True)) == {
        SessionEnd.SIGNED_OUT_EVERYWHERE
    }


def test_signing_out_with_a_token_whose_session_ended_is_a_401() -> None:
    user = UserFactory()
    pair, other = pair_for(user), pair_for(user)
    APIClient().post(LOGOUT_URL, {"refresh": other["refresh"], "all": True}, format="json")

    response = APIClient().post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 401


def test_signing_out_with_all_must_be_a_boolean() -> None:
    pair = pair_for(UserFactory())

    response = APIClient().post(LOGOUT_URL, {"refresh": pair["refresh"], "all": "everything"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"all"}


def test_the_daily_prune_drops_long_ended_sign_ins_and_expired_token_records_and_keeps_the_rest() -> None:
    user = UserFactory()
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        old_ended = services.session_start(user=user)
        services.session_end(session_id=old_ended.pk, reason=SessionEnd.SIGNED_OUT)
        services.session_start(user=user)  # never ended: expires after 30 days
        refresh = str(tokens.SessionRefreshToken.for_user(user))
    later = start + datetime.timedelta(days=200)
    with time_machine.travel(later, tick=False):
        recent = services.session_start(user=user)
        services.session_end(session_id=recent.pk, reason=SessionEnd.SIGNED_OUT)
        in_force = services.session_start(user=user)

        deleted = services.sessions_prune()

    assert deleted == 3  # old_ended, old_expired and the session behind `refresh`
    assert set(AuthSession.objects.values_list("pk", flat=True)) == {recent.pk, in_force.pk}
    assert not OutstandingToken.objects.filter(token=refresh).exists()
