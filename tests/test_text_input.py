"""Text a person types is refused when it holds control characters, with a 400 naming the field.

A name is one line: it ends up in e-mail subjects ("Noah: time for your tacrolimus"), where a line
break starts a new header. A note may run over lines and hold tabs. Neither takes any other control
character, nor the bidi controls that reorder what a clinician reads. Every request body in the
OpenAPI schema is walked, so a new text field must either take the rule or say here what checks it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.test import APIClient

from accounts.models import Patient, User
from tacro_topical.serializers import ModelSerializer, PersonTextValidator
from tests.personas import client_as, regimen_row
from tracking.models import Alert

ONE_LINE = "one line"
MULTI_LINE = "multi-line"

# Every field of a request body that takes text a person types, and its kind.
PERSON_TEXT = {
    "RegisterSerializer.email": ONE_LINE,
    "RegisterSerializer.first_name": ONE_LINE,
    "RegisterSerializer.last_name": ONE_LINE,
    "DependentCreateSerializer.first_name": ONE_LINE,
    "DependentCreateSerializer.last_name": ONE_LINE,
    "PatientUpdateSerializer.first_name": ONE_LINE,
    "PatientUpdateSerializer.last_name": ONE_LINE,
    "MeUpdateSerializer.first_name": ONE_LINE,
    "MeUpdateSerializer.last_name": ONE_LINE,
    "CareTeamJoinSerializer.code": ONE_LINE,
    **{
        f"{kind}{role}Serializer.note": MULTI_LINE
        for kind in ("Application", "Symptom", "Poem", "SkinCheck")
        for role in ("Input", "Correction")
    },
}
# Every other text field of a request body, and what checks it instead.
CHECKED_BY_THEIR_OWN_RULE = {
    "RegisterSerializer.password": "a secret: only hashed, never shown, logged or sent",
    "PasswordChangeSerializer.new_password": "a secret: only hashed, never shown, logged or sent",
    "PasswordResetConfirmSerializer.new_password": "a secret: only hashed, never shown, logged or sent",
    "PasswordChangeSerializer.old_password": "a secret: only compared with the stored hash",
    "EmailTokenObtainPairSerializer.password": "a secret: only compared with the stored hash",
    "EmailTokenObtainPairSerializer.email": "a sign-in identifier: only compared with stored addresses",
    "PasswordResetSerializer.email": "an account's address: only compared with stored addresses",
    "EmailTokenObtainPairSerializer.otp": "a one-time code: only compared with the authenticator's",
    "SessionTokenRefreshSerializer.refresh": "a signed token, verified before anything reads it",
    "LogoutSerializer.refresh": "a signed token, verified before anything reads it",
    "VerifyEmailSerializer.token": "a signed token from our own link, verified before anything reads it",
    "PasswordResetConfirmSerializer.token": "a token from our own link, checked against the account",
    "PasswordResetConfirmSerializer.uid": "an account id from our own link, decoded and looked up",
    "DeviceInputSerializer.token": "a push token or PushSubscription JSON, checked per platform; never shown",
    "RegisterSerializer.timezone": "an IANA zone name from the zone list",
    "DependentCreateSerializer.timezone": "an IANA zone name from the zone list",
    "PatientUpdateSerializer.timezone": "an IANA zone name from the zone list",
    "RegimenCreateSerializer.times[]": 'a time of day, "HH:MM" by its pattern',
    "RegimenUpdateSerializer.times[]": 'a time of day, "HH:MM" by its pattern',
    "RegimenStepDownSerializer.times[]": 'a time of day, "HH:MM" by its pattern',
}


def text_fields_of(serializer: serializers.Serializer) -> Iterator[tuple[str, serializers.CharField]]:
    """The writable text fields of one serializer (list items as `name[]`); nested ones are walked on their own."""
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, serializers.ListField):
            field, name = field.child, f"{name}[]"
        if isinstance(field, serializers.CharField):
            yield f"{type(serializer).__name__}.{name}", field


@pytest.fixture(scope="module")
def request_text_fields() -> dict[str, serializers.CharField]:
    """Every text field of every request body in the schema, nested ones included, by `Serializer.field`."""
    found: dict[str, serializers.CharField] = {}
    resolve = AutoSchema.resolve_serializer

    def recording(schema: AutoSchema, serializer: Any, direction: str, *args: Any, **kwargs: Any) -> Any:
        if direction == "request":
            instance = serializer() if isinstance(serializer, type) else serializer
            found.update(text_fields_of(instance))
        return resolve(schema, serializer, direction, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AutoSchema, "resolve_serializer", recording)
        SchemaGenerator().get_schema(request=None, public=True)
    return found


def test_every_text_field_in_a_request_body_takes_the_person_text_rule_or_names_its_own_check(
    request_text_fields: dict[str, serializers.CharField],
) -> None:
    unlisted = set(request_text_fields) - set(PERSON_TEXT) - set(CHECKED_BY_THEIR_OWN_RULE)
    assert not unlisted, f"New text fields: give them SingleLineTextField or MultiLineTextField: {sorted(unlisted)}"
    assert set(PERSON_TEXT) | set(CHECKED_BY_THEIR_OWN_RULE) <= set(request_text_fields), "a listed field is gone"


@pytest.mark.parametrize(("field_name", "kind"), sorted(PERSON_TEXT.items()))
def test_each_field_a_person_types_applies_the_rule_of_its_kind(
    request_text_fields: dict[str, serializers.CharField], field_name: str, kind: str
) -> None:
    rules = [v for v in request_text_fields[field_name].validators if isinstance(v, PersonTextValidator)]

    assert rules == [PersonTextValidator(multiline=kind == MULTI_LINE)]


def test_a_model_serializer_on_the_project_base_gives_model_text_fields_the_rule_of_their_kind() -> None:
    class PatientNames(ModelSerializer):
        class Meta:
            model = Patient
            fields = ("first_name",)

    class AlertResolution(ModelSerializer):
        class Meta:
            model = Alert
            fields = ("resolution_note",)

    assert PersonTextValidator(multiline=False) in PatientNames().fields["first_name"].validators
    assert PersonTextValidator(multiline=True) in AlertResolution().fields["resolution_note"].validators


# --- The rule -----------------------------------------------------------------------------------------

REFUSED_IN_BOTH = {
    "escape": "\x1b",
    "NUL": "\x00",
    "bell": "\x07",
    "DEL": "\x7f",
    "C1 NEL": "\x85",
    "C1 CSI": "\x9b",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "first strong isolate": "\u2068",
}
REFUSED_IN_NAMES_ONLY = {"line feed": "\n", "carriage return": "\r", "tab": "\t"}
# Names and notes as people write them, in many scripts: none of them may be refused.
ORDINARY = [
    "Amira",
    "أميرة الكواري",
    "Zoë O'Brien-Smith",
    "José María",
    "李小龍",
    "Şükrü Çelik",
    "Ngữ Văn",
    "שָׁלוֹם",
    "עברית\u200fמעורבת",  # noqa: RUF001 - Hebrew, with a right-to-left mark: it reorders nothing beyond itself
    "👩\u200d👧 family",  # a zero-width joiner inside an emoji
]


@pytest.mark.parametrize("text", ORDINARY)
@pytest.mark.parametrize("multiline", [False, True], ids=["name", "note"])
def test_names_and_notes_in_any_script_are_accepted(text: str, multiline: bool) -> None:
    PersonTextValidator(multiline=multiline)(text)


@pytest.mark.parametrize("character", REFUSED_IN_BOTH.values(), ids=REFUSED_IN_BOTH.keys())
@pytest.mark.parametrize("multiline", [False, True], ids=["name", "note"])
def test_control_separator_and_bidi_characters_are_refused_in_names_and_notes(character: str, multiline: bool) -> None:
    with pytest.raises(ValidationError, match=f"U\\+{ord(character):04X}"):
        PersonTextValidator(multiline=multiline)(f"Noah{character}x")


@pytest.mark.parametrize("character", REFUSED_IN_NAMES_ONLY.values(), ids=REFUSED_IN_NAMES_ONLY.keys())
def test_a_name_takes_no_line_break_or_tab_but_a_note_does(character: str) -> None:
    PersonTextValidator(multiline=True)(f"Burning after{character}the evening dose")
    with pytest.raises(ValidationError, match="at character 5: this field takes one line of text"):
        PersonTextValidator(multiline=False)(f"Noah{character}Bcc: someone@example.org")


# --- Through the API: a 400 naming the field ----------------------------------------------------------

INJECTED_NAME = "Noah\nBcc: someone@example.org"


def first_message(response: Any, field: str) -> str:
    assert response.status_code == 400, response.content
    return str(response.json()[field][0])


@pytest.mark.django_db
def test_registration_refuses_a_name_with_a_line_break_naming_the_field() -> None:
    body = {
        "email": "new.parent@test.example",
        "password": "plum-orbit-lantern-42",
        "first_name": INJECTED_NAME,
        "last_name": "Weber\u202e",
        "role": "caregiver",
    }
    response = APIClient().post("/api/v1/auth/register/", body, format="json")

    assert "U+000A (a line break) at character 5" in first_message(response, "first_name")
    assert "U+202E" in first_message(response, "last_name")


@pytest.mark.django_db
def test_registration_refuses_a_control_character_in_a_quoted_email_address() -> None:
    body = {
        "email": '"\x1b[2J"@example.org',
        "password": "plum-orbit-lantern-42",
        "first_name": "Daniel",
        "last_name": "Weber",
        "role": "caregiver",
    }
    response = APIClient().post("/api/v1/auth/register/", body, format="json")

    assert "U+001B" in first_message(response, "email")


@pytest.mark.django_db
def test_a_dependent_named_with_a_line_break_is_refused_and_not_stored(caregiver: User) -> None:
    body = {
        "first_name": INJECTED_NAME,
        "birth_date": "2019-06-15",
        "timezone": "Europe/Berlin",
        "condition": "atopic_dermatitis",
    }
    response = client_as(caregiver).post("/api/v1/patients/", body, format="json")

    assert "one line of text" in first_message(response, "first_name")
    assert not Patient.objects.filter(caregivers=caregiver).exists()


@pytest.mark.django_db
def test_renaming_a_patient_to_a_name_with_a_control_character_is_refused(ad_patient: Patient) -> None:
    patient = ad_patient  # Amira
    response = client_as(patient.user).patch(
        f"/api/v1/patients/{patient.pk}/", {"last_name": "Saleh\x1b[31m"}, format="json"
    )

    assert "U+001B" in first_message(response, "last_name")
    patient.refresh_from_db()
    assert patient.first_name == "Amira"


@pytest.mark.django_db
def test_a_join_code_with_a_line_break_is_refused_naming_the_field(ad_patient: Patient) -> None:
    patient = ad_patient
    response = client_as(patient.user).post(
        "/api/v1/care-team/join/", {"code": "AB\nCD", "patient": str(patient.pk)}, format="json"
    )

    assert "one line of text" in first_message(response, "code")


def application(note: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "applied_at": "2026-11-20T08:00:00+03:00", "body_areas": ["face"], "note": note}


@pytest.fixture
def frozen_now() -> Iterator[None]:
    with time_machine.travel("2026-11-21T09:00:00+03:00", tick=False):
        yield


@pytest.fixture
def patient_with_regimen(frozen_now: None, ad_patient: Patient) -> Patient:
    regimen_row(ad_patient)
    return ad_patient


def test_a_note_keeps_its_line_breaks_and_tabs(patient_with_regimen: Patient) -> None:
    note = "Burning after the evening dose.\r\nLeft cheek:\tmild, gone in 10 minutes."
    response = client_as(patient_with_regimen.user).post(
        f"/api/v1/patients/{patient_with_regimen.pk}/applications/", application(note), format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["note"] == note


@pytest.mark.parametrize("character", ["\x1b", "\u2028", "\u202e"])
def test_a_note_with_another_control_character_is_refused_naming_the_field(
    patient_with_regimen: Patient, character: str
) -> None:
    response = client_as(patient_with_regimen.user).post(
        f"/api/v1/patients/{patient_with_regimen.pk}/applications/",
        application(f"Burning{character}after"),
        format="json",
    )

    assert "line breaks and tabs, but no other control characters" in first_message(response, "note")


def test_a_synced_item_whose_note_holds_a_control_character_is_invalid_and_named(
    patient_with_regimen: Patient,
) -> None:
    good, bad = application("fine"), application("bell\x07")
    response = client_as(patient_with_regimen.user).post(
        f"/api/v1/patients/{patient_with_regimen.pk}/sync/", {"applications": [good, bad]}, format="json"
    )

    assert response.status_code == 200, response.content
    first, second = response.json()["applications"]
    assert first["status"] == "created"
    assert second["status"] == "invalid"
    assert "U+0007" in second["errors"]["note"][0]


@pytest.mark.django_db
def test_a_dependent_named_in_another_script_is_stored_as_typed(caregiver: User) -> None:
    body = {
        "first_name": "أميرة",
        "last_name": "Zoë O'Brien-Smith",
        "birth_date": "2019-06-15",
        "timezone": "Asia/Qatar",
        "condition": "atopic_dermatitis",
    }
    response = client_as(caregiver).post("/api/v1/patients/", body, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["first_name"], response.json()["last_name"]) == ("أميرة", "Zoë O'Brien-Smith")
