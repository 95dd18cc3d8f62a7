"""Telling a patient's dermatologists at once about an alert that cannot wait for the daily digest.

One notification per dermatologist on the patient's care team, and delivery rows on the fastest
channel each has, every active push device whose platform is configured here, and always e-mail too:
a push to a phone that was lost or unsubscribed fails for good, and the e-mail still arrives. The rows
go through the same delivery path as reminders (`delivery_send`: retries with backoff, and
`stale_work` re-enqueues a send no worker finished). A clinician's notification is not in their
reminder inbox (`in_inbox` False): the alert itself is in the admin's Alerts list.

Words (rules.URGENT_ALERT_*): the title names no patient (lock screens, e-mail previews); a push's
body names nobody either, since FCM and APNs carry it and a lock screen shows it; an e-mail's body
names the patient and what they reported, which the dermatologist needs to act on at once.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import User
from tracking import rules
from tracking.alerts.selectors import care_team_dermatologists
from tracking.models import Alert, Channel, Delivery, Device, Notification
from tracking.notifications.services.sending import alert_admin_url
from tracking.notifications.transports.registry import transport_for


def alert_notify_care_team(*, alert: Alert, now: datetime.datetime | None = None) -> list[int]:
    """Write each care-team dermatologist's notification and deliveries; return the ids a worker sends.

    Idempotent: a dermatologist already told about this alert is not told again (a database constraint,
    so two evaluations at once tell them once). Queries: three to read, two per dermatologist told.
    """
    now = now or timezone.now()
    told = set(Notification.objects.filter(alert=alert).values_list("recipient_id", flat=True))
    clinicians = [
        clinician
        for clinician in care_team_dermatologists(alert.patient).only("pk", "email", "language")
        if clinician.pk not in told
    ]
    if not clinicians:
        return []
    devices: dict[int, list[Device]] = defaultdict(list)
    for device in Device.objects.filter(user__in=clinicians, active=True).order_by("created_at"):
        if transport_for(device.platform).unavailable_reason() is None:
            devices[device.user_id].append(device)
    send_ids: list[int] = []
    for clinician in clinicians:
        pushable = devices.get(clinician.pk, [])
        title, body = _words(alert, clinician)
        notification = Notification(
            alert=alert,
            recipient=clinician,
            patient=alert.patient,
            kind=alert.kind,
            title=title,
            body=body,
            in_inbox=False,
            created_at=now,
        )
        # The fastest channel they have (push on every device that can take it), and e-mail whatever happens.
        deliveries = [
            *(
                Delivery(notification=notification, channel=device.platform, device=device, next_attempt_at=now)
                for device in pushable
            ),
            Delivery(notification=notification, channel=Channel.EMAIL, next_attempt_at=now),
        ]
        try:
            with transaction.atomic():  # a savepoint: a lost race leaves the caller's transaction usable
                notification.save(force_insert=True)
                send_ids.extend(delivery.pk for delivery in Delivery.objects.bulk_create(deliveries))
        except IntegrityError:
            continue  # told by a concurrent evaluation a moment ago
    return send_ids


def _words(alert: Alert, clinician: User) -> tuple[str, str]:
    """Title and the e-mail's body in the clinician's language; the body names the patient."""
    with translation.override(clinician.language):
        title = gettext(rules.URGENT_ALERT_TITLE)
        evidence = alert.evidence or {}
        signs = [gettext(rules.URGENT_SKIN_SIGN_WORDS[sign]) for sign in evidence.get("urgent_signs", [])]
        body = gettext(rules.URGENT_ALERT_EMAIL_BODY).format(
            patient=str(alert.patient),
            signs=gettext(" and ").join(signs) if signs else gettext(rules.URGENT_ALERT_SIGNS_UNNAMED),
            performed_on=evidence.get("performed_on", ""),
        )
        return title, f"{body}\n{alert_admin_url(alert.pk)}"
