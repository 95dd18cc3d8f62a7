"""The safety net (issue #17): a structured skin self-check, urgent signs decided by one rule, the
patient told to seek care today (English and Arabic), and the care team's dermatologists told at once
on their fastest channel, through the delivery path (not the daily digest)."""

from __future__ import annotations

import csv
import datetime
import io
import uuid
from typing import Any

import pytest
from django.core import mail

from accounts.models import CareTeamMembership, Language, Patient, User
from tests.factories import DermatologistFactory
from tests.personas import client_as
from tracking import rules
from tracking.alerts.services import evaluate_patient_alerts
from tracking.models import Alert, AlertKind, AlertSeverity, Delivery, Device, Notification, SkinCheck
from tracking.notifications.services import notification_snooze
from tracking.review.exports import EXPORT_COLUMNS, export_write
from tracking.review.selectors import skin_check_text

ADVICE_EN = "Seek medical care today."
ADVICE_AR = "اطلب الرعاية الطبية اليوم."
BLISTERS = {"blisters_or_erosions": True}


def check_body(**overrides: Any) -> dict[str, Any]:
    """A self-check with every question answered no, as a current client sends it."""
    at = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)).isoformat()
    return {
        "id": str(uuid.uuid4()),
        "performed_at": at,
        "performed_by": "self",
        **dict.fromkeys(rules.SKIN_CHECK_ANSWERS, False),
        **overrides,
    }


def url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.pk}/skin-checks/"


def post(user: User, patient: Patient, body: dict[str, Any], **headers: str) -> Any:
    return client_as(user).post(url(patient), body, format="json", **headers)


# --- The rule, at each boundary ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "signs"),
    [
        ({}, ()),
        (dict.fromkeys(rules.SKIN_CHECK_ANSWERS, False), ()),
        (dict.fromkeys(rules.SKIN_CHECK_ANSWERS), ()),  # nothing answered
        ({"blisters_or_erosions": True}, (rules.URGENT_SUSPECTED_ECZEMA_HERPETICUM,)),
        ({"blisters_or_erosions": True, "fever": False}, (rules.URGENT_SUSPECTED_ECZEMA_HERPETICUM,)),
        ({"blisters_or_erosions": None, "fever": True}, ()),  # a fever alone: concerning, not urgent
        ({"spreading_rash": True}, ()),  # a spreading rash alone
        ({"fever": True, "spreading_rash": False}, ()),
        ({"fever": True, "spreading_rash": None}, ()),
        ({"fever": True, "spreading_rash": True}, (rules.URGENT_FEVER_WITH_SPREADING_RASH,)),
        (
            {"blisters_or_erosions": True, "fever": True, "spreading_rash": True},
            (rules.URGENT_SUSPECTED_ECZEMA_HERPETICUM, rules.URGENT_FEVER_WITH_SPREADING_RASH),
        ),
        ({"new_or_changing_spot": True, "sore_not_healing": True, "swollen_lymph_nodes": True}, ()),
    ],
)
def test_urgent_signs_are_blisters_or_erosions_or_a_fever_with_a_spreading_rash(
    answers: dict[str, bool | None], signs: tuple[str, ...]
) -> None:
    assert rules.skin_check_urgent_signs(answers) == signs


@pytest.mark.parametrize(
    ("concerning", "answers", "expected"),
    [
        (None, {}, False),
        (False, dict.fromkeys(rules.SKIN_CHECK_ANSWERS, False), False),
        (True, {}, True),
        (False, {"new_or_changing_spot": True}, True),
        (None, {"sore_not_healing": True}, True),
        (None, {"swollen_lymph_nodes": True}, True),
        (None, {"fever": True}, True),
        (False, {"fever": None}, False),
    ],
)
def test_a_check_is_concerning_when_marked_or_any_question_is_answered_yes(
    concerning: bool | None, answers: dict[str, bool | None], expected: bool
) -> None:
    assert rules.skin_check_concerning(concerning=concerning, answers=answers) is expected


# --- The API ---------------------------------------------------------------------------------------


def test_an_urgent_check_answers_seek_medical_care_today_and_points_to_the_dermatologist(
    ad_patient: Patient,
) -> None:
    answer = post(ad_patient.user, ad_patient, check_body(**BLISTERS, fever=True))

    assert answer.status_code == 201
    body = answer.json()
    assert body["advice"].startswith(ADVICE_EN)
    assert "dermatologist" in body["advice"]
    assert body["urgent_signs"] == [rules.URGENT_SUSPECTED_ECZEMA_HERPETICUM]
    assert body["concerning"] is True
    assert body["blisters_or_erosions"] is True
    assert body["fever"] is True
    assert body["sore_not_healing"] is False
    stored = SkinCheck.objects.get(pk=body["id"])
    assert (stored.blisters_or_erosions, stored.fever, stored.urgent_signs) == (
        True,
        True,
        [rules.URGENT_SUSPECTED_ECZEMA_HERPETICUM],
    )


def test_the_advice_is_in_arabic_for_a_user_whose_language_is_arabic(ad_patient: Patient) -> None:
    User.objects.filter(pk=ad_patient.user.pk).update(language=Language.ARABIC)
    ad_patient.user.refresh_from_db()

    body = post(ad_patient.user, ad_patient, check_body(fever=True, spreading_rash=True)).json()

    assert body["advice"].startswith(ADVICE_AR)
    assert body["urgent_signs"] == [rules.URGENT_FEVER_WITH_SPREADING_RASH]


def test_the_advice_follows_accept_language_while_the_users_language_is_the_default(
    caregiver: User, child: Patient
) -> None:
    answer = post(caregiver, child, check_body(**BLISTERS), HTTP_ACCEPT_LANGUAGE="ar-QA,ar;q=0.9")

    assert answer.json()["advice"].startswith(ADVICE_AR)
    assert post(caregiver, child, check_body(**BLISTERS)).json()["advice"].startswith(ADVICE_EN)


def test_a_check_with_nothing_urgent_has_no_advice(ad_patient: Patient) -> None:
    body = post(ad_patient.user, ad_patient, check_body(new_or_changing_spot=True)).json()

    assert body["advice"] is None
    assert body["urgent_signs"] == []
    assert body["concerning"] is True  # a yes is for the care team to see


def test_an_old_client_sending_only_concerning_still_works(ad_patient: Patient) -> None:
    body = {"id": str(uuid.uuid4()), "performed_at": check_body()["performed_at"], "performed_by": "self"}
    first = post(ad_patient.user, ad_patient, {**body, "concerning": True, "note": "a new mole"})

    assert first.status_code == 201
    assert first.json()["concerning"] is True
    assert first.json()["fever"] is None  # not answered
    assert post(ad_patient.user, ad_patient, {**body, "concerning": True, "note": "a new mole"}).status_code == 200


def test_a_log_stored_before_the_questions_existed_replays_as_a_duplicate(ad_patient: Patient) -> None:
    """Its fingerprint was taken without the answers: replaying it as the old client sent it is not a conflict."""
    body = {"id": str(uuid.uuid4()), "performed_at": check_body()["performed_at"], "performed_by": "self"}
    post(ad_patient.user, ad_patient, {**body, "concerning": False})
    from tracking.services.logs import fingerprint

    old_print = fingerprint({**body, "performed_at": datetime.datetime.fromisoformat(body["performed_at"]),
                             "concerning": False, "note": ""})  # fmt: skip
    assert SkinCheck.objects.get(pk=body["id"]).fingerprint == old_print

    assert post(ad_patient.user, ad_patient, {**body, "concerning": False}).status_code == 200


def test_a_replay_of_the_answers_is_a_duplicate_and_a_changed_answer_a_conflict(ad_patient: Patient) -> None:
    body = check_body(**BLISTERS)
    assert post(ad_patient.user, ad_patient, body).status_code == 201

    replay = post(ad_patient.user, ad_patient, body)
    changed = post(ad_patient.user, ad_patient, {**body, "blisters_or_erosions": False})

    assert replay.status_code == 200
    assert replay.json()["advice"].startswith(ADVICE_EN)
    assert changed.status_code == 409
    assert changed.json()["stored"]["blisters_or_erosions"] is True
    assert SkinCheck.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fever": "maybe"}, "fever"),
        ({"blisters_or_erosions": [True]}, "blisters_or_erosions"),
        ({"swollen_lymph_nodes": 3}, "swollen_lymph_nodes"),
        ({"rash": True}, "rash"),
    ],
)
def test_a_bad_answer_is_a_400_naming_the_field(ad_patient: Patient, change: dict[str, Any], field: str) -> None:
    answer = post(ad_patient.user, ad_patient, check_body(**change))

    assert answer.status_code == 400
    assert field in answer.json()


def test_a_check_with_neither_concerning_nor_any_answer_is_a_400_naming_concerning(ad_patient: Patient) -> None:
    body = {"id": str(uuid.uuid4()), "performed_at": check_body()["performed_at"], "performed_by": "self"}

    answer = post(ad_patient.user, ad_patient, body)

    assert answer.status_code == 400
    assert "blisters_or_erosions" in answer.json()["concerning"][0]


def test_sync_stores_the_answers_and_carries_the_advice(ad_patient: Patient) -> None:
    urgent, calm, bad = check_body(**BLISTERS), check_body(), check_body(fever="hot")
    client = client_as(ad_patient.user)

    answer = client.post(
        f"/api/v1/patients/{ad_patient.pk}/sync/",
        {"skin_checks": [urgent, calm, bad]},
        format="json",
        HTTP_ACCEPT_LANGUAGE="ar",
    )

    first, second, third = answer.json()["skin_checks"]
    assert first["status"] == "created"
    assert first["advice"].startswith(ADVICE_AR)
    assert second == {"id": calm["id"], "status": "created"}
    assert third["status"] == "invalid"
    assert "fever" in third["errors"]
    assert SkinCheck.objects.get(pk=urgent["id"]).urgent_signs == [rules.URGENT_SUSPECTED_ECZEMA_HERPETICUM]


def test_the_schema_types_the_answers_and_the_advice(client: Any) -> None:
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]

    request, answer = schema["SkinCheckInputRequest"]["properties"], schema["SkinCheck"]["properties"]
    for name in rules.SKIN_CHECK_ANSWERS:
        assert request[name]["type"] == "boolean"
        assert request[name]["nullable"] is True
        assert answer[name]["type"] == "boolean"
    assert "concerning" not in schema["SkinCheckInputRequest"].get("required", [])
    assert answer["advice"]["nullable"] is True
    items = answer["urgent_signs"]["items"]
    if "$ref" in items:  # the enum is a component of its own
        items = schema[items["$ref"].rsplit("/", 1)[-1]]
    assert items["enum"] == list(rules.URGENT_SKIN_SIGN_WORDS)


# --- The care team, told at once -------------------------------------------------------------------


def test_an_urgent_check_opens_one_high_alert_and_e_mails_the_dermatologist_at_once(
    ad_patient: Patient, dermatologist: User, django_capture_on_commit_callbacks: Any, eager_tasks: None
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        post(ad_patient.user, ad_patient, check_body(**BLISTERS, fever=True))

    (alert,) = Alert.objects.filter(patient=ad_patient)
    assert (alert.kind, alert.severity) == (AlertKind.URGENT_SKIN_SIGNS, AlertSeverity.HIGH)
    (notification,) = Notification.objects.filter(alert=alert)
    assert notification.recipient == dermatologist
    assert notification.occurrence is None
    assert not notification.in_inbox
    assert list(notification.deliveries.values_list("channel", "status")) == [("email", "sent")]
    (message,) = mail.outbox
    assert message.to == [dermatologist.email]
    assert message.subject == "Urgent: a patient reported signs that need care today"
    assert "Amira" not in message.subject
    assert "Amira Nassar reported painful clustered blisters or punched-out erosions" in message.body
    assert f"/admin/tracking/alert/{alert.pk}/change/" in message.body
    assert "tacrolimus" not in message.body.lower()


def test_the_dermatologist_with_a_push_device_gets_a_push_that_names_no_patient(
    ad_patient: Patient,
    dermatologist: User,
    vapid_keys: Any,
    push_receiver: Any,
    django_capture_on_commit_callbacks: Any,
    eager_tasks: None,
) -> None:
    from tracking.notifications.services import device_register

    device, _ = device_register(user=dermatologist, platform="webpush", token=push_receiver.subscribe().token())

    with django_capture_on_commit_callbacks(execute=True):
        post(ad_patient.user, ad_patient, check_body(fever=True, spreading_rash=True))

    sent = {(delivery.channel, delivery.device_id, delivery.status) for delivery in Delivery.objects.all()}
    assert sent == {("webpush", device.pk, "sent"), ("email", None, "sent")}
    (push,) = push_receiver.deliveries()
    payload = push.payload()
    alert = Alert.objects.get()
    assert payload["title"] == "Urgent: a patient reported signs that need care today"
    assert payload["kind"] == "urgent_skin_signs"
    assert payload["alert_id"] == str(alert.pk)
    assert "patient_id" not in payload
    assert "Amira" not in payload["body"]
    # Push is their fastest channel; the e-mail, which names the patient, goes too, whatever the push does.
    (email,) = mail.outbox
    assert "Amira" in email.body


def test_a_push_refused_for_good_still_leaves_the_e_mail(
    ad_patient: Patient,
    dermatologist: User,
    vapid_keys: Any,
    push_receiver: Any,
    django_capture_on_commit_callbacks: Any,
    eager_tasks: None,
) -> None:
    from tracking.notifications.services import device_register

    device_register(user=dermatologist, platform="webpush", token=push_receiver.subscribe().token())
    push_receiver.answer(410, {"reason": "push subscription has unsubscribed or expired"})

    with django_capture_on_commit_callbacks(execute=True):
        post(ad_patient.user, ad_patient, check_body(fever=True, spreading_rash=True))

    statuses = dict(Delivery.objects.values_list("channel", "status"))
    assert statuses == {"webpush": "failed", "email": "sent"}
    (email,) = mail.outbox
    assert email.to == [dermatologist.email]


def test_a_push_device_on_a_platform_not_configured_here_falls_back_to_e_mail(
    ad_patient: Patient, dermatologist: User, settings: Any
) -> None:
    settings.FCM_SERVICE_ACCOUNT_FILE = ""
    Device.objects.create(user=dermatologist, platform="fcm", token="an-fcm-token", token_sha256="x")
    SkinCheck_log(ad_patient, BLISTERS)

    evaluate_patient_alerts(ad_patient)

    assert list(Delivery.objects.values_list("channel", flat=True)) == ["email"]


def SkinCheck_log(patient: Patient, answers: dict[str, bool]) -> SkinCheck:  # noqa: N802
    """Store a check as the API does (answers derived), without a request."""
    from tracking.services import log_record

    body = check_body(**answers)
    body["performed_at"] = datetime.datetime.fromisoformat(body["performed_at"])
    body["id"] = uuid.UUID(body["id"])
    result = log_record(model=SkinCheck, patient=patient, created_by=patient.user, item=body)
    return result.entry  # type: ignore[return-value]


def test_the_alert_is_opened_once_per_episode_and_the_clinician_told_once(
    ad_patient: Patient, dermatologist: User
) -> None:
    first = SkinCheck_log(ad_patient, BLISTERS)

    evaluate_patient_alerts(ad_patient)
    evaluate_patient_alerts(ad_patient)  # the hourly pass after the log's own
    later = SkinCheck_log(ad_patient, {"fever": True, "spreading_rash": True})
    evaluate_patient_alerts(ad_patient)

    (alert,) = Alert.objects.filter(kind=AlertKind.URGENT_SKIN_SIGNS)
    assert alert.episode_key == f"skin_check:{first.pk}"
    assert alert.evidence["other_skin_check_ids"] == [str(later.pk)]  # listed while open, no second alert
    assert Notification.objects.filter(alert=alert).count() == 1
    assert not Alert.objects.filter(kind=AlertKind.CONCERNING_SKIN_CHECK).exists()  # one alert per check


def test_a_dermatologist_who_joins_while_it_is_open_is_told_and_nobody_twice(ad_patient: Patient) -> None:
    SkinCheck_log(ad_patient, BLISTERS)
    evaluate_patient_alerts(ad_patient)
    newcomer = DermatologistFactory()
    CareTeamMembership.objects.create(patient=ad_patient, clinician=newcomer)

    evaluate_patient_alerts(ad_patient)
    evaluate_patient_alerts(ad_patient)

    assert Notification.objects.filter(alert__isnull=False).count() == 2
    assert Notification.objects.filter(recipient=newcomer).count() == 1


def test_an_urgent_alert_cannot_be_snoozed(ad_patient: Patient, dermatologist: User) -> None:
    from django.core.exceptions import ValidationError

    SkinCheck_log(ad_patient, BLISTERS)
    evaluate_patient_alerts(ad_patient)
    notification = Notification.objects.get(recipient=dermatologist)

    with pytest.raises(ValidationError):
        notification_snooze(notification=notification, minutes=10)


def test_a_clinicians_arabic_e_mail_is_in_arabic(ad_patient: Patient, dermatologist: User) -> None:
    User.objects.filter(pk=dermatologist.pk).update(language=Language.ARABIC)
    SkinCheck_log(ad_patient, BLISTERS)

    evaluate_patient_alerts(ad_patient)

    notification = Notification.objects.get(recipient=dermatologist)
    assert notification.title == "عاجل: أبلغ مريض عن علامات تحتاج إلى رعاية اليوم"
    assert "بثور مؤلمة متجمعة" in notification.body


# --- The review and the export ---------------------------------------------------------------------


def test_the_review_timeline_and_the_csv_show_the_answers(ad_patient: Patient) -> None:
    check = SkinCheck_log(ad_patient, {**BLISTERS, "swollen_lymph_nodes": True})

    text = skin_check_text(check)
    assert text.startswith("URGENT: painful clustered blisters or punched-out erosions")
    assert "swollen lymph nodes" in text

    out = io.StringIO()
    day = datetime.date.today()
    export_write(out, ad_patient, first=day - datetime.timedelta(days=1), last=day + datetime.timedelta(days=1))
    (row,) = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert set(rules.SKIN_CHECK_ANSWERS) <= set(EXPORT_COLUMNS)
    assert row["blisters_or_erosions"] == "yes"
    assert row["fever"] == "no"
    assert row["urgent_signs"] == rules.URGENT_SUSPECTED_ECZEMA_HERPETICUM
