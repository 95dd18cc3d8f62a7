"""The one guard for outbound requests to a URL a client supplied (DESIGN.md, "Security"; issue #22).

A client hands us URLs that a worker later connects to (a Web Push subscription's endpoint).
Unguarded, that is a server-side request forgery: the worker reaches Redis, the cloud metadata
service or any internal host, follows a redirect into one, or is held by a server that drips its
answer. Every such request goes through `post()`, which:

- takes https on port 443 only, no user name or password, and a host name (never an IP address,
  however it is spelled) equal to one of the allowed hosts or under it (`check_url`, which is also
  what registration runs: it needs no DNS lookup);
- resolves the name and refuses unless every address is public (`is_public_address`), then
  connects to one of those vetted addresses itself, using the name only for SNI, the certificate
  and the Host header, so a DNS answer that changes in between (rebinding) cannot move it;
- follows no redirect and reads the status and headers only, never the body: nothing a remote
  server writes can reach a user through us;
- gives up at a total deadline, however slowly the peer drips its bytes.

`DestinationRefusedError`: not sent, and it never will be as it stands. `NoAnswerError`: no usable
answer, and a retry may help. Both carry our own words only, completing "The URL ...".

Tests: `OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS` lets a local receiver stand in for a remote service. An
allowed host name that resolves to loopback is then accepted, and only then over plain http and on
any port. The setting is not read from the environment and has no effect in production.

Known limit: the DNS lookup itself runs under the system resolver's own timeouts, not the deadline.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

HTTPS_PORT = 443
# The same certificate authorities requests (and so pywebpush) trusted before this module existed.
_TLS = ssl.create_default_context(cafile=certifi.where())
# One DNS label: letters, digits and inner hyphens (RFC 1123). No IP address, percent sign, bracket
# or Unicode lookalike fits, and `_NUMERIC_LABEL` catches the dotted spellings of IPv4.
_HOSTNAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*")
# The URL Standard reads a host whose last label is a number (decimal, 0x hex, or octal with a
# leading 0) as an IPv4 address: 127.1, 0177.0.0.1, 0x7f.1 and 2130706433 all mean 127.0.0.1.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class DestinationRefusedError(Exception):
    """Not sent: the URL, or an address its name resolves to, is not one we send to. Our words."""


class NoAnswerError(Exception):
    """No usable answer: the name did not resolve, the connection, TLS or the response broke, or the
    deadline passed. A later attempt may succeed. Our words."""


@dataclass(frozen=True)
class Target:
    """What a request to a checked URL needs."""

    scheme: str
    host: str
    port: int
    path: str  # with the query: what goes on the request line

    @property
    def authority(self) -> str:
        default_port = HTTPS_PORT if self.scheme == "https" else 80
        return self.host if self.port == default_port else f"{self.host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.authority}"


def loopback_allowed_for_tests() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS", False)) and not settings.PRODUCTION


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    """Whether `host` is one of `allowed_hosts` or a subdomain of one ("*.example.org" reads as "example.org")."""
    for entry in allowed_hosts:
        suffix = entry.strip().lower().removeprefix("*").strip(".")
        if suffix and (host == suffix or host.endswith(f".{suffix}")):
            return True
    return False


def check_url(url: str, *, allowed_hosts: Iterable[str]) -> Target:
    """The parts of `url` a request needs, or DestinationRefusedError saying what is wrong. No DNS lookup."""
    if not url.isascii() or not url.isprintable() or " " in url or "\\" in url:
        raise DestinationRefusedError("holds a space, a backslash, a control or a non-ASCII character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:  # a malformed [IPv6] host, a port that is not a number up to 65535
        raise DestinationRefusedError("is not a well-formed URL") from error
    loopback_allowed = loopback_allowed_for_tests()
    if parts.scheme != "https" and not (loopback_allowed and parts.scheme == "http"):
        raise DestinationRefusedError("is not an https:// URL")
    if "@" in parts.netloc:
        raise DestinationRefusedError("carries a user name or password")
    port = port or (HTTPS_PORT if parts.scheme == "https" else 80)
    if port != HTTPS_PORT and not loopback_allowed:
        raise DestinationRefusedError(f"is not on port {HTTPS_PORT}")
    host = parts.hostname or ""
    if ":" in host or _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        raise DestinationRefusedError("names an IP address instead of a host name")
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise DestinationRefusedError("has no valid host name")
    if not host_allowed(host, allowed_hosts):
        raise DestinationRefusedError("is not on an allowed host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path)


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is globally routable: not loopback, private, shared, link-local, site-local,
    multicast, reserved or unspecified, nor an IPv6 form that carries such an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4-mapped (a dual-stack resolver's answer) and NAT64 (an IPv6-only network's) reach the
        # IPv4 address inside, so that address is the one to judge.
        inner = address.ipv4_mapped
        if address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
        if inner is not None:
            return is_public_address(inner)
        tunnelled = [address.sixtofour, *(address.teredo or ())]
        if address.is_site_local or not all(is_public_address(end) for end in tunnelled if end is not None):
            return False
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def vetted_addresses(target: Target) -> list[str]:
    """The addresses `target.host` resolves to, when every one of them is public."""
    try:
        answers = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise NoAnswerError("has a host name that did not resolve") from error
    addresses = [ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in answers]
    if not addresses:
        raise NoAnswerError("has a host name that did not resolve")
    loopback_allowed = loopback_allowed_for_tests()
    if not all(is_public_address(address) or (loopback_allowed and address.is_loopback) for address in addresses):
        raise DestinationRefusedError("has a host name that resolves to an address that is not public")
    if (target.scheme, target.port) != ("https", HTTPS_PORT) and not all(address.is_loopback for address in addresses):
        # Only the test switch lets check_url pass these, and only for a receiver on loopback.
        raise DestinationRefusedError(f"is not https on port {HTTPS_PORT}")
    # Each once, in the resolver's order of preference.
    return list(dict.fromkeys(str(address) for address in addresses))


def post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    allowed_hosts: Iterable[str],
    deadline_seconds: float,
) -> int:
    """POST `body` to `url` through the guard and return the answer's status code; the body is never read.

    Raises DestinationRefusedError (nothing was sent) or NoAnswerError (no usable answer within
    `deadline_seconds`, counted from the first connection attempt to the end of the answer's headers).
    """
    target = check_url(url, allowed_hosts=allowed_hosts)
    addresses = vetted_addresses(target)
    deadline = time.monotonic() + deadline_seconds
    raw = _connect(addresses, target.port, deadline, deadline_seconds)
    request_headers = {name: value for name, value in headers.items() if name.lower() != "host"}
    request_headers["Host"] = target.authority
    with closing(raw), _cut_off_at(deadline, raw) as cut_off:
        try:
            sock = _TLS.wrap_socket(raw, server_hostname=target.host) if target.scheme == "https" else raw
            # http.client over the socket we opened to the vetted address: it never resolves the
            # name itself, and it follows no redirect.
            connection = http.client.HTTPConnection(target.host, target.port)
            connection.sock = sock
            with closing(connection):
                connection.request("POST", target.path, body=body, headers=request_headers)
                return connection.getresponse().status
        except (OSError, http.client.HTTPException, ValueError) as error:
            if cut_off.is_set():
                raise NoAnswerError(f"gave no answer within {deadline_seconds:g} s") from error
            raise NoAnswerError(f"broke off ({type(error).__name__})") from error


def _connect(addresses: list[str], port: int, deadline: float, deadline_seconds: float) -> socket.socket:
    """A connection to the first vetted address that takes one before the deadline."""
    failure: OSError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return socket.create_connection((address, port), timeout=remaining)
        except OSError as error:
            failure = error
    if failure is None or deadline <= time.monotonic():
        raise NoAnswerError(f"gave no answer within {deadline_seconds:g} s") from failure
    raise NoAnswerError(f"could not be reached ({type(failure).__name__})") from failure


@contextmanager
def _cut_off_at(deadline: float, sock: socket.socket) -> Iterator[threading.Event]:
    """Shut `sock` down at the deadline, whatever call is blocked on it then; the event says it happened.

    Each socket call has a timeout, but a peer that sends a byte just within it resets it again and
    again (one byte every 3 s held a send 36 s under a 10 s timeout). This bounds the whole exchange,
    TLS handshake included. A duplicate handle is shut down because wrapping in TLS detaches `sock`;
    shutting down one handle ends the connection for all of them.
    """
    handle = sock.dup()
    cut_off = threading.Event()

    def cut() -> None:
        cut_off.set()
        with suppress(OSError):  # the peer closed it already
            handle.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), cut)
    timer.daemon = True
    timer.start()
    try:
        yield cut_off
    finally:
        timer.cancel()
        timer.join()  # so the handle is never shut down after it is closed (and its number reused)
        handle.close()
