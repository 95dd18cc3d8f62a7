"""The outbound guard on Web Push (issue #22, High 1: server-side request forgery).

Registration refuses endpoints off the browsers' push services; every send resolves the name, sends
only to public addresses (the one it vetted), follows no redirect and stops at a total deadline;
nothing a push service answers is stored where a patient reads it; a user keeps a few devices.

Real peers on loopback stand in for push services, reached only through the test switch
(OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS) and the name `localhost`. Resolution is faked only at the
boundary (socket.getaddrinfo), and no connection may leave the machine (`nothing_leaves_the_machine`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import pytest
import time_machine

from tacro_topical import outbound
from tests.personas import client_as, prescribe
from tests.tracking.conftest import at
from tests.tracking.peers import (
    LOOPBACK,
    BrowserSubscription,
    JsonHttpServer,
    WebPushReceiver,
    make_subscription,
)
from tracking.models import Delivery, Device, Platform
from tracking.notifications.services import delivery_send, device_register, occurrences_deliver
from tracking.notifications.transports.base import DeactivationReason, DeliveryError, Message
from tracking.notifications.transports.webpush import WebPushTransport
from tracking.reminders.sweep import sweep

REMOTE_TEXT = "redis_version:7.2.4 role:master connected_clients:3"
BROWSER_PUSH_ENDPOINTS = [
    "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABkZ2VuZXJhdGVk",
    "https://web.push.apple.com/QGuQyavXutnMMp2fVZQ3r3kK",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB",
]


# --- Fixtures and peers ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def nothing_leaves_the_machine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Connections to anything but loopback fail (and are listed), so a guard that lets one through
    fails its test instead of sending a packet to another host."""
    real_connect = socket.socket.connect
    attempts: list[str] = []

    def connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and not ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback:
            attempts.append(str(address[0]))
            raise ConnectionRefusedError(f"the test allows loopback only, not {address[0]}")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`resolver(host, *addresses)`: the system resolver answers `addresses` for `host`, other names as usual."""
    real_getaddrinfo = socket.getaddrinfo
    answers: dict[str, list[str]] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        port = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def answer(host: str, *addresses: str) -> None:
        answers[host] = list(addresses)

    return answer


def subscribe(receiver: WebPushReceiver) -> BrowserSubscription:
    """A subscription at `receiver`, its endpoint named `localhost`: the guard takes host names only."""
    subscription = receiver.subscribe()
    return dataclasses.replace(subscription, endpoint=subscription.endpoint.replace(LOOPBACK, "localhost", 1))


def at_localhost(url: str) -> str:
    return url.replace(LOOPBACK, "localhost", 1)


@pytest.fixture
def message() -> Message:
    return Message(
        notification_id=uuid.uuid4(),
        occurrence_id=uuid.uuid4(),
        kind="dose",
        title="Time for your evening dose",
        body="Apply a thin layer to the face and neck.",
        recipient_email="patient@example.org",
    )


def send_error(message: Message, device: Device) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        WebPushTransport().send(message, device)
    return caught.value


def webpush_device(endpoint: str) -> Device:
    return Device(platform=Platform.WEBPUSH, token=make_subscription(endpoint).token())


class ScriptedHttpServer:
    """An HTTP server on 127.0.0.1 whose every POST is answered by `respond(handler)`; records paths."""

    def __init__(self, respond: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.paths.append(self.path)
                respond(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://localhost:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- Registration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        # The finding's endpoints, each of which answered 201.
        "https://127.0.0.1:6379/",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://[::1]:9443/",
        "https://0x7f000001/",
        "https://metadata.google.internal/",
        # Other spellings of loopback and private addresses.
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://0x7f.0.0.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[0:0:0:0:0:0:0:1]/",
        "https://[fd00::1]/",
        "https://localhost/",
        "https://127.0.0.1.nip.io/",
        # Allowed hosts, but not as https on 443, or with user info, or only looking like them.
        "http://fcm.googleapis.com/fcm/send/abc",
        "https://fcm.googleapis.com:8443/fcm/send/abc",
        "https://user:secret@fcm.googleapis.com/fcm/send/abc",
        "https://fcm.googleapis.com@10.0.0.1/fcm/send/abc",
        "https://fcm.googleapis.com\\@10.0.0.1/",
        "https://fcm.googleapis.com.attacker.example/fcm/send/abc",
        "https://notfcm.googleapis.com/fcm/send/abc",
        "https://fcm.googleapis.com%2e.attacker.example/",
        "https://fcm.googleapis.com\t/fcm/send/abc",
    ],
)
def test_registration_refuses_an_endpoint_off_the_push_services_with_a_400_naming_token(patient, endpoint):
    token = make_subscription(endpoint).info()

    response = client_as(patient.user).post("/api/v1/devices/", {"platform": "webpush", "token": token}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"token"}
    [problem] = response.json()["token"]
    assert "fcm.googleapis.com" in problem
    assert "push.services.mozilla.com" in problem
    assert "port 443" in problem
    assert not Device.objects.exists()


@pytest.mark.parametrize("endpoint", BROWSER_PUSH_ENDPOINTS)
def test_registration_accepts_the_browsers_push_services_without_a_dns_lookup(patient, endpoint, monkeypatch):
    def no_lookup(*args: Any, **kwargs: Any) -> list[Any]:
        raise AssertionError("registration must not resolve the endpoint")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    token = make_subscription(endpoint).info()

    response = client_as(patient.user).post("/api/v1/devices/", {"platform": "webpush", "token": token}, format="json")

    assert response.status_code == 201, response.json()


def test_registering_the_same_subscription_again_answers_200_with_the_same_device(patient):
    subscription = make_subscription(BROWSER_PUSH_ENDPOINTS[0])
    client = client_as(patient.user)

    first = client.post("/api/v1/devices/", {"platform": "webpush", "token": subscription.info()}, format="json")
    again = client.post("/api/v1/devices/", {"platform": "webpush", "token": subscription.token()}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Device.objects.count() == 1


def test_only_a_web_push_token_may_come_as_an_object(patient):
    subscription = make_subscription(BROWSER_PUSH_ENDPOINTS[0])

    response = client_as(patient.user).post(
        "/api/v1/devices/", {"platform": "fcm", "token": subscription.info()}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"token"}
    assert not Device.objects.exists()


def test_the_allowed_hosts_are_a_setting(patient, settings):
    settings.WEBPUSH_ALLOWED_HOSTS = ["push.example.org"]
    client = client_as(patient.user)

    def register(endpoint: str) -> int:
        token = make_subscription(endpoint).info()
        return client.post("/api/v1/devices/", {"platform": "webpush", "token": token}, format="json").status_code

    assert register("https://push.example.org/send/abc") == 201
    assert register("https://eu.push.example.org/send/abc") == 201
    assert register(BROWSER_PUSH_ENDPOINTS[0]) == 400


# --- Addresses --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier NAT)
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind)
        "224.0.0.251",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_an_address_that_is_not_public_in_any_spelling_is_refused(address):
    assert outbound.is_public_address(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "142.250.74.10",
        "2a00:1450:4001:82a::200a",
        "::ffff:142.250.74.10",  # IPv4-mapped, from a dual-stack resolver
        "64:ff9b::808:808",  # NAT64, from an IPv6-only network's DNS64
    ],
)
def test_a_public_address_is_accepted(address):
    assert outbound.is_public_address(ipaddress.ip_address(address)) is True


# --- Send time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "addresses",
    [
        ("127.0.0.1",),
        ("10.0.0.1",),
        ("169.254.169.254",),
        ("::1",),
        ("::ffff:127.0.0.1",),
        ("fd00::1",),
        ("142.250.74.10", "10.0.0.1"),  # one private answer among public ones is enough
    ],
)
def test_a_push_service_name_resolving_to_an_address_that_is_not_public_is_refused_at_send_time(
    vapid_keys, resolver, nothing_leaves_the_machine, message, addresses
):
    resolver("fcm.googleapis.com", *addresses)

    error = send_error(message, webpush_device(BROWSER_PUSH_ENDPOINTS[0]))

    assert error.device_gone is True
    assert error.detail == DeactivationReason.WEBPUSH_REFUSED
    assert nothing_leaves_the_machine == []


def test_a_device_refused_at_send_time_is_deactivated_with_our_own_reason(patient, vapid_keys, resolver):
    device, _ = device_register(
        user=patient.user, platform="webpush", token=make_subscription(BROWSER_PUSH_ENDPOINTS[0]).token()
    )
    resolver("fcm.googleapis.com", "169.254.169.254")
    delivery = a_webpush_delivery(patient)

    outcome = delivery_send(delivery.pk, now=at("2026-11-21T20:01:00+03:00"))

    assert outcome is not None
    assert outcome.status == "failed"
    device.refresh_from_db()
    assert (device.active, device.deactivated_reason) == (False, DeactivationReason.WEBPUSH_REFUSED)


def test_an_endpoint_registered_before_the_guard_is_refused_at_send_time(
    vapid_keys, nothing_leaves_the_machine, message
):
    error = send_error(message, webpush_device("https://127.0.0.1:6379/"))

    assert error.device_gone is True
    assert error.detail == DeactivationReason.WEBPUSH_REFUSED
    assert nothing_leaves_the_machine == []


def test_loopback_is_refused_without_the_test_switch_even_for_an_allowed_name(
    settings, vapid_keys, push_receiver, message
):
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False

    error = send_error(message, Device(platform=Platform.WEBPUSH, token=subscribe(push_receiver).token()))

    assert error.detail == DeactivationReason.WEBPUSH_REFUSED
    assert push_receiver.requests == []


def test_the_test_switch_opens_nothing_in_production(settings, vapid_keys, message):
    settings.WEBPUSH_ALLOWED_HOSTS = ["localhost"]
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.PRODUCTION = True
    with JsonHttpServer() as receiver:
        endpoint = at_localhost(f"{receiver.url}/push/x")

        error = send_error(message, webpush_device(endpoint))

        assert error.detail == DeactivationReason.WEBPUSH_REFUSED
        assert receiver.requests == []


def test_the_send_goes_to_the_address_it_vetted_though_the_name_rebinds(
    vapid_keys, push_receiver, monkeypatch, nothing_leaves_the_machine, message
):
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.0.0.1", "10.0.0.1"])

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "localhost":
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    WebPushTransport().send(message, Device(platform=Platform.WEBPUSH, token=subscribe(push_receiver).token()))

    assert len(push_receiver.deliveries()) == 1
    assert nothing_leaves_the_machine == []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_from_the_push_service_is_not_followed(vapid_keys, loopback_push_service, message, status):
    with JsonHttpServer() as internal_service:

        def redirect(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(status)
            handler.send_header("Location", f"{internal_service.url}/internal/admin")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        with ScriptedHttpServer(redirect) as push_service:
            error = send_error(message, webpush_device(f"{push_service.url}/push/x"))

        assert push_service.paths == ["/push/x"]
        assert internal_service.requests == []
        assert error.permanent is True
        assert error.device_gone is False
        assert str(status) in error.detail


def dripping(*, start_after_headers: bool) -> Callable[[BaseHTTPRequestHandler], None]:
    """A push service that sends its answer one byte a second (from the status line, or the body on)."""
    answer = b"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n" + b"x" * 64

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        sent = answer.index(b"\r\n\r\n") + 4 if start_after_headers else 0
        handler.wfile.write(answer[:sent])
        handler.wfile.flush()
        started = time.monotonic()
        # At most 4 s, so a send that is not cut off shows as slow rather than hanging the suite.
        while sent < len(answer) and time.monotonic() - started < 4:
            try:
                handler.wfile.write(answer[sent : sent + 1])
                handler.wfile.flush()
            except OSError:
                return  # the client hung up
            sent += 1
            time.sleep(1)

    return respond


def test_a_push_service_that_drips_its_answer_is_cut_off_at_the_deadline(
    settings, vapid_keys, loopback_push_service, message
):
    settings.WEBPUSH_SEND_DEADLINE_SECONDS = 1.5
    with ScriptedHttpServer(dripping(start_after_headers=False)) as push_service:
        started = time.monotonic()
        error = send_error(message, webpush_device(f"{push_service.url}/push/x"))
        elapsed = time.monotonic() - started

    assert elapsed < 1.5 + 0.5
    assert error.permanent is False
    assert error.detail == "The push service gave no answer within 1.5 s."


def test_a_dripping_body_does_not_hold_the_send_since_the_body_is_never_read(
    settings, vapid_keys, loopback_push_service, message
):
    settings.WEBPUSH_SEND_DEADLINE_SECONDS = 1.5
    with ScriptedHttpServer(dripping(start_after_headers=True)) as push_service:
        started = time.monotonic()
        WebPushTransport().send(message, webpush_device(f"{push_service.url}/push/x"))
        elapsed = time.monotonic() - started

    assert elapsed < 1.0


# --- What a patient reads ---------------------------------------------------------------------------


def a_webpush_delivery(patient) -> Delivery:
    """A dose reminder's Web Push delivery to the patient's registered device, written as the sweep would."""
    with time_machine.travel(at("2026-11-21T09:00:00+03:00"), tick=False):
        prescribe(patient)
    with time_machine.travel(at("2026-11-21T20:00:00+03:00"), tick=False):
        occurrences_deliver(sweep().pending_ids)
    return Delivery.objects.get(channel="webpush")


@pytest.mark.parametrize("status", [404, 410])
def test_what_a_push_service_answers_is_never_stored_or_shown_to_the_patient(
    patient, vapid_keys, push_receiver, status
):
    push_receiver.answer(status, {"reason": REMOTE_TEXT})
    client = client_as(patient.user)
    registered = client.post(
        "/api/v1/devices/", {"platform": "webpush", "token": subscribe(push_receiver).info()}, format="json"
    )
    assert registered.status_code == 201
    delivery = a_webpush_delivery(patient)

    delivery_send(delivery.pk, now=at("2026-11-21T20:01:00+03:00"))

    [device] = client.get("/api/v1/devices/").json()["results"]
    assert device["active"] is False
    assert device["deactivated_reason"] == (
        DeactivationReason.WEBPUSH_NOT_FOUND if status == 404 else DeactivationReason.WEBPUSH_EXPIRED
    )
    delivery.refresh_from_db()
    for stored in (device["deactivated_reason"], delivery.detail):
        assert "redis" not in stored
        assert "connected_clients" not in stored


def test_other_error_answers_keep_only_the_status(vapid_keys, push_receiver, message):
    push_receiver.answer(500, {"reason": REMOTE_TEXT})

    error = send_error(message, Device(platform=Platform.WEBPUSH, token=subscribe(push_receiver).token()))

    assert error.detail == "The push service answered 500."


# --- Devices per user -------------------------------------------------------------------------------


def test_a_sixth_device_deactivates_the_least_recently_registered(patient, settings):
    settings.PUSH_DEVICES_PER_USER = 5
    with time_machine.travel(at("2026-11-21T09:00:00+03:00")) as traveller:
        client = client_as(patient.user)
        ids = []
        for number in range(6):
            response = client.post("/api/v1/devices/", {"platform": "fcm", "token": f"token-{number}"}, format="json")
            assert response.status_code == 201
            ids.append(response.json()["id"])
            traveller.shift(60)
        devices = {row["id"]: row for row in client.get("/api/v1/devices/").json()["results"]}

    assert [devices[pk]["active"] for pk in ids] == [False, True, True, True, True, True]
    assert devices[ids[0]]["deactivated_reason"] == DeactivationReason.REPLACED
    assert Device.objects.filter(user=patient.user, active=True).count() == 5


def test_registering_an_old_device_again_makes_it_recent_and_keeps_the_limit(patient, settings):
    settings.PUSH_DEVICES_PER_USER = 2
    with time_machine.travel(at("2026-11-21T09:00:00+03:00")) as traveller:
        first, _ = device_register(user=patient.user, platform="fcm", token="first")
        traveller.shift(60)
        second, _ = device_register(user=patient.user, platform="fcm", token="second")
        traveller.shift(60)
        device_register(user=patient.user, platform="fcm", token="third")  # the first goes
        traveller.shift(60)
        again, created = device_register(user=patient.user, platform="fcm", token="first")  # the second goes

    assert (again.pk, created) == (first.pk, False)
    active = set(Device.objects.filter(user=patient.user, active=True).values_list("token", flat=True))
    assert active == {"first", "third"}
    second.refresh_from_db()
    assert second.deactivated_reason == DeactivationReason.REPLACED


def test_the_limit_counts_each_users_devices_apart(patient, settings, cle_patient):
    settings.PUSH_DEVICES_PER_USER = 1

    device_register(user=patient.user, platform="fcm", token="mine")
    device_register(user=cle_patient.user, platform="fcm", token="theirs")

    assert Device.objects.filter(active=True).count() == 2
