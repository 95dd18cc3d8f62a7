"""Notification writes, by concern; every name callers use is importable from here.

- fan_out.py: pending occurrences become notifications and per-channel deliveries (`occurrences_deliver`);
- sending.py: one attempt at an email or push delivery, with its lease and backoff (`delivery_send`),
  and the requeue of work no worker finished (`stale_work`);
- inbox.py: a recipient's ack and snooze;
- devices.py: push devices, registered and removed, and a test push to one;
- care_team.py: a patient's dermatologists told at once about an urgent alert (`alert_notify_care_team`).
"""

from tracking.notifications.services.care_team import alert_notify_care_team
from tracking.notifications.services.devices import (
    device_register,
    device_remove,
    device_test_send,
    device_unavailable_reason,
)
from tracking.notifications.services.fan_out import FanOut, occurrences_deliver
from tracking.notifications.services.inbox import notification_ack, notification_snooze
from tracking.notifications.services.sending import SEND_LEASE, SendOutcome, Stale, backoff, delivery_send, stale_work

__all__ = [
    "SEND_LEASE",
    "FanOut",
    "SendOutcome",
    "Stale",
    "alert_notify_care_team",
    "backoff",
    "delivery_send",
    "device_register",
    "device_remove",
    "device_test_send",
    "device_unavailable_reason",
    "notification_ack",
    "notification_snooze",
    "occurrences_deliver",
    "stale_work",
]
