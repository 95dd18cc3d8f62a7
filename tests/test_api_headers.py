"""Headers on answers that may carry patient data, and who may read the API's schema and docs.

Every answer under /api/ and /admin/ is `Cache-Control: no-store` (with `Pragma: no-cache`): a shared
computer's browser cache or a caching proxy must not keep a record, whatever the view or its status.
The schema and the docs page are open outside production and, in production (API_DOCS_PUBLIC off),
only to a signed-in clinician or clinic staff.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.http import HttpResponse, HttpResponseBase
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from accounts.models import Patient, User
from tacro_topical.middleware import NoStoreMiddleware
from tests.personas import admin_client_as, client_as, regimen_row

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[None]:
    with time_machine.travel(datetime.datetime(2026, 11, 21, 6, 0, tzinfo=datetime.UTC), tick=False):
        yield


@pytest.fixture
def patient(ad_patient: Patient) -> Patient:
    """The AD patient (Amira, in Qatar, on the clinic dermatologist's care team), with a regimen."""
    regimen_row(ad_patient)
    return ad_patient


def assert_never_stored(response: HttpResponseBase) -> None:
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private", "max-age=0"} <= directives, response["Cache-Control"]
    assert response["Pragma"] == "no-cache"


# What each route answers and who asks: reads, writes, errors, the schema, the admin's patient pages.
Request = Callable[[Patient, User], Any]
ROUTES: dict[str, tuple[Request, int]] = {
    "the caller's own record": (lambda p, d: client_as(p.user).get("/api/v1/me/"), 200),
    "a patient's record": (lambda p, d: client_as(p.user).get(f"/api/v1/patients/{p.pk}/"), 200),
    "a patient's logs": (lambda p, d: client_as(p.user).get(f"/api/v1/patients/{p.pk}/applications/"), 200),
    "adherence": (lambda p, d: client_as(p.user).get(f"/api/v1/patients/{p.pk}/adherence/"), 200),
    "a clinician reading a patient": (lambda p, d: client_as(d).get(f"/api/v1/patients/{p.pk}/regimens/"), 200),
    "a refused write": (
        lambda p, d: client_as(p.user).post(f"/api/v1/patients/{p.pk}/symptoms/", {}, format="json"),
        400,
    ),
    "an anonymous caller": (lambda p, d: APIClient().get(f"/api/v1/patients/{p.pk}/"), 401),
    "a wrong password": (
        lambda p, d: APIClient().post(
            "/api/v1/auth/token/", {"email": p.user.email, "password": "wrong-password-1"}, format="json"
        ),
        401,
    ),
    "an unknown API route": (lambda p, d: APIClient().get("/api/v1/no-such-route/"), 404),
    "the schema": (lambda p, d: APIClient().get("/api/schema/"), 200),
    "the admin's patient list, searched": (
        lambda p, d: admin_client_as(d).get("/admin/accounts/patient/?q=Amira"),
        200,
    ),
    "the admin's review page": (lambda p, d: admin_client_as(d).get(f"/admin/accounts/patient/{p.pk}/review/"), 200),
    "the admin's CSV export": (
        lambda p, d: admin_client_as(d).get(
            f"/admin/accounts/patient/{p.pk}/review/export.csv?since=2026-11-01&until=2026-11-21"
        ),
        200,
    ),
    "the admin's sign-in page": (lambda p, d: Client().get("/admin/login/"), 200),
}


@pytest.mark.parametrize("route", ROUTES)
def test_answers_that_may_carry_patient_data_are_never_stored(
    patient: Patient, dermatologist: User, route: str
) -> None:
    send, expected_status = ROUTES[route]

    response = send(patient, dermatologist)

    assert response.status_code == expected_status, response.content[:300]
    assert_never_stored(response)


def test_a_views_own_cache_lifetime_is_replaced_not_kept() -> None:
    def cacheable_view(request: Any) -> HttpResponse:
        response = HttpResponse("{}")
        response["Cache-Control"] = "public, max-age=86400"
        return response

    response = NoStoreMiddleware(cacheable_view)(RequestFactory().get("/api/v1/me/"))

    assert "public" not in response["Cache-Control"]
    assert "max-age=86400" not in response["Cache-Control"]
    assert_never_stored(response)


def test_static_files_and_other_pages_keep_their_own_caching() -> None:
    def static_file(request: Any) -> HttpResponse:
        response = HttpResponse("body{}")
        response["Cache-Control"] = "max-age=31536000, public, immutable"
        return response

    response = NoStoreMiddleware(static_file)(RequestFactory().get("/static/admin/css/base.css"))

    assert response["Cache-Control"] == "max-age=31536000, public, immutable"
    assert "Pragma" not in response


# --- The schema and the docs page -----------------------------------------------------------------------

DOCS = ["/api/schema/", "/api/docs/"]


@pytest.mark.parametrize("path", DOCS)
def test_the_docs_are_open_to_anyone_where_api_docs_public_is_on(settings: Any, path: str) -> None:
    settings.API_DOCS_PUBLIC = True

    assert APIClient().get(path).status_code == 200


def test_without_public_docs_an_anonymous_caller_gets_no_schema(settings: Any) -> None:
    settings.API_DOCS_PUBLIC = False

    response = APIClient().get("/api/schema/")

    assert response.status_code == 401
    assert b"openapi" not in response.content.lower()


def test_without_public_docs_a_browser_not_signed_in_is_sent_to_sign_in_before_the_docs_page(settings: Any) -> None:
    settings.API_DOCS_PUBLIC = False

    response = Client().get("/api/docs/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/docs/"


@pytest.mark.parametrize("path", DOCS)
def test_without_public_docs_a_patient_is_refused(settings: Any, patient: Patient, path: str) -> None:
    settings.API_DOCS_PUBLIC = False

    response = client_as(patient.user).get(path)

    assert response.status_code == 403
    assert b"openapi" not in response.content.lower()


@pytest.mark.parametrize("path", DOCS)
@pytest.mark.parametrize("who", ["dermatologist", "clinic staff"])
def test_without_public_docs_a_signed_in_clinician_or_clinic_staff_reads_them(
    settings: Any, dermatologist: User, clinic_staff: User, path: str, who: str
) -> None:
    settings.API_DOCS_PUBLIC = False
    user = dermatologist if who == "dermatologist" else clinic_staff

    response = admin_client_as(user).get(path)

    assert response.status_code == 200
    assert_never_stored(response)
