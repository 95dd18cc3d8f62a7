"""The address a request came from: one function for the throttles and the sign-in lockout alike.

`NUM_PROXIES` (settings) says how many proxies we run in front of the app, each appending the address
it received the request from to X-Forwarded-For:

- 0 (the default): the header is ignored, since anyone can send it; REMOTE_ADDR is the client.
- N: the Nth entry from the right is the address our outermost proxy saw, the only one no client chose.
  Entries further left are whatever the client sent, so they are never read.

This is DRF's meaning of NUM_PROXIES. django-ipware counts proxies differently and also trusts headers
such as X-Real-IP that a client can set, which is why it is not used here.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request


def client_address(request: HttpRequest | Request) -> str | None:
    """The client's IP address; REMOTE_ADDR when the proxies' header is missing, too short or not an address.

    None only when the server gave no usable REMOTE_ADDR either (a Unix socket without a proxy).
    """
    meta = request.META
    remote_address = valid_address(meta.get("REMOTE_ADDR", ""))
    proxies = int(getattr(settings, "NUM_PROXIES", 0) or 0)
    if proxies <= 0:
        return remote_address
    forwarded = [entry.strip() for entry in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < proxies:
        # Fewer entries than proxies: the request skipped one of them, so the header proves nothing.
        return remote_address
    return valid_address(forwarded[-proxies]) or remote_address


def valid_address(text: str) -> str | None:
    """`text` as an IPv4 or IPv6 address in canonical form, or None if it is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


# One IPv6 customer holds a whole /64 (RFC 6177 and common practice): counting each address apart would
# hand one client 2**64 separate throttle buckets.
IPV6_CLIENT_PREFIX = 64


def client_network(request: HttpRequest | Request) -> str | None:
    """What the throttles count as one client: the IPv4 address, or the IPv6 address's /64."""
    address = client_address(request)
    if address is None:
        return None
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return address
