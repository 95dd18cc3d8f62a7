"""A notification's words: in the recipient's language, and never the drug's name (it can show on a lock screen).

Unit tests: the sweep and fan-out are called directly, as in test_notifications.py.
"""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
import time_machine

from accounts.models import Language
from tests.factories import CaregiverFactory
from tests.personas import prescribe
from tests.tracking.conftest import at
from tracking import rules
from tracking.models import Application, Notification
from tracking.notifications.services import occurrences_deliver
from tracking.reminders.sweep import sweep

DRUG_WORDS = re.compile(r"tacrolimus|pimecrolimus|protopic|elidel|0\.1|0\.03|%", re.IGNORECASE)
LATIN = re.compile(r"[A-Za-z]{2,}")
ARABIC = re.compile(r"[\u0600-\u06FF]{3,}")


def fire(now: str) -> list[uuid.UUID]:
    with time_machine.travel(at(now), tick=False):
        result = sweep()
        if result.pending_ids:
            occurrences_deliver(result.pending_ids)
        return result.pending_ids


def speaks(user, language: str) -> None:
    user.language = language
    user.save(update_fields=["language"])


def test_an_english_speakers_dose_reminder_names_no_drug(patient, frozen):
    prescribe(patient)  # tacrolimus 0.1% on the face and neck, 08:00 and 20:00
    fire("2026-11-21T20:00:00+03:00")
    notification = Notification.objects.get()
    assert notification.title == "Time for your treatment"
    assert notification.body.startswith(
        "Apply a thin layer to face and neck, as your dermatologist prescribed, then log it."
    )
    assert not DRUG_WORDS.search(f"{notification.title} {notification.body}")


def test_an_arabic_speakers_dose_reminder_and_its_follow_up_are_in_arabic_and_name_no_drug(patient, frozen):
    speaks(patient.user, Language.ARABIC)
    prescribe(patient)
    fire("2026-11-21T20:00:00+03:00")
    fire("2026-11-21T21:00:00+03:00")  # not logged: the follow-up an hour later

    reminder = Notification.objects.get(kind="dose")
    assert reminder.title == "حان وقت علاجك"
    assert "ضع طبقة رقيقة على الوجه والرقبة" in reminder.body  # the label's thin layer, the areas in Arabic
    assert "طبيب الجلد" in reminder.body
    follow_up = Notification.objects.get(kind="dose_follow_up")
    assert follow_up.title == "هل وضعت علاجك؟"
    for notification in (reminder, follow_up):
        text = f"{notification.title} {notification.body}"
        assert not DRUG_WORDS.search(text), text
        assert not LATIN.findall(text), text
        assert ARABIC.search(text), text


def test_each_caregiver_reads_the_childs_reminder_in_their_own_language_naming_the_child(child, caregiver, frozen):
    speaks(caregiver, Language.ARABIC)
    english_parent = CaregiverFactory()
    child.caregivers.add(english_parent)
    prescribe(child, created_by=caregiver, strength="0.03")
    fire("2026-11-21T20:00:00+03:00")

    titles = dict(Notification.objects.values_list("recipient_id", "title"))
    assert titles == {
        caregiver.pk: f"حان وقت علاج {child.first_name}",
        english_parent.pk: f"Time for {child.first_name}'s treatment",
    }
    for notification in Notification.objects.all():
        assert not DRUG_WORDS.search(f"{notification.title} {notification.body}")


def test_an_arabic_refill_prompt_says_the_day_in_words_never_an_iso_date(patient, frozen):
    speaks(patient.user, Language.ARABIC)
    # 30 g, face and neck twice a day: empty around 3 December (as in test_notifications.py).
    regimen = prescribe(patient, start_date=datetime.date(2026, 11, 21), tube_grams=30)
    for day in range(21, 27):
        for time in ("08:00", "20:00"):
            Application.objects.create(
                patient=patient,
                regimen=regimen,
                applied_at=at(f"2026-11-{day}T{time}:00+03:00"),
                body_areas=["face"],
                fingerprint="test",
                created_by=patient.user,
            )
    fire("2026-11-27T18:00:00+03:00")

    prompt = Notification.objects.get(kind="refill")
    assert prompt.title == "قد ينفد الأنبوب قريبًا"
    assert "نحو 3 ديسمبر" in prompt.body
    assert not re.search(r"\d{4}-\d{2}-\d{2}", prompt.body)
    assert not LATIN.findall(prompt.body)


@pytest.mark.parametrize(
    "text",
    [
        value
        for name, value in vars(rules).items()
        if isinstance(value, str) and name.endswith(("_TITLE", "_TITLE_CHILD", "_BODY"))
    ],
)
def test_no_reminder_text_has_room_for_the_drug(text: str) -> None:
    assert "{drug}" not in text
    assert "{strength}" not in text
