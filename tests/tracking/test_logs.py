"""The four log routes (applications, symptoms, POEM, skin checks): idempotent creation on the
client's id, validation, listing, the patient's clock, and corrections within the 24-hour window.

Time is frozen at NOW (12:00 in Qatar) so "the future", "within 24 hours" and local dates are exact.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Patient, PatientTimezoneChange, User
from tests.factories import CaregiverFactory
from tests.personas import Clinic, client_as, regimen_row
from tests.tracking.conftest import base
from tracking.models import Application, PoemEntry, Regimen, SkinCheck, Symptom
from tracking.models.logs import PatientLog

NOW = datetime.datetime(2026, 11, 21, 9, 0, tzinfo=datetime.UTC)  # 12:00 in Asia/Qatar (+03:00)
QATAR = ZoneInfo("Asia/Qatar")
AT = "2026-11-21T08:05:00+03:00"  # this morning's dose, before NOW
DAY = datetime.timedelta(hours=24)
SECOND = datetime.timedelta(seconds=1)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


# --- The four log types ----------------------------------------------------------------------------


def application_body(at: str = AT, **overrides: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "applied_at": at,
        "body_areas": ["face", "neck"],
        "amount_ftu": 2.5,
        "note": "morning dose",
        **overrides,
    }


def symptom_body(at: str = AT, **overrides: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "recorded_at": at,
        "burning": 3,
        "itch": 5,
        "flare_severity": 2,
        "body_areas": ["face"],
        "note": "stings after the dose",
        **overrides,
    }


def poem_body(at: str = AT, **overrides: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "recorded_at": at, "answers": [1, 2, 0, 3, 1, 0, 2], **overrides}


def skin_check_body(at: str = AT, **overrides: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "performed_at": at,
        "performed_by": "self",
        "concerning": False,
        "note": "",
        **overrides,
    }


@dataclass(frozen=True)
class Kind:
    segment: str
    model: type[PatientLog]
    time_field: str
    body: Callable[..., dict[str, Any]]
    change: dict[str, Any]  # a change of content other than the note, as a client would PATCH it

    def url(self, patient: Patient) -> str:
        return f"{base(patient)}{self.segment}/"

    def detail(self, patient: Patient, log_id: str) -> str:
        return f"{self.url(patient)}{log_id}/"

    def __str__(self) -> str:
        return self.segment


APPLICATIONS = Kind("applications", Application, "applied_at", application_body, {"amount_ftu": 4.0})
SYMPTOMS = Kind("symptoms", Symptom, "recorded_at", symptom_body, {"itch": 8})
POEM = Kind("poem", PoemEntry, "recorded_at", poem_body, {"answers": [4, 4, 4, 4, 4, 4, 4]})
SKIN_CHECKS = Kind("skin-checks", SkinCheck, "performed_at", skin_check_body, {"concerning": True})
KINDS = [APPLICATIONS, SYMPTOMS, POEM, SKIN_CHECKS]
every_kind = pytest.mark.parametrize("kind", KINDS, ids=str)


def post(client: APIClient, kind: Kind, patient: Patient, body: dict[str, Any]) -> Any:
    return client.post(kind.url(patient), body, format="json")


def created(client: APIClient, kind: Kind, patient: Patient, body: dict[str, Any]) -> dict[str, Any]:
    response = post(client, kind, patient, body)
    assert response.status_code == 201, response.content
    answer: dict[str, Any] = response.json()
    return answer


def local(moment: datetime.datetime) -> str:
    return moment.astimezone(QATAR).isoformat()


def stored_content(kind: Kind, log_id: str) -> dict[str, Any]:
    """What a row holds, for checking that a refused request changed nothing."""
    row = kind.model._default_manager.get(pk=log_id)
    return {
        field.attname: getattr(row, field.attname)
        for field in row._meta.concrete_fields
        if field.attname not in {"updated_at"}
    }


# --- Idempotency on the client's id -------------------------------------------------------------


@every_kind
def test_a_first_post_is_a_201_storing_one_row_for_the_patient(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = kind.body()

    response = post(client, kind, patient, body)

    assert response.status_code == 201, response.content
    assert response.json()["id"] == body["id"]
    assert response.json()["patient"] == str(patient.pk)
    row = kind.model._default_manager.get()
    assert str(row.pk) == body["id"]
    assert row.patient_id == patient.pk
    assert row.created_by_id == patient.user.pk


@every_kind
def test_an_identical_replay_is_a_200_with_the_stored_entry(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = kind.body()
    first = created(client, kind, patient, body)

    replay = post(client, kind, patient, body)

    assert replay.status_code == 200, replay.content
    assert replay.json() == first
    assert kind.model._default_manager.count() == 1


@every_kind
def test_a_replay_that_differs_only_in_form_is_still_a_200(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = kind.body(note="")
    created(client, kind, patient, body)
    # The same instant written in UTC, and the empty note left out.
    same = {**body, kind.time_field: "2026-11-21T05:05:00Z"}
    del same["note"]
    if kind is APPLICATIONS:
        same["body_areas"] = ["neck", "face"]
        same["amount_ftu"] = "2.50"

    replay = post(client, kind, patient, same)

    assert replay.status_code == 200, replay.content
    assert kind.model._default_manager.count() == 1


@every_kind
def test_a_changed_replay_is_a_409_showing_the_stored_entry(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = kind.body()
    first = created(client, kind, patient, body)
    before = stored_content(kind, body["id"])

    earlier = kind.body(at="2026-11-21T07:00:00+03:00", id=body["id"])
    for changed in ({**body, **kind.change}, {**body, "note": "something else"}, earlier):
        response = post(client, kind, patient, changed)

        assert response.status_code == 409, (changed, response.content)
        assert response.json()["detail"]
        assert response.json()["stored"] == first
    assert stored_content(kind, body["id"]) == before
    assert kind.model._default_manager.count() == 1


@every_kind
def test_an_id_used_by_another_patient_is_a_409_that_reveals_nothing_of_theirs(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient, cle_patient: Patient
) -> None:
    regimen_row(cle_patient)
    theirs = kind.body(note="their private note")
    created(client_as(cle_patient.user), kind, cle_patient, theirs)
    before = stored_content(kind, theirs["id"])

    for attempt in (dict(theirs), kind.body(id=theirs["id"])):
        response = post(client, kind, patient, attempt)

        assert response.status_code == 409, response.content
        assert set(response.json()) == {"detail"}
        text = response.content.decode()
        assert str(cle_patient.pk) not in text
        assert "their private note" not in text
        assert "London" not in text
    assert stored_content(kind, theirs["id"]) == before
    assert not kind.model._default_manager.filter(patient=patient).exists()
    assert client.get(kind.detail(patient, theirs["id"])).status_code == 404


# --- Times ---------------------------------------------------------------------------------------


@every_kind
@pytest.mark.parametrize("naive", ["2026-11-21T08:05:00", "2026-11-21 08:05"])
def test_a_naive_time_is_a_400_naming_the_field(
    kind: Kind, naive: str, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    response = post(client, kind, patient, kind.body(at=naive))

    assert response.status_code == 400
    assert "offset" in " ".join(response.json()[kind.time_field])
    assert not kind.model._default_manager.exists()


@every_kind
def test_a_time_that_is_not_a_time_is_a_400_naming_the_field(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    response = post(client, kind, patient, kind.body(at="this morning"))

    assert response.status_code == 400
    assert kind.time_field in response.json()


@every_kind
@pytest.mark.parametrize(
    ("ahead", "status"),
    [
        (datetime.timedelta(minutes=5), 201),
        (datetime.timedelta(minutes=5, seconds=1), 400),
        (datetime.timedelta(days=1), 400),
    ],
    ids=["5min", "5min1s", "1day"],
)
def test_a_log_time_more_than_5_minutes_ahead_is_a_400(
    kind: Kind, ahead: datetime.timedelta, status: int, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    response = post(client, kind, patient, kind.body(at=local(NOW + ahead)))

    assert response.status_code == status, response.content
    if status == 400:
        assert "5 minutes" in " ".join(response.json()[kind.time_field])
        assert not kind.model._default_manager.exists()


@every_kind
def test_the_future_is_judged_on_the_instant_not_on_the_wall_clock_written(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    # 20:00 on a +14:00 clock is 06:00 UTC: three hours ago, though the wall time is later than Qatar's.
    response = post(client, kind, patient, kind.body(at="2026-11-21T20:00:00+14:00"))

    assert response.status_code == 201, response.content
    assert response.json()[kind.time_field] == "2026-11-21T09:00:00+03:00"


EDGES_OF_THE_CALENDAR = ["0001-01-01T00:00:00+01:00", "0001-01-01T02:00:00+00:00", "9999-12-31T23:59:59-01:00"]


@every_kind
@pytest.mark.parametrize("edge", EDGES_OF_THE_CALENDAR)
def test_a_time_at_the_edge_of_the_calendar_is_a_400_not_a_500(kind: Kind, edge: str, clinic: Clinic) -> None:
    # West of UTC, 02:00 UTC on 0001-01-01 would be echoed in the year 0, which does not exist.
    patient = clinic.ad_patient(timezone="America/New_York")
    regimen_row(patient, start_date=datetime.date(1, 1, 1))

    response = post(client_as(patient.user), kind, patient, kind.body(at=edge))

    assert response.status_code == 400
    assert "outside what can be recorded" in " ".join(response.json()[kind.time_field])
    assert not kind.model._default_manager.exists()


@pytest.mark.parametrize("edge", EDGES_OF_THE_CALENDAR)
@pytest.mark.parametrize("name", ["since", "until"])
def test_a_filter_time_at_the_edge_of_the_calendar_is_a_400_not_a_500(
    edge: str, name: str, client: APIClient, patient: Patient
) -> None:
    response = client.get(POEM.url(patient), {name: edge})

    assert response.status_code == 400
    assert name in response.json()


# --- Unknown fields --------------------------------------------------------------------------------


@every_kind
@pytest.mark.parametrize("field", ["flare_severty", "patient", "created_by", "score"])
def test_an_unknown_or_read_only_field_is_a_400_naming_it(
    kind: Kind, field: str, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    response = post(client, kind, patient, kind.body(**{field: 3}))

    assert response.status_code == 400
    assert field in response.json()
    assert not kind.model._default_manager.exists()


# --- Symptom scores --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("burning", -1, "0 to 10"),
        ("burning", 11, "0 to 10"),
        ("burning", 2.5, "0 to 10"),
        ("burning", "unbearable", "0 to 10"),
        ("itch", -1, "0 to 10"),
        ("itch", 11, "0 to 10"),
        ("flare_severity", -1, "0-4"),
        ("flare_severity", 5, "0-4"),
        ("flare_severity", 1.5, "0-4"),
    ],
)
def test_a_symptom_score_out_of_range_is_a_400_naming_the_range(
    field: str, value: object, allowed: str, client: APIClient, patient: Patient
) -> None:
    response = post(client, SYMPTOMS, patient, symptom_body(**{field: value}))

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert allowed in " ".join(response.json()[field])
    assert not Symptom.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("burning", 0), ("burning", 10), ("itch", 0), ("itch", 10)])
def test_the_ends_of_the_rating_scales_are_accepted(
    field: str, value: int, client: APIClient, patient: Patient
) -> None:
    body = symptom_body(**{"burning": None, "itch": None, "flare_severity": None, field: value})

    response = post(client, SYMPTOMS, patient, body)

    assert response.status_code == 201, response.content
    assert response.json()[field] == value
    assert getattr(Symptom.objects.get(), field) == value


@pytest.mark.parametrize("value", [0, 4])
def test_the_ends_of_the_flare_scale_are_accepted(value: int, client: APIClient, patient: Patient) -> None:
    response = post(client, SYMPTOMS, patient, symptom_body(burning=None, itch=None, flare_severity=value))

    assert response.status_code == 201, response.content
    assert Symptom.objects.get().flare_severity == value


@pytest.mark.parametrize(
    "scores",
    [{}, {"burning": None, "itch": None, "flare_severity": None}],
    ids=["left-out", "all-null"],
)
def test_a_symptom_without_any_score_is_a_400_saying_which_scores_exist(
    scores: dict[str, Any], client: APIClient, patient: Patient
) -> None:
    body = {"id": str(uuid.uuid4()), "recorded_at": AT, "note": "just a note", **scores}

    response = post(client, SYMPTOMS, patient, body)

    assert response.status_code == 400
    message = " ".join(response.json()["non_field_errors"])
    assert "burning (0-10)" in message
    assert "itch (0-10)" in message
    assert "flare_severity (0-4)" in message
    assert not Symptom.objects.exists()


# --- POEM --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answers", [[1] * 6, [1] * 8, []], ids=["six", "eight", "none"])
def test_poem_takes_exactly_seven_answers(answers: list[int], client: APIClient, patient: Patient) -> None:
    response = post(client, POEM, patient, poem_body(answers=answers))

    assert response.status_code == 400
    assert "exactly 7" in " ".join(response.json()["answers"])
    assert not PoemEntry.objects.exists()


@pytest.mark.parametrize("bad", [5, -1, 2.5, "often"])
def test_a_poem_answer_out_of_range_is_a_400_naming_the_range(bad: object, client: APIClient, patient: Patient) -> None:
    response = post(client, POEM, patient, poem_body(answers=[0, 1, 2, bad, 0, 0, 0]))

    assert response.status_code == 400
    assert set(response.json()) == {"answers[3]"}
    assert "0-4" in str(response.json()["answers[3]"])
    assert not PoemEntry.objects.exists()


@pytest.mark.parametrize(
    ("answers", "score", "band"),
    [
        ([0, 0, 0, 0, 0, 0, 0], 0, "clear_or_almost_clear"),
        ([1, 1, 0, 0, 0, 0, 0], 2, "clear_or_almost_clear"),
        ([1, 1, 1, 0, 0, 0, 0], 3, "mild"),
        ([1, 1, 1, 1, 1, 1, 1], 7, "mild"),
        ([2, 1, 1, 1, 1, 1, 1], 8, "moderate"),
        ([4, 4, 4, 4, 0, 0, 0], 16, "moderate"),
        ([4, 4, 4, 4, 1, 0, 0], 17, "severe"),
        ([4, 4, 4, 4, 4, 4, 0], 24, "severe"),
        ([4, 4, 4, 4, 4, 4, 1], 25, "very_severe"),
        ([4, 4, 4, 4, 4, 4, 4], 28, "very_severe"),
        ([4, 4, 4, 4, 4, 4, None], 24, "severe"),  # one unanswered item counts 0
        ([None, 0, 1, 0, 0, 0, 1], 2, "clear_or_almost_clear"),
        ([4, 4, 4, 4, 4, None, None], None, None),  # two unanswered: not scored
        ([None] * 7, None, None),
    ],
)
def test_a_poem_entry_carries_its_score_and_band(
    answers: list[int | None], score: int | None, band: str | None, client: APIClient, patient: Patient
) -> None:
    answer = created(client, POEM, patient, poem_body(answers=answers))

    assert answer["answers"] == answers
    assert answer["score"] == score
    assert answer["band"] == band
    row = PoemEntry.objects.get()
    assert row.score == score
    assert row.band == (band or "")
    assert client.get(POEM.detail(patient, answer["id"])).json()["band"] == band


# --- Applications: amount, areas, regimen --------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1, "40.01", 41, 100, 1000, "99.99"])
def test_an_amount_outside_0_to_40_ftu_is_a_400_naming_the_range(
    amount: object, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    response = post(client, APPLICATIONS, patient, application_body(amount_ftu=amount))

    assert response.status_code == 400
    assert "more than 0 and at most 40" in " ".join(response.json()["amount_ftu"])
    assert not Application.objects.exists()


@pytest.mark.parametrize("amount", ["0.01", 40, None])
def test_an_amount_within_the_range_or_none_is_accepted(
    amount: object, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    answer = created(client, APPLICATIONS, patient, application_body(amount_ftu=amount))

    expected = None if amount is None else float(str(amount))
    assert answer["amount_ftu"] == expected


def test_an_unknown_area_code_is_a_400_listing_the_allowed_codes(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    response = post(client, APPLICATIONS, patient, application_body(body_areas=["face", "elbow"]))

    assert response.status_code == 400
    message = str(response.json()["body_areas[1]"])
    assert "elbow" in message
    assert "arm_left" in message
    assert not Application.objects.exists()


def test_an_application_needs_at_least_one_area(regimen: Regimen, client: APIClient, patient: Patient) -> None:
    response = post(client, APPLICATIONS, patient, application_body(body_areas=[]))

    assert response.status_code == 400
    assert "body_areas" in response.json()


def test_an_application_to_areas_outside_its_regimen_is_accepted_with_a_warning(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    answer = created(client, APPLICATIONS, patient, application_body(body_areas=["face", "leg_left"]))

    assert len(answer["warnings"]) == 1
    assert "leg_left" in answer["warnings"][0]
    assert "face" not in answer["warnings"][0].split("(")[0]  # only the area outside is named as outside
    assert Application.objects.get().body_areas == ["face", "leg_left"]
    assert client.get(APPLICATIONS.detail(patient, answer["id"])).json()["warnings"] == answer["warnings"]


def test_an_application_within_its_regimen_has_no_warnings(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    answer = created(client, APPLICATIONS, patient, application_body(body_areas=["face", "hand_left"]))

    assert answer["warnings"] == []


def test_an_application_without_a_regimen_goes_to_the_one_active_on_its_local_date(
    client: APIClient, patient: Patient
) -> None:
    ended = regimen_row(patient, start_date=datetime.date(2026, 10, 1), end_date=datetime.date(2026, 11, 20))
    current = regimen_row(patient, strength="0.03", start_date=datetime.date(2026, 11, 21))

    # 22:30 UTC on the 20th is 01:30 on the 21st in Qatar: the current regimen's first day.
    after_midnight = created(client, APPLICATIONS, patient, application_body(at="2026-11-20T22:30:00Z"))
    before_midnight = created(client, APPLICATIONS, patient, application_body(at="2026-11-20T20:30:00Z"))

    assert after_midnight["regimen"] == str(current.pk)
    assert before_midnight["regimen"] == str(ended.pk)
    assert after_midnight["warnings"] == before_midnight["warnings"] == []


def test_an_application_without_a_regimen_and_none_active_is_a_400_naming_regimen(
    client: APIClient, patient: Patient
) -> None:
    regimen_row(patient, start_date=datetime.date(2026, 11, 22))

    response = post(client, APPLICATIONS, patient, application_body())

    assert response.status_code == 400
    assert "no regimen was active" in " ".join(response.json()["regimen"])
    assert not Application.objects.exists()


def test_an_application_without_a_regimen_and_several_active_is_a_400_naming_regimen(
    client: APIClient, patient: Patient
) -> None:
    regimen_row(patient)
    regimen_row(patient, drug="pimecrolimus", strength="1", body_areas=["arm_left"])

    response = post(client, APPLICATIONS, patient, application_body())

    assert response.status_code == 400
    assert "2 regimens were active" in " ".join(response.json()["regimen"])
    assert not Application.objects.exists()


def test_an_application_naming_one_of_several_active_regimens_is_stored_on_it(
    client: APIClient, patient: Patient
) -> None:
    regimen_row(patient)
    second = regimen_row(patient, drug="pimecrolimus", strength="1", body_areas=["arm_left"])

    answer = created(client, APPLICATIONS, patient, application_body(regimen=str(second.pk), body_areas=["arm_left"]))

    assert answer["regimen"] == str(second.pk)
    assert Application.objects.get().regimen == second


def test_an_application_naming_another_patients_regimen_is_a_400(
    regimen: Regimen, client: APIClient, patient: Patient, cle_patient: Patient
) -> None:
    theirs = regimen_row(cle_patient)

    for regimen_id in (str(theirs.pk), str(uuid.uuid4())):
        response = post(client, APPLICATIONS, patient, application_body(regimen=regimen_id))

        assert response.status_code == 400
        assert response.json() == {"regimen": ["This patient has no regimen with this id."]}
    assert not Application.objects.exists()


def test_an_application_naming_a_regimen_not_active_that_day_is_accepted_with_a_warning(
    client: APIClient, patient: Patient
) -> None:
    ended = regimen_row(patient, end_date=datetime.date(2026, 11, 1))

    answer = created(client, APPLICATIONS, patient, application_body(regimen=str(ended.pk)))

    assert answer["regimen"] == str(ended.pk)
    assert len(answer["warnings"]) == 1
    assert "not active on 2026-11-21" in answer["warnings"][0]


# --- Symptom → application link ---------------------------------------------------------------------


def test_a_symptom_links_to_the_application_that_caused_it(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    application = created(client, APPLICATIONS, patient, application_body())

    answer = created(client, SYMPTOMS, patient, symptom_body(application=application["id"]))

    assert answer["application"] == application["id"]
    assert str(Symptom.objects.get().application_id) == application["id"]


def test_a_symptom_linking_to_an_unknown_or_another_patients_application_is_the_same_400(
    regimen: Regimen, client: APIClient, patient: Patient, cle_patient: Patient
) -> None:
    regimen_row(cle_patient)
    theirs = created(client_as(cle_patient.user), APPLICATIONS, cle_patient, application_body())

    foreign = post(client, SYMPTOMS, patient, symptom_body(application=theirs["id"]))
    unknown = post(client, SYMPTOMS, patient, symptom_body(application=str(uuid.uuid4())))

    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json() == unknown.json() == {"application": ["This patient has no application with this id."]}
    assert not Symptom.objects.exists()


def test_a_symptom_cannot_link_to_a_deleted_application(regimen: Regimen, client: APIClient, patient: Patient) -> None:
    application = created(client, APPLICATIONS, patient, application_body())
    assert client.delete(APPLICATIONS.detail(patient, application["id"])).status_code == 204

    response = post(client, SYMPTOMS, patient, symptom_body(application=application["id"]))

    assert response.status_code == 400
    assert "application" in response.json()


# --- Lists: since/until, pages, the patient's clock -------------------------------------------------


def ids_of(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [entry["id"] for entry in response.json()["results"]]


@every_kind
def test_since_and_until_keep_the_logs_between_them_both_included(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    times = ["2026-11-20T06:00:00Z", "2026-11-20T18:00:00Z", "2026-11-21T01:00:00Z", "2026-11-21T05:00:00Z"]
    logged = {time: created(client, kind, patient, kind.body(at=time))["id"] for time in times}

    between = client.get(kind.url(patient), {"since": "2026-11-20T21:00:00+03:00", "until": "2026-11-21T05:00:00Z"})
    since = client.get(kind.url(patient), {"since": "2026-11-21T04:00:00+03:00"})
    until = client.get(kind.url(patient), {"until": "2026-11-20T18:00:00+00:00"})

    assert ids_of(between) == [logged[times[3]], logged[times[2]], logged[times[1]]]
    assert ids_of(since) == [logged[times[3]], logged[times[2]]]
    assert ids_of(until) == [logged[times[1]], logged[times[0]]]


@every_kind
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-11-20T21:00:00"}, "since"),
        ({"until": "2026-11-21T05:00:00"}, "until"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-21T05:00:00Z", "until": "2026-11-21T04:00:00Z"}, "until"),
    ],
    ids=["naive-since", "naive-until", "garbage", "until-before-since"],
)
def test_a_bad_since_or_until_is_a_400_naming_it(
    kind: Kind, params: dict[str, str], field: str, client: APIClient, patient: Patient
) -> None:
    response = client.get(kind.url(patient), params)

    assert response.status_code == 400
    assert field in response.json()


@every_kind
def test_a_log_list_pages_newest_first_by_event_time_over_several_pages(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    # 23 logs, three sharing one event time across the boundary between pages one and two,
    # posted in shuffled order so that the order of creation tells nothing.
    moments = [NOW - datetime.timedelta(hours=3 * step) for step in range(20)]
    moments[8:8] = [moments[8], moments[8]]
    moments.append(NOW - datetime.timedelta(days=10))
    shuffled = [moments[(7 * index) % len(moments)] for index in range(len(moments))]  # 7 and 23: a permutation
    when = {}
    for moment in shuffled:
        when[created(client, kind, patient, kind.body(at=moment.isoformat()))["id"]] = moment

    seen: list[str] = []
    url: str | None = f"{kind.url(patient)}?page_size=10"
    pages = 0
    while url:
        response = client.get(url)
        seen += ids_of(response)
        url = response.json()["next"]
        pages += 1

    assert pages == 3
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == set(when)
    assert [when[log_id] for log_id in seen] == sorted(moments, reverse=True)


@every_kind
def test_the_next_page_keeps_the_since_filter(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    for step in range(6):
        created(client, kind, patient, kind.body(at=(NOW - datetime.timedelta(hours=step)).isoformat()))
    since = (NOW - datetime.timedelta(hours=3, minutes=30)).isoformat()

    first = client.get(kind.url(patient), {"since": since, "page_size": 2})
    second = client.get(first.json()["next"])

    assert len(ids_of(first)) == len(ids_of(second)) == 2
    assert second.json()["next"] is None  # 4 logs since then, not 6


def test_page_size_sets_how_many_logs_a_page_holds(regimen: Regimen, client: APIClient, patient: Patient) -> None:
    for step in range(3):
        created(client, SKIN_CHECKS, patient, skin_check_body(at=(NOW - datetime.timedelta(hours=step)).isoformat()))

    response = client.get(SKIN_CHECKS.url(patient), {"page_size": 2})

    assert len(ids_of(response)) == 2


@every_kind
def test_times_are_echoed_in_the_patients_zone_with_their_local_date(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    # 22:30 UTC on the 20th is 01:30 on the 21st in Qatar.
    answer = created(client, kind, patient, kind.body(at="2026-11-20T22:30:00Z"))
    listed = client.get(kind.url(patient)).json()["results"][0]
    detail = client.get(kind.detail(patient, answer["id"])).json()

    for shown in (answer, listed, detail):
        assert shown[kind.time_field] == "2026-11-21T01:30:00+03:00"
        assert shown["local_date"] == "2026-11-21"
        assert shown["correctable_until"] == local(NOW + DAY)
        for name in ("created_at", "updated_at"):
            assert shown[name] == local(NOW), name


def test_a_patient_west_of_utc_sees_the_previous_local_date(clinic: Clinic) -> None:
    patient = clinic.ad_patient(timezone="America/New_York")
    client = client_as(patient.user)

    answer = created(client, SKIN_CHECKS, patient, skin_check_body(at="2026-11-21T03:30:00Z"))

    assert answer["performed_at"] == "2026-11-20T22:30:00-05:00"
    assert answer["local_date"] == "2026-11-20"


def test_a_log_from_before_a_move_keeps_the_zone_the_patient_lived_by_then(client: APIClient, patient: Patient) -> None:
    PatientTimezoneChange.objects.create(
        patient=patient, timezone="Europe/Paris", until=datetime.datetime(2026, 11, 15, tzinfo=datetime.UTC)
    )

    before_move = created(client, SYMPTOMS, patient, symptom_body(at="2026-11-10T23:30:00Z"))
    after_move = created(client, SYMPTOMS, patient, symptom_body(at="2026-11-16T23:30:00Z"))

    assert before_move["recorded_at"] == "2026-11-11T00:30:00+01:00"
    assert before_move["local_date"] == "2026-11-11"
    assert after_move["recorded_at"] == "2026-11-17T02:30:00+03:00"
    assert after_move["local_date"] == "2026-11-17"


# --- Corrections and deletion ---------------------------------------------------------------------------


@every_kind
def test_the_creator_corrects_a_log_up_to_24_hours_after_logging_it(
    kind: Kind, regimen: Regimen, patient: Patient, frozen: time_machine.Traveller
) -> None:
    body = kind.body()
    created(client_as(patient.user), kind, patient, body)
    fingerprint = kind.model._default_manager.get().fingerprint
    frozen.move_to(NOW + DAY)
    client = client_as(patient.user)

    response = client.patch(kind.detail(patient, body["id"]), kind.change, format="json")

    assert response.status_code == 200, response.content
    for name, value in kind.change.items():
        assert response.json()[name] == value
    assert client.get(kind.detail(patient, body["id"])).json() == response.json()
    assert kind.model._default_manager.get().fingerprint == fingerprint
    assert response.json()["updated_at"] == local(NOW + DAY)


@every_kind
def test_after_24_hours_only_the_note_may_change(
    kind: Kind, regimen: Regimen, patient: Patient, frozen: time_machine.Traveller
) -> None:
    body = kind.body()
    created(client_as(patient.user), kind, patient, body)
    frozen.move_to(NOW + DAY + SECOND)
    client = client_as(patient.user)
    url = kind.detail(patient, body["id"])
    before = stored_content(kind, body["id"])

    content = client.patch(url, kind.change, format="json")
    content_and_note = client.patch(url, {**kind.change, "note": "late"}, format="json")

    assert content.status_code == content_and_note.status_code == 403
    assert "only its note" in content.json()["detail"]
    assert stored_content(kind, body["id"]) == before

    note = client.patch(url, {"note": "it was the left cheek"}, format="json")

    assert note.status_code == 200, note.content
    assert note.json()["note"] == "it was the left cheek"
    assert kind.model._default_manager.get().note == "it was the left cheek"
    assert stored_content(kind, body["id"]) == {**before, "note": "it was the left cheek"}


@every_kind
def test_the_creator_deletes_a_log_within_24_hours_and_it_disappears(
    kind: Kind, regimen: Regimen, patient: Patient, frozen: time_machine.Traveller
) -> None:
    body = kind.body()
    created(client_as(patient.user), kind, patient, body)
    frozen.move_to(NOW + DAY)
    client = client_as(patient.user)
    url = kind.detail(patient, body["id"])

    response = client.delete(url)

    assert response.status_code == 204
    assert client.get(url).status_code == 404
    assert ids_of(client.get(kind.url(patient))) == []
    assert client.patch(url, {"note": "x"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    assert kind.model._default_manager.get().deleted_at == NOW + DAY


@every_kind
def test_replaying_a_deleted_logs_id_is_a_409_and_stores_nothing(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = kind.body()
    created(client, kind, patient, body)
    assert client.delete(kind.detail(patient, body["id"])).status_code == 204

    for replay in (body, {**body, **kind.change}):
        response = post(client, kind, patient, replay)

        assert response.status_code == 409, response.content
        assert "deleted" in response.json()["detail"]
        assert "stored" not in response.json()
    assert kind.model._default_manager.get().deleted_at is not None
    assert ids_of(client.get(kind.url(patient))) == []


@every_kind
def test_a_log_cannot_be_deleted_after_24_hours(
    kind: Kind, regimen: Regimen, patient: Patient, frozen: time_machine.Traveller
) -> None:
    body = kind.body()
    created(client_as(patient.user), kind, patient, body)
    frozen.move_to(NOW + DAY + SECOND)
    client = client_as(patient.user)

    response = client.delete(kind.detail(patient, body["id"]))

    assert response.status_code == 403
    assert kind.model._default_manager.get().deleted_at is None
    assert ids_of(client.get(kind.url(patient))) == [body["id"]]


@every_kind
def test_a_replay_of_the_original_after_a_correction_is_still_a_200(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = kind.body()
    created(client, kind, patient, body)
    corrected = client.patch(kind.detail(patient, body["id"]), kind.change, format="json")
    assert corrected.status_code == 200, corrected.content

    original = post(client, kind, patient, body)
    as_corrected = post(client, kind, patient, {**body, **kind.change})

    assert original.status_code == 200, original.content
    assert original.json() == corrected.json()
    # The fingerprint is of the first content sent: the corrected content replayed is not that.
    assert as_corrected.status_code == 409
    assert as_corrected.json()["stored"] == corrected.json()


@every_kind
def test_a_correction_is_validated_like_a_new_log(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = kind.body()
    created(client, kind, patient, body)
    url = kind.detail(patient, body["id"])
    before = stored_content(kind, body["id"])

    future = client.patch(url, {kind.time_field: local(NOW + datetime.timedelta(minutes=6))}, format="json")
    naive = client.patch(url, {kind.time_field: "2026-11-21T07:00:00"}, format="json")
    unknown = client.patch(url, {"id": str(uuid.uuid4())}, format="json")

    assert future.status_code == naive.status_code == unknown.status_code == 400
    assert kind.time_field in future.json()
    assert kind.time_field in naive.json()
    assert "id" in unknown.json()
    assert stored_content(kind, body["id"]) == before


def test_a_symptom_correction_may_not_leave_it_without_any_score(client: APIClient, patient: Patient) -> None:
    body = symptom_body(burning=4, itch=None, flare_severity=None)
    created(client, SYMPTOMS, patient, body)

    response = client.patch(SYMPTOMS.detail(patient, body["id"]), {"burning": None}, format="json")

    assert response.status_code == 400
    assert "at least one score" in str(response.json())
    assert Symptom.objects.get().burning == 4


@pytest.mark.parametrize(("field", "value"), [("burning", 11), ("flare_severity", 5)])
def test_a_symptom_correction_out_of_range_is_a_400(
    field: str, value: int, client: APIClient, patient: Patient
) -> None:
    body = symptom_body()
    created(client, SYMPTOMS, patient, body)

    response = client.patch(SYMPTOMS.detail(patient, body["id"]), {field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert getattr(Symptom.objects.get(), field) == body[field]


def test_correcting_poem_answers_rescores_it(client: APIClient, patient: Patient) -> None:
    body = poem_body(answers=[0] * 7)
    created(client, POEM, patient, body)
    url = POEM.detail(patient, body["id"])

    rescored = client.patch(url, {"answers": [4, 4, 4, 4, 4, 4, 1]}, format="json").json()
    unscorable = client.patch(url, {"answers": [4, 4, 4, 4, 4, None, None]}, format="json").json()

    assert (rescored["score"], rescored["band"]) == (25, "very_severe")
    assert (unscorable["score"], unscorable["band"]) == (None, None)
    assert (PoemEntry.objects.get().score, PoemEntry.objects.get().band) == (None, "")


def test_an_application_correction_checks_amount_and_regimen(
    regimen: Regimen, client: APIClient, patient: Patient, cle_patient: Patient
) -> None:
    body = application_body()
    created(client, APPLICATIONS, patient, body)
    url = APPLICATIONS.detail(patient, body["id"])
    theirs = regimen_row(cle_patient)

    amount = client.patch(url, {"amount_ftu": 0}, format="json")
    foreign_regimen = client.patch(url, {"regimen": str(theirs.pk)}, format="json")

    assert amount.status_code == foreign_regimen.status_code == 400
    assert "amount_ftu" in amount.json()
    assert "regimen" in foreign_regimen.json()
    assert Application.objects.get().regimen == regimen


def test_a_symptom_correction_may_not_link_another_patients_application(
    regimen: Regimen, client: APIClient, patient: Patient, cle_patient: Patient
) -> None:
    regimen_row(cle_patient)
    theirs = created(client_as(cle_patient.user), APPLICATIONS, cle_patient, application_body())
    body = symptom_body()
    created(client, SYMPTOMS, patient, body)

    response = client.patch(SYMPTOMS.detail(patient, body["id"]), {"application": theirs["id"]}, format="json")

    assert response.status_code == 400
    assert "application" in response.json()
    assert Symptom.objects.get().application_id is None


def test_a_symptom_whose_application_was_deleted_can_still_be_corrected(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    application = created(client, APPLICATIONS, patient, application_body())
    body = symptom_body(application=application["id"])
    created(client, SYMPTOMS, patient, body)
    assert client.delete(APPLICATIONS.detail(patient, application["id"])).status_code == 204

    response = client.patch(
        SYMPTOMS.detail(patient, body["id"]), {"note": "the cream was not the cause"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert Symptom.objects.get().note == "the cream was not the cause"
    assert str(Symptom.objects.get().application_id) == application["id"]  # the link is kept, not dropped


def test_correcting_a_symptoms_score_keeps_its_link_and_a_null_link_removes_it(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    application = created(client, APPLICATIONS, patient, application_body())
    body = symptom_body(application=application["id"])
    created(client, SYMPTOMS, patient, body)
    url = SYMPTOMS.detail(patient, body["id"])

    rescored = client.patch(url, {"burning": 9}, format="json")
    unlinked = client.patch(url, {"application": None}, format="json")

    assert rescored.status_code == unlinked.status_code == 200
    assert rescored.json()["application"] == application["id"]
    assert rescored.json()["burning"] == 9
    assert unlinked.json()["application"] is None
    assert Symptom.objects.get().application_id is None


# --- Who may correct -----------------------------------------------------------------------------------


@pytest.fixture
def two_caregivers(child: Patient, caregiver: User) -> tuple[Patient, User, User]:
    second = CaregiverFactory()
    child.caregivers.add(second)
    regimen_row(child, strength="0.03", created_by=caregiver)
    return child, caregiver, second


@every_kind
def test_another_caregiver_may_not_correct_or_delete_a_log(
    kind: Kind, two_caregivers: tuple[Patient, User, User]
) -> None:
    child, logger, other = two_caregivers
    body = kind.body()
    created(client_as(logger), kind, child, body)
    url = kind.detail(child, body["id"])
    before = stored_content(kind, body["id"])

    assert client_as(other).get(url).status_code == 200
    assert client_as(other).patch(url, {"note": "mine now"}, format="json").status_code == 403
    assert client_as(other).delete(url).status_code == 403
    assert stored_content(kind, body["id"]) == before
    assert client_as(logger).patch(url, {"note": "fixed"}, format="json").status_code == 200


@every_kind
def test_the_patient_may_not_correct_or_delete_what_their_caregiver_logged(
    kind: Kind, regimen: Regimen, patient: Patient, caregiver: User
) -> None:
    patient.caregivers.add(caregiver)
    body = kind.body()
    created(client_as(caregiver), kind, patient, body)
    url = kind.detail(patient, body["id"])
    client = client_as(patient.user)

    assert client.get(url).status_code == 200
    assert client.patch(url, {"note": "mine"}, format="json").status_code == 403
    assert client.delete(url).status_code == 403
    assert kind.model._default_manager.get().deleted_at is None
    assert client_as(caregiver).delete(url).status_code == 204


@every_kind
def test_a_dermatologist_on_the_care_team_reads_but_never_corrects(
    kind: Kind, regimen: Regimen, client: APIClient, patient: Patient, dermatologist: User
) -> None:
    body = kind.body()
    created(client, kind, patient, body)
    url = kind.detail(patient, body["id"])
    clinician = client_as(dermatologist)

    assert clinician.get(url).status_code == 200
    assert clinician.patch(url, {"note": "reviewed"}, format="json").status_code == 403
    assert clinician.delete(url).status_code == 403
    assert post(clinician, kind, patient, kind.body()).status_code == 403
    assert kind.model._default_manager.get().note == body.get("note", "")


@pytest.mark.parametrize("segment", ["regimens", "applications", "symptoms", "poem", "skin-checks"])
def test_options_on_a_paged_list_answers_without_describing_a_serializer(
    client: APIClient, patient: Patient, segment: str
) -> None:
    # The paged lists are plain APIViews: DRF's OPTIONS answer asks a GenericAPIView for a serializer (a 500 here).
    response = client.options(f"{base(patient)}{segment}/")

    assert response.status_code == 200
    assert "actions" not in response.json()
