"""POST /patients/{patient}/sync/: an offline batch of logs, each item judged on its own, a status
per item in request order, and exactly the valid new items stored."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Patient, User
from tests.personas import client_as, regimen_row
from tests.tracking.conftest import base
from tests.tracking.test_logs import NOW, application_body, poem_body, skin_check_body, symptom_body
from tracking.models import Application, PoemEntry, Regimen, SkinCheck, Symptom

BEFORE_THE_REGIMEN = "2026-09-30T08:00:00+03:00"  # the regimen fixture starts on 2026-10-01
MODELS = {"applications": Application, "symptoms": Symptom, "poem": PoemEntry, "skin_checks": SkinCheck}
POSTS = {"applications": "applications", "symptoms": "symptoms", "poem": "poem", "skin_checks": "skin-checks"}


@pytest.fixture(autouse=True)
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def sync(client: APIClient, patient: Patient, body: object) -> Any:
    return client.post(f"{base(patient)}sync/", body, format="json")


def synced(client: APIClient, patient: Patient, body: object) -> dict[str, list[dict[str, Any]]]:
    response = sync(client, patient, body)
    assert response.status_code == 200, response.content
    answer: dict[str, list[dict[str, Any]]] = response.json()
    return answer


def statuses(results: list[dict[str, Any]]) -> list[str]:
    return [result["status"] for result in results]


def store(client: APIClient, patient: Patient, key: str, body: dict[str, Any]) -> None:
    response = client.post(f"{base(patient)}{POSTS[key]}/", body, format="json")
    assert response.status_code == 201, response.content


def minutes_ago(minutes: int) -> str:
    return (NOW - datetime.timedelta(minutes=minutes)).isoformat()


# --- One batch, every outcome --------------------------------------------------------------------------


def test_a_mixed_batch_answers_each_item_in_order_and_stores_exactly_the_valid_new_ones(
    regimen: Regimen, client: APIClient, patient: Patient, cle_patient: Patient
) -> None:
    regimen_row(cle_patient)
    theirs = application_body(at=minutes_ago(90), note="their private note")
    store(client_as(cle_patient.user), cle_patient, "applications", theirs)
    replayed = application_body(at=minutes_ago(80))
    changed = application_body(at=minutes_ago(70))
    store(client, patient, "applications", replayed)
    store(client, patient, "applications", changed)
    changed_before = Application.objects.get(pk=changed["id"]).amount_ftu
    new = application_body(at=minutes_ago(60))
    twice_same = application_body(at=minutes_ago(50))
    twice_changed = application_body(at=minutes_ago(40), note="first thought")
    out_of_range = application_body(at=minutes_ago(30), amount_ftu=0)
    no_regimen = application_body(at=BEFORE_THE_REGIMEN)
    without_id = {"applied_at": minutes_ago(20), "body_areas": ["face"]}

    items: list[Any] = [
        new,
        out_of_range,
        replayed,
        {**changed, "amount_ftu": 9},
        theirs,
        twice_same,
        twice_same,
        twice_changed,
        {**twice_changed, "note": "second thought"},
        no_regimen,
        without_id,
        "not an object",
    ]
    results = synced(client, patient, {"applications": items})["applications"]

    assert statuses(results) == [
        "created",
        "invalid",
        "duplicate",
        "conflict",
        "conflict",
        "created",
        "duplicate",
        "created",
        "conflict",
        "invalid",
        "invalid",
        "invalid",
    ]
    sent_ids = [item["id"] if isinstance(item, dict) and "id" in item else None for item in items]
    assert [result["id"] for result in results] == sent_ids
    assert "more than 0 and at most 40" in " ".join(results[1]["errors"]["amount_ftu"])
    assert results[3]["errors"]["detail"]
    assert "regimen" in results[9]["errors"]
    assert "id" in results[10]["errors"]
    assert results[11]["errors"]
    for ok in (0, 2, 5, 6, 7):
        assert "errors" not in results[ok]

    stored = Application.objects.filter(patient=patient)
    assert {str(pk) for pk in stored.values_list("pk", flat=True)} == {
        replayed["id"],
        changed["id"],
        new["id"],
        twice_same["id"],
        twice_changed["id"],
    }
    assert Application.objects.get(pk=changed["id"]).amount_ftu == changed_before
    assert Application.objects.get(pk=twice_changed["id"]).note == "first thought"
    assert Application.objects.get(pk=theirs["id"]).patient == cle_patient


def test_an_id_stored_under_another_patient_is_a_conflict_that_reveals_nothing(
    regimen: Regimen, client: APIClient, patient: Patient, cle_patient: Patient
) -> None:
    regimen_row(cle_patient)
    theirs = symptom_body(note="their private note")
    store(client_as(cle_patient.user), cle_patient, "symptoms", theirs)

    response = sync(client, patient, {"symptoms": [theirs, {**theirs, "itch": 1}]})

    results = response.json()["symptoms"]
    assert statuses(results) == ["conflict", "conflict"]
    for result in results:
        assert set(result) == {"id", "status", "errors"}
        assert set(result["errors"]) == {"detail"}
    text = response.content.decode()
    assert "their private note" not in text
    assert str(cle_patient.pk) not in text
    assert "London" not in text
    assert not Symptom.objects.filter(patient=patient).exists()
    assert Symptom.objects.get().patient == cle_patient


def test_every_log_type_in_one_batch_answers_under_its_own_key(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    stored_symptom = symptom_body(at=minutes_ago(5))
    store(client, patient, "symptoms", stored_symptom)
    good = {
        "applications": application_body(at=minutes_ago(10)),
        "symptoms": symptom_body(at=minutes_ago(11)),
        "poem": poem_body(at=minutes_ago(12)),
        "skin_checks": skin_check_body(at=minutes_ago(13)),
    }
    body = {
        "applications": [good["applications"], application_body(body_areas=["elbow"])],
        "symptoms": [symptom_body(burning=11), good["symptoms"], stored_symptom],
        "poem": [poem_body(answers=[1] * 6), good["poem"]],
        "skin_checks": [good["skin_checks"], skin_check_body(performed_by="neighbour")],
    }

    answer = synced(client, patient, body)

    assert set(answer) == set(body)
    assert statuses(answer["applications"]) == ["created", "invalid"]
    assert statuses(answer["symptoms"]) == ["invalid", "created", "duplicate"]
    assert statuses(answer["poem"]) == ["invalid", "created"]
    assert statuses(answer["skin_checks"]) == ["created", "invalid"]
    assert "elbow" in " ".join(answer["applications"][1]["errors"]["body_areas[0]"])
    assert "0 to 10" in " ".join(answer["symptoms"][0]["errors"]["burning"])
    assert "exactly 7" in " ".join(answer["poem"][0]["errors"]["answers"])
    assert "self" in " ".join(answer["skin_checks"][1]["errors"]["performed_by"])
    for key, model in MODELS.items():
        expected = {good[key]["id"]} | ({stored_symptom["id"]} if key == "symptoms" else set())
        assert {str(pk) for pk in model._default_manager.values_list("pk", flat=True)} == expected, key


def test_only_the_keys_sent_are_answered(regimen: Regimen, client: APIClient, patient: Patient) -> None:
    assert synced(client, patient, {}) == {}
    assert synced(client, patient, {"poem": []}) == {"poem": []}
    assert set(synced(client, patient, {"skin_checks": [skin_check_body()]})) == {"skin_checks"}


def test_an_item_error_names_the_field_by_its_path_in_plain_sentences(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = {
        "poem": [poem_body(answers=[0, 0, 0, 9, 0, 0, 0])],
        "symptoms": [
            symptom_body(at="2026-11-21T08:00:00"),
            symptom_body(at=(NOW + datetime.timedelta(hours=1)).isoformat()),
        ],
        "skin_checks": [skin_check_body(colour="red")],
    }

    answer = synced(client, patient, body)

    (poem,) = answer["poem"]
    assert poem["status"] == "invalid"
    assert set(poem["errors"]) == {"answers[3]"}
    assert all(isinstance(message, str) for message in poem["errors"]["answers[3]"])
    assert "0-4" in poem["errors"]["answers[3]"][0]
    naive, future = answer["symptoms"]
    assert "offset" in " ".join(naive["errors"]["recorded_at"])
    assert "5 minutes" in " ".join(future["errors"]["recorded_at"])
    assert "colour" in answer["skin_checks"][0]["errors"]
    assert not Symptom.objects.exists()
    assert not PoemEntry.objects.exists()
    assert not SkinCheck.objects.exists()


def test_a_deleted_logs_id_in_a_batch_is_a_conflict(regimen: Regimen, client: APIClient, patient: Patient) -> None:
    body = skin_check_body()
    store(client, patient, "skin_checks", body)
    assert client.delete(f"{base(patient)}skin-checks/{body['id']}/").status_code == 204

    (result,) = synced(client, patient, {"skin_checks": [body]})["skin_checks"]

    assert result["status"] == "conflict"
    assert "deleted" in result["errors"]["detail"][0]
    assert SkinCheck.objects.get().deleted_at is not None


def test_an_item_at_the_edge_of_the_calendar_is_invalid_and_the_rest_is_stored(
    client: APIClient, patient: Patient
) -> None:
    good = skin_check_body()

    results = synced(client, patient, {"skin_checks": [skin_check_body(at="0001-01-01T00:00:00+01:00"), good]})

    assert statuses(results["skin_checks"]) == ["invalid", "created"]
    assert "performed_at" in results["skin_checks"][0]["errors"]
    assert SkinCheck.objects.get().pk == uuid.UUID(good["id"])


@pytest.mark.parametrize("key", list(MODELS))
def test_a_log_synced_and_then_posted_is_the_same_log(
    key: str, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    makers = {"applications": application_body, "symptoms": symptom_body, "poem": poem_body}
    synced_first = makers.get(key, skin_check_body)()
    posted_first = makers.get(key, skin_check_body)(at=minutes_ago(30))
    url = f"{base(patient)}{POSTS[key]}/"

    assert statuses(synced(client, patient, {key: [synced_first]})[key]) == ["created"]
    replay = client.post(url, synced_first, format="json")
    store(client, patient, key, posted_first)
    resynced = synced(client, patient, {key: [posted_first, {**synced_first, "note": "changed"}]})[key]

    assert replay.status_code == 200, replay.content
    assert replay.json()["id"] == synced_first["id"]
    assert statuses(resynced) == ["duplicate", "conflict"]
    assert MODELS[key]._default_manager.count() == 2


# --- The same id twice in one batch ----------------------------------------------------------------------


def test_the_same_id_twice_in_a_batch_is_stored_once_the_repeat_a_duplicate(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = poem_body()

    results = synced(client, patient, {"poem": [body, body, {**body, "answers": [0] * 7}]})["poem"]

    assert statuses(results) == ["created", "duplicate", "conflict"]
    assert PoemEntry.objects.get().answers == body["answers"]


def test_an_invalid_item_repeated_in_a_batch_is_invalid_each_time_never_a_duplicate(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    # Valid in shape, refused when stored: no regimen was active on that date.
    body = application_body(at=BEFORE_THE_REGIMEN)

    results = synced(client, patient, {"applications": [body, body]})["applications"]

    assert statuses(results) == ["invalid", "invalid"]
    assert results[0]["errors"] == results[1]["errors"]
    assert not Application.objects.exists()


def test_a_valid_item_after_an_invalid_one_with_the_same_id_is_stored(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    # The client fixed the item and queued it again before the first attempt was sent.
    broken = application_body(at=BEFORE_THE_REGIMEN)
    fixed = {**broken, "applied_at": minutes_ago(10)}

    results = synced(client, patient, {"applications": [broken, fixed]})["applications"]

    assert statuses(results) == ["invalid", "created"]
    assert Application.objects.get().applied_at == NOW - datetime.timedelta(minutes=10)
    assert client.post(f"{base(patient)}applications/", fixed, format="json").status_code == 200


# --- Links between items --------------------------------------------------------------------------------


def test_a_symptom_may_link_to_an_application_in_the_same_batch(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    application = application_body(at=minutes_ago(30))
    symptom = symptom_body(at=minutes_ago(20), application=application["id"])

    # Symptoms listed first in the body: the link must not depend on the order of the keys.
    answer = synced(client, patient, {"symptoms": [symptom], "applications": [application]})

    assert statuses(answer["applications"]) == ["created"]
    assert statuses(answer["symptoms"]) == ["created"]
    assert str(Symptom.objects.get().application_id) == application["id"]


def test_a_symptom_linking_to_an_application_refused_in_the_same_batch_is_invalid(
    regimen: Regimen, client: APIClient, patient: Patient, cle_patient: Patient
) -> None:
    regimen_row(cle_patient)
    theirs = application_body(at=minutes_ago(40))
    store(client_as(cle_patient.user), cle_patient, "applications", theirs)
    refused = application_body(at=BEFORE_THE_REGIMEN)
    body = {
        "applications": [refused, theirs],
        "symptoms": [symptom_body(application=refused["id"]), symptom_body(application=theirs["id"])],
    }

    answer = synced(client, patient, body)

    assert statuses(answer["applications"]) == ["invalid", "conflict"]
    assert statuses(answer["symptoms"]) == ["invalid", "invalid"]
    assert answer["symptoms"][0]["errors"] == answer["symptoms"][1]["errors"]
    assert "application" in answer["symptoms"][0]["errors"]
    assert not Symptom.objects.exists()


def test_a_caregiver_syncs_for_their_dependent_as_the_creator(caregiver: User, child: Patient) -> None:
    regimen_row(child, strength="0.03", created_by=caregiver)

    answer = synced(client_as(caregiver), child, {"applications": [application_body()], "poem": [poem_body()]})

    assert statuses(answer["applications"]) == statuses(answer["poem"]) == ["created"]
    assert Application.objects.get().created_by == caregiver
    assert PoemEntry.objects.get().patient == child


# --- Size ----------------------------------------------------------------------------------------------


def five_hundred_items() -> dict[str, list[dict[str, Any]]]:
    applications = [application_body(at=minutes_ago(step)) for step in range(200)]
    return {
        "applications": applications,
        "symptoms": [symptom_body(at=minutes_ago(step), application=applications[step]["id"]) for step in range(100)],
        "poem": [poem_body(at=minutes_ago(step)) for step in range(100)],
        "skin_checks": [skin_check_body(at=minutes_ago(step)) for step in range(100)],
    }


def stored_count() -> int:
    return sum(model._default_manager.count() for model in MODELS.values())


def test_a_500_item_batch_is_stored_and_its_replay_is_all_duplicates(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = five_hundred_items()

    first = synced(client, patient, body)
    replay = synced(client, patient, body)

    for key, items in body.items():
        assert statuses(first[key]) == ["created"] * len(items), key
        assert statuses(replay[key]) == ["duplicate"] * len(items), key
        assert [result["id"] for result in first[key]] == [item["id"] for item in items]
    assert stored_count() == 500
    assert Symptom.objects.filter(application__isnull=False).count() == 100


def test_a_batch_of_2000_items_is_accepted(client: APIClient, patient: Patient) -> None:
    body = {"skin_checks": [skin_check_body(at=minutes_ago(step % 600)) for step in range(2000)]}

    answer = synced(client, patient, body)

    assert statuses(answer["skin_checks"]) == ["created"] * 2000
    assert SkinCheck.objects.count() == 2000


def test_more_than_2000_items_is_a_400_and_stores_nothing(client: APIClient, patient: Patient) -> None:
    body = {
        "skin_checks": [skin_check_body() for _ in range(1500)],
        "poem": [poem_body() for _ in range(501)],
    }

    response = sync(client, patient, body)

    assert response.status_code == 400
    assert "2000" in " ".join(response.json()["non_field_errors"])
    assert "2001" in " ".join(response.json()["non_field_errors"])
    assert stored_count() == 0


# --- Shapes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([skin_check_body()], "non_field_errors"),
        ("skin_checks", "non_field_errors"),
        ({"skin_checks": [skin_check_body()], "medications": []}, "medications"),
        ({"skin_checks": skin_check_body()}, "skin_checks"),
        ({"poem": "none"}, "poem"),
        ({"applications": None}, "applications"),
        ({"symptoms": 3}, "symptoms"),
    ],
    ids=["a-list", "a-string", "unknown-key", "an-object-not-a-list", "a-string-not-a-list", "null", "a-number"],
)
def test_a_badly_shaped_batch_is_a_400_naming_what_is_wrong(
    body: object, field: str, client: APIClient, patient: Patient
) -> None:
    response = sync(client, patient, body)

    assert response.status_code == 400
    assert field in response.json()
    assert stored_count() == 0


def test_a_body_that_is_not_json_is_a_400(client: APIClient, patient: Patient) -> None:
    response = client.post(f"{base(patient)}sync/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_items_that_are_not_objects_are_invalid_without_failing_the_batch(client: APIClient, patient: Patient) -> None:
    good = skin_check_body()

    results = synced(client, patient, {"skin_checks": [None, 7, ["a"], {"id": [1]}, good]})["skin_checks"]

    assert statuses(results) == ["invalid", "invalid", "invalid", "invalid", "created"]
    assert [result["id"] for result in results[:3]] == [None, None, None]
    assert SkinCheck.objects.get().pk == uuid.UUID(good["id"])
