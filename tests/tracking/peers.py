"""Real peers on loopback for tests of the channels: an SMTP server, a Web Push receiver that decrypts
what it gets, and a JSON HTTP receiver standing in for FCM, Google's token endpoint and APNs.

Each is a context manager that listens on 127.0.0.1 only and records what arrives; nothing here
reaches another host. Key helpers make the VAPID keys, browser subscriptions, service-account file
and .p8 key that settings and devices need.
"""

from __future__ import annotations

import base64
import email.policy
import json
import socket
import threading
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import http_ece  # type: ignore[import-untyped]
import jwt
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from pytest_django.fixtures import Settings

LOOPBACK = "127.0.0.1"


def unused_port() -> int:
    """A loopback port nothing listens on (now): for a peer, or for a refused connection."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uncompressed_point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


# --- SMTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server got it, parsed with the email package."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self._part("plain")

    @property
    def html(self) -> str:
        return self._part("html")

    def _part(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_subtype() != subtype:
            raise LookupError(f"The message has no text/{subtype} part.")
        # The wire's CRLF line ends, as a mail client shows them: "\n".
        return str(cast(EmailMessage, part).get_content()).replace("\r\n", "\n")


class _CollectingHandler:
    """aiosmtpd's handler hook: keep each message, or answer DATA with `reject_with`."""

    def __init__(self, received: list[ReceivedMail], reject_with: str | None) -> None:
        self.received = received
        self.reject_with = reject_with

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.reject_with:
            return self.reject_with
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.received.append(
            ReceivedMail(mail_from=str(envelope.mail_from), rcpt_tos=list(envelope.rcpt_tos), message=message)
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on loopback, in its own thread, collecting what it receives in `received`.

    `reject_with` ("451 4.3.0 Try later", "554 5.6.0 No") makes it answer every DATA with that reply.
    """

    def __init__(self, *, reject_with: str | None = None) -> None:
        self.host = LOOPBACK
        self.port = unused_port()
        self.received: list[ReceivedMail] = []
        self._controller = Controller(
            _CollectingHandler(self.received, reject_with), hostname=self.host, port=self.port
        )

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._controller.stop()


def use_smtp_server(settings: Settings, host: str, port: int) -> None:
    """Point Django's default mailer at host:port over plain SMTP, for the test's duration.

    Django 6.1 reads MAILERS when the project defines it (this one does); older Django, and 6.1
    without MAILERS, read EMAIL_BACKEND and EMAIL_HOST/PORT.
    """
    backend = "django.core.mail.backends.smtp.EmailBackend"
    if hasattr(django_settings, "MAILERS"):
        settings.MAILERS = {"default": {"BACKEND": backend, "OPTIONS": {"host": host, "port": port, "timeout": 5}}}
        return
    settings.EMAIL_BACKEND = backend
    settings.EMAIL_HOST = host
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


# --- HTTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What a loopback HTTP peer answers."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, data: object) -> Reply:
        return cls(status=status, body=json.dumps(data).encode())


@dataclass(frozen=True)
class RecordedRequest:
    """One request as a loopback HTTP peer got it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, peer: JsonHttpServer) -> None:
        self.peer = peer
        super().__init__((LOOPBACK, 0), _RecordingHandler)


class _RecordingHandler(BaseHTTPRequestHandler):
    server: _RecordingServer

    def do_POST(self) -> None:
        self._record_and_answer()

    def do_GET(self) -> None:
        self._record_and_answer()

    def _record_and_answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        reply = self.server.peer.record(request)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: pytest shows the recorded requests when an assertion about them fails.
        pass


class JsonHttpServer:
    """A threaded HTTP server on loopback that records every request and answers a set `Reply`.

    `answer(status, data)` sets the reply for every path; `answer(..., path=...)` for one exact path
    (e.g. an OAuth token endpoint beside the API). Stands in for FCM, Google's token endpoint and APNs.
    """

    def __init__(self, default: Reply | None = None) -> None:
        self.requests: list[RecordedRequest] = []
        self._default = default or Reply(200, b"{}")
        self._by_path: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._server = _RecordingServer(self)
        # A short poll keeps shutdown (each test's teardown) quick.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, status: int, data: object = None, *, path: str | None = None) -> None:
        reply = Reply(status) if data is None else Reply.json(status, data)
        with self._lock:
            if path is None:
                self._default = reply
            else:
                self._by_path[path] = reply

    def record(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self._by_path.get(request.path, self._default)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- Web Push -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrowserSubscription:
    """What a browser keeps for one push subscription: the endpoint, its P-256 key pair and auth secret."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    def info(self) -> dict[str, Any]:
        """The PushSubscription JSON the browser hands the server (`PushSubscription.toJSON()`)."""
        return {
            "endpoint": self.endpoint,
            "keys": {
                "p256dh": b64url(_uncompressed_point(self.private_key.public_key())),
                "auth": b64url(self.auth_secret),
            },
        }

    def token(self) -> str:
        """The subscription as Device.token stores it."""
        return json.dumps(self.info())

    def decrypt(self, body: bytes) -> bytes:
        """Undo RFC 8291's aes128gcm encryption, as the browser would."""
        return bytes(http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret))


def make_subscription(endpoint: str) -> BrowserSubscription:
    """A new browser-side subscription for `endpoint`: a fresh P-256 key pair and 16-byte auth secret."""
    return BrowserSubscription(
        endpoint=endpoint,
        private_key=ec.generate_private_key(ec.SECP256R1()),
        auth_secret=uuid.uuid4().bytes,
    )


@dataclass(frozen=True)
class WebPushDelivery:
    """One push as the receiver got it, with the plaintext the subscribed browser would read."""

    request: RecordedRequest
    subscription: BrowserSubscription
    plaintext: bytes

    def payload(self) -> Any:
        return json.loads(self.plaintext)


class WebPushReceiver(JsonHttpServer):
    """A push service and its browsers in one: answers 201 (or what `answer` says) at /push/<id>, and
    decrypts each body with the keys of the subscription `subscribe()` made for that path."""

    def __init__(self) -> None:
        super().__init__(Reply(201, b"", content_type="text/plain"))
        self.subscriptions: dict[str, BrowserSubscription] = {}

    def subscribe(self) -> BrowserSubscription:
        # By name, not address: the outbound guard sends only to allowed host names, never to an IP
        # literal; tests allow "localhost" with OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS.
        path = f"/push/{uuid.uuid4().hex}"
        subscription = make_subscription(self.url.replace(LOOPBACK, "localhost", 1) + path)
        self.subscriptions[path] = subscription
        return subscription

    def deliveries(self) -> list[WebPushDelivery]:
        """Every push received, decrypted; raises if one was for an unknown path or does not decrypt."""
        deliveries = []
        for request in list(self.requests):
            subscription = self.subscriptions[request.path]
            deliveries.append(
                WebPushDelivery(
                    request=request, subscription=subscription, plaintext=subscription.decrypt(request.body)
                )
            )
        return deliveries


@dataclass(frozen=True)
class VapidKeys:
    """An application server's VAPID key pair, in the forms settings take.

    `private_key` is the base64url raw 32-byte scalar, which pywebpush (py_vapid's `from_string`)
    reads as WEBPUSH_VAPID_PRIVATE_KEY; it also takes base64url DER, or a path to a PEM file
    (`private_pem`). `public_key` is the base64url uncompressed point the browser's
    `applicationServerKey` takes (WEBPUSH_VAPID_PUBLIC_KEY).
    """

    private_key: str
    public_key: str
    private_pem: bytes


def make_vapid_keys() -> VapidKeys:
    key = ec.generate_private_key(ec.SECP256R1())
    return VapidKeys(
        private_key=b64url(key.private_numbers().private_value.to_bytes(32, "big")),
        public_key=b64url(_uncompressed_point(key.public_key())),
        private_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def read_vapid_authorization(header: str, public_key: str) -> dict[str, Any]:
    """Verify a `vapid t=<JWT>,k=<key>` Authorization header (RFC 8292) and return the JWT's claims.

    Raises ValueError when k is not `public_key`, and PyJWT's errors when the signature or expiry fails.
    """
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"Not a VAPID Authorization header: {header[:20]!r}")
    parts = dict(part.split("=", 1) for part in credentials.split(","))
    if parts.get("k") != public_key:
        raise ValueError("The VAPID header names another public key.")
    verifying_key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
    )
    return dict(jwt.decode(parts["t"], verifying_key, algorithms=["ES256"], options={"verify_aud": False}))


# --- FCM and APNs credentials -------------------------------------------------------------------

OAUTH_TOKEN_PATH = "/token"


@dataclass(frozen=True)
class ServiceAccountFile:
    """A Google service-account JSON file whose token endpoint is a loopback peer."""

    path: Path
    project_id: str
    client_email: str
    public_key: rsa.RSAPublicKey


def write_service_account(directory: Path, *, token_uri: str, project_id: str = "tacro-test") -> ServiceAccountFile:
    """Write a service-account file, with a fresh RSA key, as the Firebase console hands one out."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client_email = f"push@{project_id}.iam.gserviceaccount.com"
    path = directory / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": project_id,
                "private_key_id": uuid.uuid4().hex,
                "private_key": key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ).decode(),
                "client_email": client_email,
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return ServiceAccountFile(path=path, project_id=project_id, client_email=client_email, public_key=key.public_key())


def oauth_token_reply(access_token: str, expires_in: int = 3600) -> dict[str, Any]:
    """The body an OAuth2 token endpoint answers a JWT-bearer grant with."""
    return {"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"}


def write_apns_key(path: Path) -> ec.EllipticCurvePublicKey:
    """Write an APNs token-signing key (PKCS#8 PEM, as Apple's .p8) and return its public half."""
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return key.public_key()
