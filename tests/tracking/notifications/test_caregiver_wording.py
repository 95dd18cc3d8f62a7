"""A parent's reminders speak of the child: "Sara's skin", "as Sara's dermatologist prescribed", never "your
skin" or "your dermatologist", in English and in Arabic; the patient's own reminders still say "your".

The sweep and fan-out are called directly (as in test_wording.py); each kind's words are also checked on
wording() itself, so every body a caregiver can get is covered.
"""

from __future__ import annotations

import datetime
import re

import pytest

from accounts.models import Condition, Language
from tests.factories import CaregiverFactory
from tests.personas import prescribe
from tests.tracking.notifications.test_wording import fire, speaks
from tracking.models import Notification, Occurrence, ScheduleKind
from tracking.notifications.wording import wording
from tracking.reminders.services import FOLLOW_UP_KIND

YOUR = re.compile(r"\byour (skin|dermatologist)|\bYour dermatologist", re.IGNORECASE)
# Arabic's "your skin" and "your doctor advised/prescribed you": جلدك، نصحك، وصف لك
ARABIC_YOUR = re.compile(r"جلدك|نصحك|وصف لك")


def test_each_caregiver_reads_the_childs_dose_reminder_about_the_child(child, caregiver, frozen):
    speaks(caregiver, Language.ARABIC)
    english_parent = CaregiverFactory()
    child.caregivers.add(english_parent)
    prescribe(child, created_by=caregiver, strength="0.03")
    fire("2026-11-21T20:00:00+03:00")
    fire("2026-11-21T21:00:00+03:00")  # not logged: the follow-up

    name = child.first_name
    english = Notification.objects.get(recipient=english_parent, kind="dose")
    assert english.body.startswith(
        f"Apply a thin layer to face and neck, as {name}'s dermatologist prescribed, then log it."
    )
    assert english.body.endswith(f"Questions? Ask {name}'s dermatologist.")
    arabic = Notification.objects.get(recipient=caregiver, kind="dose")
    assert arabic.body.startswith(f"ضع طبقة رقيقة على الوجه والرقبة كما وصف طبيب جلد {name}")
    follow_up = Notification.objects.get(recipient=english_parent, kind=FOLLOW_UP_KIND)
    assert f"follow the plan of {name}'s dermatologist" in follow_up.body
    for notification in Notification.objects.all():
        assert not YOUR.search(notification.body), notification.body
        assert not ARABIC_YOUR.search(notification.body), notification.body


def test_the_patients_own_reminder_still_says_your(patient, frozen):
    prescribe(patient)
    fire("2026-11-21T20:00:00+03:00")
    assert "as your dermatologist prescribed" in Notification.objects.get().body


@pytest.mark.parametrize("language", [Language.ENGLISH, Language.ARABIC])
@pytest.mark.parametrize("kind", [ScheduleKind.POEM, ScheduleKind.SKIN_CHECK, ScheduleKind.REFILL])
def test_every_body_a_caregiver_gets_is_about_the_child(child, caregiver, frozen, kind, language):
    regimen = prescribe(child, created_by=caregiver, strength="0.03", tube_grams=30)
    child.condition = Condition.CLE_DISCOID  # the sun advice too
    occurrence = Occurrence(patient=child, kind=kind, local_date=datetime.date(2026, 11, 21), slot="18:00")
    title, body = wording(occurrence, regimen, child, language=language, child_name="Sara")
    assert "Sara" in title
    assert not YOUR.search(body), body
    assert not ARABIC_YOUR.search(body), body
    assert body.count("Sara") >= 2
    _, own = wording(occurrence, regimen, child, language=language)
    assert "Sara" not in own
    assert YOUR.search(own) or ARABIC_YOUR.search(own), own
