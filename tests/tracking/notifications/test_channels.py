"""The channel transports against real peers on loopback: an SMTP server, a Web Push receiver that
decrypts like a browser, and HTTP servers standing in for FCM (and Google's token endpoint) and APNs.

Nothing is mocked but the addresses: each transport runs its real client, signing and encryption.
Web Push reaches its receiver through the outbound guard's test switch, as `localhost` (the guard's
own behaviour is in test_outbound_guard.py).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_django.fixtures import Settings

from tests.tracking.peers import (
    LOOPBACK,
    OAUTH_TOKEN_PATH,
    BrowserSubscription,
    JsonHttpServer,
    RecordedRequest,
    ServiceAccountFile,
    SmtpServer,
    VapidKeys,
    WebPushReceiver,
    make_subscription,
    oauth_token_reply,
    read_vapid_authorization,
    unused_port,
    use_smtp_server,
    write_apns_key,
    write_service_account,
)
from tracking.models import Device, Platform
from tracking.notifications.transports import fcm
from tracking.notifications.transports.apns import ApnsTransport
from tracking.notifications.transports.base import PUSH_TTL, DeactivationReason, DeliveryError, Message, Transport
from tracking.notifications.transports.email import EmailTransport
from tracking.notifications.transports.fcm import FCM_SCOPE, FcmTransport
from tracking.notifications.transports.registry import transport_for
from tracking.notifications.transports.webpush import WebPushTransport

ACCESS_TOKEN = "ya29.loopback-access-token"
APNS_DEVICE_TOKEN = "a1" * 32
FCM_REGISTRATION_TOKEN = "fcm-registration-token:APA91b"
APNS_KEY_ID = "KEY1234567"
APNS_TEAM_ID = "TEAM123456"
APNS_TOPIC = "org.example.tacro"


@pytest.fixture
def message() -> Message:
    return Message(
        notification_id=uuid.uuid4(),
        occurrence_id=uuid.uuid4(),
        kind="dose",
        title="Time for your evening dose",
        body="Apply a thin layer to the face and neck.\nWash your hands afterwards.",
        recipient_email="patient@example.org",
    )


def send_error(transport: Transport, message: Message, device: Device | None) -> DeliveryError:
    """The DeliveryError a send raises; fails the test when the send goes through."""
    with pytest.raises(DeliveryError) as caught:
        transport.send(message, device)
    return caught.value


# --- Email ----------------------------------------------------------------------------------------


def test_email_arrives_with_the_title_as_subject_and_the_body_in_text_and_html(
    smtp_server: SmtpServer, message: Message
) -> None:
    EmailTransport().send(message, None)

    [mail] = smtp_server.received
    assert mail.rcpt_tos == [message.recipient_email]
    assert mail.subject == message.title
    assert message.body in mail.text
    # The HTML template keeps the body's line break as <br>.
    first_line, second_line = message.body.split("\n")
    assert f"{first_line}<br>{second_line}" in mail.html
    assert mail.message["X-Entity-Ref-ID"] == message.collapse_key


def test_email_to_a_refused_connection_is_retryable(settings: Settings, message: Message) -> None:
    use_smtp_server(settings, LOOPBACK, unused_port())

    error = send_error(EmailTransport(), message, None)

    assert error.permanent is False
    assert error.device_gone is False


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("451 4.3.0 Try again later", True), ("554 5.7.1 Message rejected", False)],
)
def test_email_rejected_at_data_is_retryable_only_when_temporary(
    settings: Settings, message: Message, reply: str, retryable: bool
) -> None:
    with SmtpServer(reject_with=reply) as server:
        use_smtp_server(settings, server.host, server.port)
        error = send_error(EmailTransport(), message, None)

    assert error.permanent is not retryable
    assert reply[:3] in error.detail
    assert server.received == []


# --- Web Push -------------------------------------------------------------------------------------


def at_localhost(url: str) -> str:
    """`url` with its loopback address named `localhost`: the outbound guard takes host names only."""
    return url.replace(LOOPBACK, "localhost", 1)


def subscribe(receiver: WebPushReceiver) -> BrowserSubscription:
    subscription = receiver.subscribe()
    return dataclasses.replace(subscription, endpoint=at_localhost(subscription.endpoint))


def webpush_device(token: str) -> Device:
    return Device(platform=Platform.WEBPUSH, token=token)


def test_webpush_delivers_the_payload_encrypted_for_the_subscription_with_topic_ttl_and_vapid(
    vapid_keys: VapidKeys, push_receiver: WebPushReceiver, message: Message
) -> None:
    subscription = subscribe(push_receiver)

    WebPushTransport().send(message, webpush_device(subscription.token()))

    [delivery] = push_receiver.deliveries()
    assert delivery.subscription.auth_secret == subscription.auth_secret
    assert delivery.payload() == message.push_payload()
    headers = delivery.request.headers
    assert headers["topic"] == message.collapse_key
    assert headers["ttl"] == str(int(PUSH_TTL.total_seconds()))
    assert headers["content-encoding"] == "aes128gcm"
    claims = read_vapid_authorization(headers["authorization"], vapid_keys.public_key)
    assert claims["aud"] == at_localhost(push_receiver.url)
    assert claims["sub"] == "mailto:care-team@example.org"
    assert claims["exp"] > time.time()


def test_webpush_reads_the_vapid_key_from_a_pem_file(
    settings: Settings, vapid_keys: VapidKeys, push_receiver: WebPushReceiver, message: Message, tmp_path: Path
) -> None:
    key_file = tmp_path / "vapid.pem"
    key_file.write_bytes(vapid_keys.private_pem)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = str(key_file)
    subscription = subscribe(push_receiver)

    WebPushTransport().send(message, webpush_device(subscription.token()))

    [delivery] = push_receiver.deliveries()
    assert read_vapid_authorization(delivery.request.headers["authorization"], vapid_keys.public_key)
    assert delivery.payload() == message.push_payload()


@pytest.mark.parametrize("status", [404, 410])
def test_webpush_expired_subscription_marks_the_device_gone(
    vapid_keys: VapidKeys, push_receiver: WebPushReceiver, message: Message, status: int
) -> None:
    push_receiver.answer(status, {"reason": "an internal service's answer"})
    subscription = subscribe(push_receiver)

    error = send_error(WebPushTransport(), message, webpush_device(subscription.token()))

    assert error.device_gone is True
    assert error.permanent is True
    # Our own words, keyed by the status: never the answer's body.
    assert error.detail == {404: DeactivationReason.WEBPUSH_NOT_FOUND, 410: DeactivationReason.WEBPUSH_EXPIRED}[status]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_webpush_throttled_or_failing_push_service_is_retryable(
    vapid_keys: VapidKeys, push_receiver: WebPushReceiver, message: Message, status: int
) -> None:
    push_receiver.answer(status)
    subscription = subscribe(push_receiver)

    error = send_error(WebPushTransport(), message, webpush_device(subscription.token()))

    assert error.permanent is False
    assert error.device_gone is False


@pytest.mark.parametrize("status", [400, 403, 413])
def test_webpush_other_client_errors_are_final_but_keep_the_device(
    vapid_keys: VapidKeys, push_receiver: WebPushReceiver, message: Message, status: int
) -> None:
    push_receiver.answer(status)
    subscription = subscribe(push_receiver)

    error = send_error(WebPushTransport(), message, webpush_device(subscription.token()))

    assert error.permanent is True
    assert error.device_gone is False


def test_webpush_unreachable_push_service_is_retryable(
    vapid_keys: VapidKeys, loopback_push_service: None, message: Message
) -> None:
    subscription = make_subscription(f"http://localhost:{unused_port()}/push/nobody-listens")

    error = send_error(WebPushTransport(), message, webpush_device(subscription.token()))

    assert error.permanent is False
    assert error.device_gone is False


@pytest.mark.parametrize(
    "token",
    [
        "not json",
        '["a", "list"]',
        '{"endpoint": "http://127.0.0.1:9/push/x"}',
        '{"endpoint": "ftp://127.0.0.1/push/x", "keys": {"p256dh": "BAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}',
        '{"endpoint": "http://127.0.0.1:9/push/x", "keys": {"p256dh": "BAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}',
    ],
    ids=["not-json", "not-an-object", "no-keys", "not-http", "p256dh-not-a-point"],
)
def test_webpush_unreadable_subscription_marks_the_device_gone_without_sending(
    vapid_keys: VapidKeys, push_receiver: WebPushReceiver, message: Message, token: str
) -> None:
    error = send_error(WebPushTransport(), message, webpush_device(token))

    assert error.device_gone is True
    assert error.permanent is True
    assert error.detail == DeactivationReason.WEBPUSH_UNREADABLE
    assert push_receiver.requests == []


def test_webpush_short_auth_secret_marks_the_device_gone(
    vapid_keys: VapidKeys, push_receiver: WebPushReceiver, message: Message
) -> None:
    info = subscribe(push_receiver).info()
    info["keys"]["auth"] = "AAAA"

    error = send_error(WebPushTransport(), message, webpush_device(json.dumps(info)))

    assert error.device_gone is True
    assert error.detail == DeactivationReason.WEBPUSH_UNREADABLE


def test_webpush_unreadable_vapid_key_is_a_final_error_that_keeps_the_device(
    settings: Settings, vapid_keys: VapidKeys, push_receiver: WebPushReceiver, message: Message, tmp_path: Path
) -> None:
    missing_file = tmp_path / "missing.pem"
    settings.WEBPUSH_VAPID_PRIVATE_KEY = str(missing_file)
    subscription = subscribe(push_receiver)

    error = send_error(WebPushTransport(), message, webpush_device(subscription.token()))

    assert error.permanent is True
    assert error.device_gone is False
    assert "WEBPUSH_VAPID_PRIVATE_KEY" in error.detail
    assert push_receiver.requests == []
    # py_vapid would have generated and saved a new key at a missing path.
    assert not missing_file.exists()


def test_webpush_is_unavailable_without_a_vapid_private_key(settings: Settings, vapid_keys: VapidKeys) -> None:
    assert WebPushTransport().unavailable_reason() is None

    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    reason = WebPushTransport().unavailable_reason()

    assert reason is not None
    assert reason[0].isupper()
    assert reason.endswith(".")
    assert "WEBPUSH_VAPID_PRIVATE_KEY" in reason


# --- FCM ------------------------------------------------------------------------------------------


@pytest.fixture
def fcm_server() -> Iterator[JsonHttpServer]:
    with JsonHttpServer() as server:
        server.answer(200, {"name": "projects/tacro-test/messages/1"})
        server.answer(200, oauth_token_reply(ACCESS_TOKEN), path=OAUTH_TOKEN_PATH)
        yield server


@pytest.fixture
def service_account(settings: Settings, fcm_server: JsonHttpServer, tmp_path: Path) -> ServiceAccountFile:
    account = write_service_account(tmp_path, token_uri=fcm_server.url + OAUTH_TOKEN_PATH)
    settings.FCM_SERVICE_ACCOUNT_FILE = str(account.path)
    settings.FCM_ENDPOINT = fcm_server.url
    return account


def fcm_device(token: str = FCM_REGISTRATION_TOKEN) -> Device:
    return Device(platform=Platform.FCM, token=token)


def fcm_sends(server: JsonHttpServer, project_id: str = "tacro-test") -> list[RecordedRequest]:
    return server.requests_to(f"/v1/projects/{project_id}/messages:send")


def test_fcm_posts_the_message_to_the_project_with_a_service_account_bearer_token(
    fcm_server: JsonHttpServer, service_account: ServiceAccountFile, message: Message
) -> None:
    FcmTransport().send(message, fcm_device())

    [token_request] = fcm_server.requests_to(OAUTH_TOKEN_PATH)
    [assertion] = parse_qs(token_request.body.decode())["assertion"]
    # google-auth names Google's token endpoint as the audience whatever token_uri it posts to.
    grant = jwt.decode(
        assertion, service_account.public_key, algorithms=["RS256"], audience="https://oauth2.googleapis.com/token"
    )
    assert grant["iss"] == service_account.client_email
    assert grant["scope"] == FCM_SCOPE

    [send] = fcm_sends(fcm_server, service_account.project_id)
    assert send.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    sent = send.json()["message"]
    assert sent["token"] == FCM_REGISTRATION_TOKEN
    assert sent["notification"] == {"title": message.title, "body": message.body}
    assert sent["data"] == message.push_payload()
    assert sent["android"]["collapse_key"] == message.collapse_key
    assert sent["apns"]["headers"]["apns-collapse-id"] == message.collapse_key


def test_fcm_reuses_the_access_token_until_it_expires(
    fcm_server: JsonHttpServer, service_account: ServiceAccountFile, message: Message
) -> None:
    transport = FcmTransport()

    transport.send(message, fcm_device())
    transport.send(message, fcm_device())

    assert len(fcm_sends(fcm_server)) == 2
    assert len(fcm_server.requests_to(OAUTH_TOKEN_PATH)) == 1


def test_fcm_access_token_source_can_be_replaced_in_the_registry(
    monkeypatch: pytest.MonkeyPatch, fcm_server: JsonHttpServer, service_account: ServiceAccountFile, message: Message
) -> None:
    asked_for: list[str] = []

    def fake_token(service_account_file: str) -> str:
        asked_for.append(service_account_file)
        return "token-from-the-test"

    monkeypatch.setattr(fcm, "fcm_access_token", fake_token)

    transport_for("fcm").send(message, fcm_device())

    assert asked_for == [str(service_account.path)]
    assert fcm_server.requests_to(OAUTH_TOKEN_PATH) == []
    [send] = fcm_sends(fcm_server)
    assert send.headers["authorization"] == "Bearer token-from-the-test"


@pytest.mark.parametrize(
    "answer",
    [
        {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
                "details": [
                    {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}
                ],
            }
        },
        None,
    ],
    ids=["unregistered", "bare-404"],
)
def test_fcm_unregistered_token_marks_the_device_gone(
    fcm_server: JsonHttpServer, service_account: ServiceAccountFile, message: Message, answer: object
) -> None:
    fcm_server.answer(404, answer)

    error = send_error(FcmTransport(), message, fcm_device())

    assert error.device_gone is True
    assert error.permanent is True


def test_fcm_unregistered_error_code_marks_the_device_gone_whatever_the_status(
    fcm_server: JsonHttpServer, service_account: ServiceAccountFile, message: Message
) -> None:
    fcm_server.answer(400, {"error": {"code": 400, "status": "UNREGISTERED", "message": "gone"}})

    error = send_error(FcmTransport(), message, fcm_device())

    assert error.device_gone is True


@pytest.mark.parametrize("status", [429, 500, 503])
def test_fcm_throttled_or_unavailable_is_retryable(
    fcm_server: JsonHttpServer, service_account: ServiceAccountFile, message: Message, status: int
) -> None:
    fcm_server.answer(status, {"error": {"code": status, "status": "UNAVAILABLE", "message": "try later"}})

    error = send_error(FcmTransport(), message, fcm_device())

    assert error.permanent is False
    assert error.device_gone is False
    assert str(status) in error.detail


def test_fcm_invalid_argument_is_final_and_keeps_the_device(
    fcm_server: JsonHttpServer, service_account: ServiceAccountFile, message: Message
) -> None:
    fcm_server.answer(
        400,
        {
            "error": {
                "code": 400,
                "message": "The registration token is not a valid FCM registration token",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"}
                ],
            }
        },
    )

    error = send_error(FcmTransport(), message, fcm_device())

    assert error.permanent is True
    assert error.device_gone is False
    assert "INVALID_ARGUMENT" in error.detail


def test_fcm_unreachable_token_endpoint_is_retryable(
    settings: Settings, fcm_server: JsonHttpServer, message: Message, tmp_path: Path
) -> None:
    account = write_service_account(tmp_path, token_uri=f"http://{LOOPBACK}:{unused_port()}/token")
    settings.FCM_SERVICE_ACCOUNT_FILE = str(account.path)
    settings.FCM_ENDPOINT = fcm_server.url

    error = send_error(FcmTransport(), message, fcm_device())

    assert error.permanent is False
    assert fcm_sends(fcm_server) == []


def test_fcm_refused_grant_is_final(
    fcm_server: JsonHttpServer, service_account: ServiceAccountFile, message: Message
) -> None:
    fcm_server.answer(
        400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, path=OAUTH_TOKEN_PATH
    )

    error = send_error(FcmTransport(), message, fcm_device())

    assert error.permanent is True
    assert error.device_gone is False
    assert fcm_sends(fcm_server) == []


def test_fcm_is_unavailable_without_a_service_account(settings: Settings) -> None:
    settings.FCM_SERVICE_ACCOUNT_FILE = ""

    reason = FcmTransport().unavailable_reason()

    assert reason is not None
    assert reason.endswith(".")
    assert "FCM_SERVICE_ACCOUNT_FILE" in reason
    settings.FCM_SERVICE_ACCOUNT_FILE = "/etc/tacro/fcm.json"
    assert FcmTransport().unavailable_reason() is None


# --- APNs -----------------------------------------------------------------------------------------


@pytest.fixture
def apns_server() -> Iterator[JsonHttpServer]:
    with JsonHttpServer() as server:
        server.answer(200)
        yield server


@pytest.fixture
def apns_public_key(settings: Settings, apns_server: JsonHttpServer, tmp_path: Path) -> ec.EllipticCurvePublicKey:
    key_file = tmp_path / f"AuthKey_{APNS_KEY_ID}.p8"
    public_key = write_apns_key(key_file)
    settings.APNS_KEY_FILE = str(key_file)
    settings.APNS_KEY_ID = APNS_KEY_ID
    settings.APNS_TEAM_ID = APNS_TEAM_ID
    settings.APNS_TOPIC = APNS_TOPIC
    settings.APNS_ENDPOINT = apns_server.url
    return public_key


def apns_device(token: str = APNS_DEVICE_TOKEN) -> Device:
    return Device(platform=Platform.APNS, token=token)


def test_apns_posts_the_alert_to_the_device_path_with_topic_collapse_id_and_a_provider_jwt(
    apns_server: JsonHttpServer, apns_public_key: ec.EllipticCurvePublicKey, message: Message
) -> None:
    ApnsTransport().send(message, apns_device())

    [request] = apns_server.requests
    assert request.path == f"/3/device/{APNS_DEVICE_TOKEN}"
    assert request.headers["apns-topic"] == APNS_TOPIC
    assert request.headers["apns-push-type"] == "alert"
    assert request.headers["apns-collapse-id"] == message.collapse_key
    scheme, _, provider_token = request.headers["authorization"].partition(" ")
    assert scheme == "bearer"
    claims = jwt.decode(provider_token, apns_public_key, algorithms=["ES256"])
    assert claims["iss"] == APNS_TEAM_ID
    assert abs(claims["iat"] - time.time()) < 60
    assert jwt.get_unverified_header(provider_token)["kid"] == APNS_KEY_ID
    body = request.json()
    assert body["aps"] == {"alert": {"title": message.title, "body": message.body}}
    assert {key: body[key] for key in message.push_payload()} == message.push_payload()


def test_apns_reuses_the_provider_token_between_sends(
    apns_server: JsonHttpServer, apns_public_key: ec.EllipticCurvePublicKey, message: Message
) -> None:
    transport = ApnsTransport()

    transport.send(message, apns_device())
    transport.send(message, apns_device())

    first, second = (request.headers["authorization"] for request in apns_server.requests)
    assert first == second


@pytest.mark.parametrize(("status", "reason"), [(410, "Unregistered"), (400, "BadDeviceToken"), (410, None)])
def test_apns_unregistered_or_bad_token_marks_the_device_gone(
    apns_server: JsonHttpServer,
    apns_public_key: ec.EllipticCurvePublicKey,
    message: Message,
    status: int,
    reason: str | None,
) -> None:
    apns_server.answer(status, {"reason": reason} if reason else None)

    error = send_error(ApnsTransport(), message, apns_device())

    assert error.device_gone is True
    assert error.permanent is True


@pytest.mark.parametrize(
    ("status", "reason"), [(429, "TooManyRequests"), (500, "InternalServerError"), (503, "ServiceUnavailable")]
)
def test_apns_throttled_or_unavailable_is_retryable(
    apns_server: JsonHttpServer,
    apns_public_key: ec.EllipticCurvePublicKey,
    message: Message,
    status: int,
    reason: str,
) -> None:
    apns_server.answer(status, {"reason": reason})

    error = send_error(ApnsTransport(), message, apns_device())

    assert error.permanent is False
    assert error.device_gone is False
    assert reason in error.detail


def test_apns_other_client_error_is_final_and_keeps_the_device(
    apns_server: JsonHttpServer, apns_public_key: ec.EllipticCurvePublicKey, message: Message
) -> None:
    apns_server.answer(400, {"reason": "BadTopic"})

    error = send_error(ApnsTransport(), message, apns_device())

    assert error.permanent is True
    assert error.device_gone is False
    assert "BadTopic" in error.detail


def test_apns_expired_provider_token_is_retried_with_a_new_token(
    apns_server: JsonHttpServer, apns_public_key: ec.EllipticCurvePublicKey, message: Message
) -> None:
    transport = ApnsTransport()
    apns_server.answer(403, {"reason": "ExpiredProviderToken"})
    error = send_error(transport, message, apns_device())
    assert error.permanent is False

    apns_server.answer(200)
    # A new JWT differs from the refused one even within the same second: ECDSA signatures are randomised.
    transport.send(message, apns_device())

    refused, accepted = (request.headers["authorization"] for request in apns_server.requests)
    assert refused != accepted


def test_apns_non_hex_device_token_marks_the_device_gone_without_sending(
    apns_server: JsonHttpServer, apns_public_key: ec.EllipticCurvePublicKey, message: Message
) -> None:
    error = send_error(ApnsTransport(), message, apns_device("../../admin"))

    assert error.device_gone is True
    assert apns_server.requests == []


@pytest.mark.parametrize("missing", ["APNS_KEY_FILE", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC"])
def test_apns_is_unavailable_unless_key_file_key_id_team_and_topic_are_set(
    settings: Settings, apns_public_key: ec.EllipticCurvePublicKey, missing: str
) -> None:
    assert ApnsTransport().unavailable_reason() is None

    setattr(settings, missing, "")
    reason = ApnsTransport().unavailable_reason()

    assert reason is not None
    assert reason.endswith(".")
    assert missing in reason


# --- All transports -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "transport_class", "needs_device"),
    [
        ("email", EmailTransport, False),
        (Platform.WEBPUSH.value, WebPushTransport, True),
        (Platform.FCM.value, FcmTransport, True),
        (Platform.APNS.value, ApnsTransport, True),
    ],
)
def test_transport_for_each_channel_and_device_platform(name: str, transport_class: type, needs_device: bool) -> None:
    transport = transport_for(name)

    assert isinstance(transport, transport_class)
    assert transport.channel == name
    assert transport.needs_device is needs_device


def test_transport_for_push_itself_is_an_error_naming_the_choices() -> None:
    with pytest.raises(LookupError, match="apns, email, fcm, inbox, webpush"):
        transport_for("push")


@pytest.mark.parametrize("transport_class", [WebPushTransport, FcmTransport, ApnsTransport])
def test_push_without_a_device_is_a_final_error(transport_class: type, message: Message) -> None:
    error = send_error(transport_class(), message, None)

    assert error.permanent is True
    assert error.device_gone is False
