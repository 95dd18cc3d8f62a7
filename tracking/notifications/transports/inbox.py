"""The in-app inbox: the notification row itself, which GET /api/v1/notifications/ lists.

Nothing leaves the machine, so there is nothing to send and nothing to retry: the fan-out writes the
row and its delivery in one transaction (tracking/notifications/services/fan_out.py), and the
delivery is sent from the moment it is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracking.notifications.transports.base import Message

if TYPE_CHECKING:
    from tracking.models import Device


class InboxTransport:
    channel = "inbox"
    needs_device = False
    delivered_when_written = True

    def unavailable_reason(self) -> str | None:
        return None  # the database is always there when a notification is written

    def send(self, message: Message, device: Device | None) -> None:
        return None  # the row is the delivery
