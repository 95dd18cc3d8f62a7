"""The transport for each channel and device platform, one instance per process."""

from __future__ import annotations

from tracking.notifications.transports.apns import ApnsTransport
from tracking.notifications.transports.base import Transport
from tracking.notifications.transports.email import EmailTransport
from tracking.notifications.transports.fcm import FcmTransport
from tracking.notifications.transports.inbox import InboxTransport
from tracking.notifications.transports.webpush import WebPushTransport

# Keyed by Delivery.channel for the inbox and email, by Device.platform for push; one instance per process,
# so the HTTP clients, OAuth token and provider JWT are reused between sends.
TRANSPORTS: dict[str, Transport] = {
    "inbox": InboxTransport(),
    "email": EmailTransport(),
    "webpush": WebPushTransport(),
    "fcm": FcmTransport(),
    "apns": ApnsTransport(),
}


def transport_for(channel_or_platform: str) -> Transport:
    """The transport for "inbox", "email" or a device platform ("webpush", "fcm", "apns").

    "push" is not one: push goes out once per device, through the transport of each device's platform.
    """
    try:
        return TRANSPORTS[channel_or_platform]
    except KeyError:
        raise LookupError(
            f"No transport for {channel_or_platform!r}; expected one of {', '.join(sorted(TRANSPORTS))}."
        ) from None
