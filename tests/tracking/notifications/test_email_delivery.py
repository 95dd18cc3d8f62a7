"""E-mail delivery never loops: a message the channel cannot carry fails for good, and every delivery
stops at DELIVERY_MAX_ATTEMPTS whoever hands it out again (a retry, `requeue_stale`, a redelivered task).

Issue #22: a child whose name was stored with a line break ("Noah\\nBcc: ...", before names were
checked) made every reminder e-mail to the caregivers raise ValueError in Django's header check; the
delivery stayed pending and `requeue_stale` handed it out again every few minutes, forever.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator

import pytest
import time_machine
from django.core import mail
from pytest_django.fixtures import Settings

from accounts.models import Patient, User
from tacro_topical.celery import app
from tests.personas import Clinic, prescribe
from tests.tracking.conftest import at
from tracking.models import Delivery, DeliveryStatus
from tracking.notifications.services import delivery_send, occurrences_deliver, stale_work
from tracking.notifications.tasks import requeue_stale
from tracking.notifications.transports.email import EmailTransport
from tracking.reminders.sweep import sweep
from tracking.reminders.tasks import sweep_reminders

pytestmark = pytest.mark.django_db

INJECTED_NAME = "Noah\nBcc: someone@example.org"
SLOT = "2026-11-21T20:00:00+03:00"


@pytest.fixture
def child_named_with_a_line_break(clinic: Clinic, caregiver: User) -> Iterator[Patient]:
    """The child persona, with a name stored before names were checked: straight into the database."""
    with time_machine.travel(at("2026-11-21T09:00:00+03:00"), tick=False):
        child = clinic.child_of(caregiver, first_name=INJECTED_NAME)
        prescribe(child, created_by=caregiver, strength="0.03", start_date=datetime.date(2026, 11, 1))
        yield child


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Celery tasks run in place, as a worker would run them, exceptions kept in the result as a worker would."""
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


def email_delivery_of_the_slot() -> Delivery:
    with time_machine.travel(at(SLOT), tick=False):
        occurrences_deliver(sweep().pending_ids)
    return Delivery.objects.get(channel="email")


def test_an_email_whose_subject_would_carry_a_line_break_fails_for_good_without_raising(
    child_named_with_a_line_break: Patient,
) -> None:
    delivery = email_delivery_of_the_slot()

    outcome = delivery_send(delivery.pk, now=at(SLOT))

    assert outcome is not None
    assert (outcome.status, outcome.retry_in) == (DeliveryStatus.FAILED, None)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert "header would carry a control character" in delivery.detail
    assert "Noah" not in delivery.detail  # Django's error quotes the header: patient data stays out
    assert not mail.outbox


def test_the_line_break_case_end_to_end_is_attempted_once_and_never_handed_out_again(
    child_named_with_a_line_break: Patient, eager_tasks: None, settings: Settings
) -> None:
    settings.REMINDER_REQUEUE_AFTER_SECONDS = 300
    with time_machine.travel(at(SLOT), tick=False):
        sweep_reminders()  # sweep -> deliver_occurrences -> send_delivery, each run as a worker would

    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    # requeue_stale every two minutes for two hours, as beat runs it, and a day later: nothing is handed out again.
    requeued = []
    for minutes in [*range(2, 120, 2), 24 * 60]:
        with time_machine.travel(at(SLOT) + datetime.timedelta(minutes=minutes), tick=False):
            requeued.append(requeue_stale())
    assert not any(requeued)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert not mail.outbox


def test_a_delivery_whose_every_attempt_ends_without_an_outcome_stops_at_the_attempt_limit(
    child_named_with_a_line_break: Patient, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """Each attempt kills its worker (here: an error no transport should raise), so nothing is recorded."""
    settings.DELIVERY_MAX_ATTEMPTS = 3
    settings.REMINDER_REQUEUE_AFTER_SECONDS = 300
    delivery = email_delivery_of_the_slot()
    sends = []

    def worker_dies(transport: EmailTransport, message: object, device: object) -> None:
        sends.append(message)
        raise SystemExit("the worker was killed mid-send")

    monkeypatch.setattr(EmailTransport, "send", worker_dies)
    now = at(SLOT)
    for _ in range(10):  # a worker takes it whenever its lease has run out (requeue_stale, a redelivered task)
        with contextlib.suppress(SystemExit):
            delivery_send(delivery.pk, now=now)
        now += datetime.timedelta(minutes=11)

    delivery.refresh_from_db()
    assert len(sends) == 3
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert delivery.detail == "Gave up after 3 attempt(s) that ended without an outcome."
    assert stale_work(now=now).delivery_ids == []
