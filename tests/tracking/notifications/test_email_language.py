"""A reminder e-mail is in its recipient's language (issue #16): an Arabic-speaking caregiver's has the Arabic
footer and a right-to-left HTML body (`lang="ar" dir="rtl"`); an English speaker's is as it always was.

The reminder goes the whole way: the sweep makes the occurrence, fan-out the notification in the
recipient's language, and the e-mail transport sends it to a real SMTP server on loopback.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import translation

from accounts.models import Language, User
from tests.personas import Clinic, prescribe
from tests.tracking.conftest import at
from tests.tracking.peers import ReceivedMail, SmtpServer
from tracking.models import Delivery, DeliveryStatus
from tracking.notifications.services import delivery_send, occurrences_deliver
from tracking.reminders.sweep import sweep

pytestmark = pytest.mark.django_db

SLOT = "2026-11-21T20:00:00+03:00"
FOOTER = "Open the app to log it or to snooze this reminder."
ARABIC_FOOTER = "افتح التطبيق لتسجيل ذلك أو لتأجيل هذا التذكير."


def reminder_e_mail(clinic: Clinic, caregiver: User, language: str, smtp_server: SmtpServer) -> ReceivedMail:
    """The evening dose reminder e-mail a caregiver speaking `language` gets about their child."""
    caregiver.language = language
    caregiver.save(update_fields=["language"])
    with time_machine.travel(at("2026-11-21T09:00:00+03:00"), tick=False):
        child = clinic.child_of(caregiver)
        prescribe(child, created_by=caregiver, strength="0.03", start_date=datetime.date(2026, 11, 1))
    with time_machine.travel(at(SLOT), tick=False):
        occurrences_deliver(sweep().pending_ids)
    delivery = Delivery.objects.get(channel="email")

    outcome = delivery_send(delivery.pk, now=at(SLOT))

    assert outcome is not None
    assert outcome.status == DeliveryStatus.SENT
    [mail] = smtp_server.received
    assert mail.rcpt_tos == [caregiver.email]
    return mail


def test_an_arabic_speakers_reminder_e_mail_has_the_arabic_footer_and_reads_right_to_left(
    clinic: Clinic, caregiver: User, smtp_server: SmtpServer
) -> None:
    mail = reminder_e_mail(clinic, caregiver, Language.ARABIC, smtp_server)

    with translation.override(Language.ARABIC):
        assert translation.gettext(FOOTER) == ARABIC_FOOTER
    assert ARABIC_FOOTER in mail.text
    assert ARABIC_FOOTER in mail.html
    assert FOOTER not in mail.text + mail.html
    assert '<html lang="ar" dir="rtl">' in mail.html
    # The title (the subject) and the body were already the recipient's: fan-out writes them in Arabic.
    assert any("\u0600" <= character <= "\u06ff" for character in mail.subject)


def test_an_english_speakers_reminder_e_mail_is_unchanged(
    clinic: Clinic, caregiver: User, smtp_server: SmtpServer
) -> None:
    mail = reminder_e_mail(clinic, caregiver, Language.ENGLISH, smtp_server)

    assert mail.text.rstrip("\n").endswith(FOOTER)
    assert f'<p style="color: #5b6775;">{FOOTER}</p>' in mail.html
    assert mail.html.startswith('<!doctype html>\n<html lang="en">\n')
    assert "rtl" not in mail.html
    assert not any("\u0600" <= character <= "\u06ff" for character in mail.text + mail.html + mail.subject)
