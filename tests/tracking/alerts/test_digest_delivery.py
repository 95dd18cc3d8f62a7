"""The alert digest goes out through the email transport, so SMTP's answer decides what follows, as for reminders:
a transient refusal (4xx) is retried after the delivery backoff, a permanent one (5xx) is recorded and not retried.

A real SMTP server on loopback (tests/tracking/peers.py) gives each answer.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
import time_machine
from pytest_django.fixtures import Settings

from accounts.models import Patient, User
from tests.tracking.peers import SmtpServer, use_smtp_server
from tracking.alerts import tasks
from tracking.alerts.services import alert_digest_send, send_alert_digests
from tracking.models import Alert, AlertDigest, AlertKind, AlertSeverity, DeliveryStatus
from tracking.notifications.services import backoff

pytestmark = pytest.mark.django_db

OPENED = datetime.datetime(2026, 11, 10, 20, 0, tzinfo=datetime.UTC)
RUN = datetime.datetime(2026, 11, 11, 6, 0, tzinfo=datetime.UTC)
TRY_LATER = "451 4.3.0 Try later"
REFUSED = "554 5.6.0 No"


@pytest.fixture
def alert(ad_patient: Patient) -> Alert:
    """An alert opened overnight for a patient on the clinic dermatologist's care team."""
    return Alert.objects.create(
        patient=ad_patient,
        kind=AlertKind.PERSISTENT_BURNING,
        severity=AlertSeverity.MEDIUM,
        summary="Burning of 4/10 or more on 3 of the last 7 days.",
        evidence={},
        opened_at=OPENED,
    )


def smtp_answering(settings: Settings, reject_with: str | None) -> Iterator[SmtpServer]:
    with SmtpServer(reject_with=reject_with) as server:
        use_smtp_server(settings, server.host, server.port)
        yield server


@pytest.fixture
def smtp_trying_later(settings: Settings) -> Iterator[SmtpServer]:
    yield from smtp_answering(settings, TRY_LATER)


@pytest.fixture
def smtp_refusing(settings: Settings) -> Iterator[SmtpServer]:
    yield from smtp_answering(settings, REFUSED)


def test_a_digest_refused_for_now_is_retried_after_the_backoff(
    alert: Alert, dermatologist: User, smtp_trying_later: SmtpServer, settings: Settings
) -> None:
    retries: list[tuple[int, int, datetime.timedelta]] = []

    assert send_alert_digests(now=RUN, on_retry=lambda *retry: retries.append(retry)) == 0

    assert retries == [(dermatologist.pk, 2, backoff(1))]
    assert not AlertDigest.objects.exists()  # the retry covers the same alerts
    with SmtpServer() as accepting:
        use_smtp_server(settings, accepting.host, accepting.port)
        outcome = alert_digest_send(clinician_id=dermatologist.pk, now=RUN + backoff(1), attempt=2)
    assert outcome.status == DeliveryStatus.SENT
    (mail,) = accepting.received
    assert mail.rcpt_tos == [dermatologist.email]
    assert alert.summary in mail.text
    assert AlertDigest.objects.get(clinician=dermatologist).alert_count == 1


def test_a_digest_refused_for_now_stops_retrying_at_the_attempt_limit(
    alert: Alert, dermatologist: User, smtp_trying_later: SmtpServer, settings: Settings
) -> None:
    last = settings.DELIVERY_MAX_ATTEMPTS

    outcome = alert_digest_send(clinician_id=dermatologist.pk, now=RUN, attempt=last)

    assert outcome.status == DeliveryStatus.PENDING
    assert outcome.retry_in is None  # no more retries: the next daily run covers these alerts
    assert not AlertDigest.objects.exists()


def test_a_digest_refused_for_good_is_recorded_and_not_retried(
    alert: Alert, dermatologist: User, smtp_refusing: SmtpServer
) -> None:
    retries: list[tuple[int, int, datetime.timedelta]] = []

    assert send_alert_digests(now=RUN, on_retry=lambda *retry: retries.append(retry)) == 0

    assert retries == []
    assert AlertDigest.objects.get(clinician=dermatologist).alert_count == 1
    # Recorded: the next run does not send the same alerts again.
    assert send_alert_digests(now=RUN + datetime.timedelta(days=1)) == 0
    assert AlertDigest.objects.filter(clinician=dermatologist).count() == 1
    assert smtp_refusing.received == []


def test_the_daily_task_schedules_a_refused_digest_again_and_the_retry_task_sends_it(
    alert: Alert,
    dermatologist: User,
    smtp_trying_later: SmtpServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scheduled: list[tuple[tuple[int, int], float]] = []
    monkeypatch.setattr(
        tasks.send_alert_digest, "apply_async", lambda args, countdown: scheduled.append((args, countdown))
    )

    with time_machine.travel(RUN, tick=False):
        assert tasks.send_alert_digests() == 0

    assert scheduled == [((dermatologist.pk, 2), backoff(1).total_seconds())]
    with SmtpServer() as accepting, time_machine.travel(RUN + backoff(1), tick=False):
        use_smtp_server(settings, accepting.host, accepting.port)
        assert tasks.send_alert_digest(dermatologist.pk, 2) == DeliveryStatus.SENT
    assert len(accepting.received) == 1
    assert len(scheduled) == 1  # sent: nothing more scheduled
