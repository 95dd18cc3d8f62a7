"""Hardening: throttles with Retry-After (clients told apart by the one client-address function, sync counted by
its items), the health endpoint (throttled, the broker asked at most every few seconds), 503 while the database
is away, the broker down."""

from __future__ import annotations

import contextlib
import datetime
import logging
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import OperationalError
from rest_framework.test import APIClient

from accounts.models import Patient
from tests.personas import client_as, regimen_row
from tracking.models import Application

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
TOKEN = "/api/v1/auth/token/"
REGISTER = "/api/v1/auth/register/"
HEALTH = "/api/v1/health/"


@pytest.fixture
def rates(settings: Any) -> dict[str, str]:
    """Small limits, so a test reaches them in a few requests."""
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], "auth": "3/minute", "write": "2/minute"}
    settings.REST_FRAMEWORK = rest
    return rest["DEFAULT_THROTTLE_RATES"]


def application(regimen_id: uuid.UUID) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "regimen": str(regimen_id),
        "applied_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "body_areas": ["face"],
    }


@pytest.mark.django_db
def test_sign_in_attempts_from_one_address_are_throttled_with_retry_after(rates: dict[str, str]) -> None:
    client = APIClient()
    answers = [
        client.post(TOKEN, {"email": f"x{n}@test.example", "password": "wrong"}, format="json").status_code
        for n in range(3)
    ]

    assert answers == [401, 401, 401]
    throttled = client.post(TOKEN, {"email": "y@test.example", "password": "wrong"}, format="json")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert "throttled" in throttled.json()["detail"].lower()


@pytest.mark.django_db
def test_writes_are_throttled_per_user_and_reads_are_not(
    rates: dict[str, str], ad_patient: Patient, cle_patient: Patient
) -> None:
    patient, other = ad_patient, cle_patient
    regimen = regimen_row(patient)
    other_regimen = regimen_row(other)
    client = client_as(patient.user)
    url = f"/api/v1/patients/{patient.pk}/applications/"

    assert [client.post(url, application(regimen.pk), format="json").status_code for _ in range(2)] == [201, 201]
    third = client.post(url, application(regimen.pk), format="json")
    reads = [client.get(url).status_code for _ in range(5)]
    someone_else = client_as(other.user).post(
        f"/api/v1/patients/{other.pk}/applications/", application(other_regimen.pk), format="json"
    )

    assert third.status_code == 429
    assert int(third["Retry-After"]) > 0
    assert reads == [200] * 5
    assert someone_else.status_code == 201


# --- Which client a throttle counts: X-Forwarded-For only as far as NUM_PROXIES says ----------------------


@pytest.mark.django_db
def test_sign_ups_each_with_another_x_forwarded_for_are_throttled_without_proxies(
    rates: dict[str, str], settings: Any
) -> None:
    """The finding: 32 sign-ups, each with another X-Forwarded-For, none throttled (DRF read the raw header)."""
    settings.NUM_PROXIES = 0
    client = APIClient(REMOTE_ADDR="192.0.2.10")

    answers = [
        client.post(REGISTER, {}, format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{number}").status_code
        for number in range(4)
    ]

    assert answers == [400, 400, 400, 429]


@pytest.mark.django_db
def test_behind_one_proxy_throttles_count_the_address_it_saw_not_what_the_client_wrote(
    rates: dict[str, str], settings: Any
) -> None:
    settings.NUM_PROXIES = 1
    proxy = APIClient(REMOTE_ADDR="10.0.0.2")

    def sign_up(forwarded_for: str) -> int:
        return int(proxy.post(REGISTER, {}, format="json", HTTP_X_FORWARDED_FOR=forwarded_for).status_code)

    # One client forging a new left-hand entry each time; the proxy appends the address it really saw.
    forged = [sign_up(f"198.51.100.{number}, 203.0.113.1") for number in range(4)]
    someone_else = sign_up("203.0.113.2")

    assert forged == [400, 400, 400, 429]
    assert someone_else == 400


# --- Sync counts its items ---------------------------------------------------------------------------------


def skin_checks(count: int) -> dict[str, Any]:
    return {
        "skin_checks": [
            {
                "id": str(uuid.uuid4()),
                "performed_at": "2026-11-21T08:05:00+03:00",
                "performed_by": "self",
                "concerning": False,
            }
            for _ in range(count)
        ]
    }


@pytest.fixture
def sync_rates(settings: Any) -> None:
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {
        **rest["DEFAULT_THROTTLE_RATES"],
        "write": "100/minute",
        "sync_items": "10/minute",
    }
    settings.REST_FRAMEWORK = rest


@pytest.mark.django_db
@pytest.mark.usefixtures("sync_rates")
def test_one_account_stores_no_more_items_a_minute_through_sync_than_the_item_rate(ad_patient: Patient) -> None:
    """The finding: a sync of 2,000 items was one request to the write throttle (~480k rows a minute)."""
    from tracking.models import SkinCheck

    patient = ad_patient
    sync = f"/api/v1/patients/{patient.pk}/sync/"

    with time_machine.travel(datetime.datetime.now(datetime.UTC), tick=False) as clock:
        client = client_as(patient.user)
        first = client.post(sync, skin_checks(6), format="json")
        too_many = client.post(sync, skin_checks(5), format="json")
        what_is_left = client.post(sync, skin_checks(4), format="json")
        one_more = client.post(sync, skin_checks(1), format="json")
        clock.shift(datetime.timedelta(seconds=61))
        a_minute_later = client.post(sync, skin_checks(10), format="json")

    assert first.status_code == 200
    assert too_many.status_code == 429
    assert 0 < int(too_many["Retry-After"]) <= 60
    assert what_is_left.status_code == 200
    assert one_more.status_code == 429
    assert a_minute_later.status_code == 200
    assert SkinCheck.objects.filter(patient=patient).count() == 20  # 10 in each minute


@pytest.mark.django_db
@pytest.mark.usefixtures("sync_rates")
def test_the_sync_item_rate_is_per_account(ad_patient: Patient, cle_patient: Patient) -> None:
    patient, other = ad_patient, cle_patient
    mine = client_as(patient.user).post(f"/api/v1/patients/{patient.pk}/sync/", skin_checks(10), format="json")

    theirs = client_as(other.user).post(f"/api/v1/patients/{other.pk}/sync/", skin_checks(10), format="json")

    assert mine.status_code == 200
    assert theirs.status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("sync_rates")
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"skin_checks": "none"}', "application/json"),
        ("[1, 2]", "application/json"),
    ],
    ids=["not-json", "not-a-list", "not-an-object"],
)
def test_a_sync_body_the_view_refuses_is_still_its_400_and_costs_no_items(
    body: str, content_type: str, ad_patient: Patient
) -> None:
    patient = ad_patient
    client = client_as(patient.user)
    sync = f"/api/v1/patients/{patient.pk}/sync/"

    refused = client.post(sync, body, content_type=content_type)
    full_batch = client.post(sync, skin_checks(10), format="json")

    assert refused.status_code == 400, refused.content
    assert full_batch.status_code == 200


# --- Health -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_health_is_throttled_per_client_address_with_retry_after(settings: Any) -> None:
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], "health": "3/minute"}
    settings.REST_FRAMEWORK = rest
    poller = APIClient(REMOTE_ADDR="192.0.2.30")

    answers = [poller.get(HEALTH) for _ in range(4)]
    load_balancer = APIClient(REMOTE_ADDR="10.0.0.9").get(HEALTH)

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 60
    assert load_balancer.status_code == 200


@pytest.mark.django_db
def test_health_asks_the_broker_at_most_once_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    from tacro_topical import health

    connections: list[object] = []
    connection_for_write = health.celery_app.connection_for_write

    def counted(*args: Any, **kwargs: Any) -> Any:
        connections.append(args)
        return connection_for_write(*args, **kwargs)

    monkeypatch.setattr(health.celery_app, "connection_for_write", counted)
    # A moment no other test visits, so no earlier answer is remembered for it.
    with time_machine.travel(datetime.datetime(2031, 5, 5, 5, 5, 0, tzinfo=datetime.UTC), tick=False) as clock:
        polls = [APIClient().get(HEALTH).status_code for _ in range(10)]
        asked_within_a_few_seconds = len(connections)
        clock.shift(datetime.timedelta(seconds=5))
        later = APIClient().get(HEALTH).status_code

    assert polls == [200] * 10
    assert asked_within_a_few_seconds == 1
    assert later == 200
    assert len(connections) == 2  # asked again once the last answer is 5 seconds old


@pytest.mark.django_db
def test_health_answers_even_when_the_cache_holding_throttle_counts_is_down(settings: Any) -> None:
    """The counts live in Redis in production; a Redis that is down must be the check's 503, never a 500."""
    from tacro_topical.celery import app

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS}}
    app.conf.broker_url = DEAD_REDIS
    try:
        response = APIClient().get(HEALTH)
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL

    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"


@pytest.mark.django_db
def test_health_reports_the_database_and_the_broker() -> None:
    response = APIClient().get(HEALTH)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_health_is_503_with_retry_after_when_the_broker_is_down(settings: Any) -> None:
    from tacro_topical.celery import app

    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = APIClient().get(HEALTH)
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"status": "degraded", "database": "ok", "broker": "unavailable"}


@pytest.mark.django_db
def test_health_is_503_when_the_database_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    from tacro_topical import health

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", refused)

    response = APIClient().get(HEALTH)

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


@pytest.mark.django_db
def test_a_database_lost_mid_request_is_a_503_with_retry_after_not_a_500(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, ad_patient: Patient
) -> None:
    from tracking import selectors

    patient = ad_patient
    regimen_row(patient)

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly: SELECT note FROM secret")

    monkeypatch.setattr(selectors, "logs_for", lost)
    with caplog.at_level(logging.WARNING):
        response = client_as(patient.user).get(f"/api/v1/patients/{patient.pk}/applications/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Retry after a few seconds" in response.json()["detail"]
    assert "secret" not in caplog.text  # the driver's message can quote a statement: never logged


@pytest.mark.django_db(transaction=True)
def test_a_log_is_stored_while_the_broker_is_down(
    broker: RedisServer, caplog: pytest.LogCaptureFixture, ad_patient: Patient
) -> None:
    """A real Redis, stopped: the log is still stored and answered, and the next one's task goes out once it is back."""
    patient = ad_patient
    regimen = regimen_row(patient)
    client = client_as(patient.user)
    logs = f"/api/v1/patients/{patient.pk}/applications/"
    broker.stop()

    with caplog.at_level(logging.WARNING, logger="tacro_topical.task_sending"):
        response = client.post(logs, application(regimen.pk), format="json")

    assert response.status_code == 201
    assert Application.objects.filter(patient=patient).count() == 1
    assert "broker unavailable, tracking.tasks.patient_logs_changed not sent" in caplog.text
    broker.start()  # empty: the task of the log above is the periodic jobs' to catch up
    assert client.post(logs, application(regimen.pk), format="json").status_code == 201
    assert broker.queued("celery") == 1


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/", HEALTH])
def test_pages_carry_a_content_security_policy_without_inline_scripts(path: str) -> None:
    response = APIClient().get(path)

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    if path == "/api/docs/":
        html = response.content.decode()
        assert html.count("<script") == html.count("<script src=")  # every script is a file


def test_production_logs_are_one_json_object_a_line() -> None:
    import json

    from pythonjsonlogger.json import JsonFormatter

    from tacro_topical import settings as project_settings

    options = dict(project_settings.LOGGING["formatters"]["json"])
    formatter = JsonFormatter(**{key: value for key, value in options.items() if key != "()"})
    record = logging.LogRecord("tracking.tasks", logging.WARNING, __file__, 1, "patient %s", ("p-1",), None)

    line = json.loads(formatter.format(record))

    assert line["level"] == "WARNING"
    assert line["logger"] == "tracking.tasks"
    assert line["message"] == "patient p-1"
    assert "time" in line


@pytest.mark.django_db
def test_nothing_a_patient_writes_reaches_the_logs(caplog: pytest.LogCaptureFixture, ad_patient: Patient) -> None:
    patient = ad_patient
    regimen = regimen_row(patient)
    secret = "Nobody-should-read-this-note"
    body = {**application(regimen.pk), "note": secret}

    with caplog.at_level(logging.DEBUG):
        client = client_as(patient.user)
        client.post(f"/api/v1/patients/{patient.pk}/applications/", body, format="json")
        client.post(f"/api/v1/patients/{patient.pk}/applications/", {**body, "note": "changed"}, format="json")
        client.post(f"/api/v1/patients/{patient.pk}/applications/", {"applied_at": secret}, format="json")

    assert secret not in caplog.text
    assert patient.first_name not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_log_is_answered_at_once_when_the_broker_does_not_answer(settings: Any, ad_patient: Patient) -> None:
    import time

    from tacro_topical.celery import app

    patient = ad_patient
    regimen = regimen_row(patient)
    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        started = time.monotonic()
        response = client_as(patient.user).post(
            f"/api/v1/patients/{patient.pk}/applications/", application(regimen.pk), format="json"
        )
        took = time.monotonic() - started
    finally:
        app.conf.broker_url = previous

    assert response.status_code == 201
    assert took < 1.5  # kombu's own reconnecting would hold the request about 6 s


class RedisServer:
    """A redis-server of a test's own on a free loopback port, which the test may stop and start again."""

    def __init__(self, binary: str, directory: Path) -> None:
        from tests.tracking.peers import unused_port

        self.binary, self.directory, self.port = binary, directory, unused_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, cwd=self.directory, stdout=subprocess.DEVNULL)  # noqa: S603 - our own command
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.02)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def queued(self, queue: str) -> int:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            return int(client.llen(queue))
        finally:
            client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    from tests.conftest import service_unavailable

    binary = shutil.which("redis-server")
    if binary is None:
        service_unavailable("redis-server")
    server = RedisServer(str(binary), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(own_redis: RedisServer) -> Iterator[RedisServer]:
    """The Celery app sends to `own_redis` for the test."""
    from tacro_topical.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = own_redis.url
    try:
        yield own_redis
    finally:
        app.conf.broker_url = previous


def test_requests_send_tasks_on_one_reused_broker_connection(
    broker: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection per log cost ~7 ms of CPU (bench/api_load/cpu_per_request.py); one is kept instead."""
    from kombu.transport.redis import Transport

    from tacro_topical import task_sending
    from tracking import tasks

    connections: list[object] = []
    establish = Transport.establish_connection

    def counted(self: Transport) -> object:
        connections.append(self)
        return establish(self)

    monkeypatch.setattr(Transport, "establish_connection", counted)
    sent = [task_sending.enqueue(tasks.patient_logs_changed, str(uuid.uuid4())) for _ in range(20)]

    assert sent == [True] * 20
    assert broker.queued("celery") == 20
    assert len(connections) == 1


def test_after_a_broker_restart_sends_reconnect_and_none_is_lost(broker: RedisServer) -> None:
    from tacro_topical import task_sending
    from tracking import tasks

    assert task_sending.enqueue(tasks.patient_logs_changed, "before")
    broker.stop()
    started = time.monotonic()
    assert not task_sending.enqueue(tasks.patient_logs_changed, "while down")
    assert time.monotonic() - started < 1.5  # no reconnecting while a patient's request waits
    broker.start()  # empty: it keeps nothing on disk

    sent = [task_sending.enqueue(tasks.patient_logs_changed, f"after {number}") for number in range(3)]

    assert sent == [True, True, True]  # the kept connection's cut socket is replaced, not a lost send
    assert broker.queued("celery") == 3


def test_a_broker_restart_between_two_requests_loses_no_send(broker: RedisServer) -> None:
    """The kept connection's socket is closed by the restart while idle: the next send still goes out."""
    from tacro_topical import task_sending
    from tracking import tasks

    assert task_sending.enqueue(tasks.patient_logs_changed, "before")
    broker.stop()
    broker.start()  # empty

    assert task_sending.enqueue(tasks.patient_logs_changed, "after")
    assert broker.queued("celery") == 1


def test_a_kept_connection_that_fails_is_replaced_and_the_send_tried_once_on_a_new_one(
    broker: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket can die without the client noticing (a dropped idle connection, a failover): the send
    that meets it must not be lost, nor the connection kept for the next request."""
    import redis
    from kombu.transport.redis import Channel

    from tacro_topical import task_sending
    from tracking import tasks

    assert task_sending.enqueue(tasks.patient_logs_changed, "first")  # the pool now holds a used connection
    put = Channel._put
    failures: list[str] = []

    def dead_once(self: Channel, queue: str, message: Any, **kwargs: Any) -> None:
        if not failures:
            failures.append(queue)
            raise redis.ConnectionError("Connection reset by peer")
        put(self, queue, message, **kwargs)

    monkeypatch.setattr(Channel, "_put", dead_once)

    assert task_sending.enqueue(tasks.patient_logs_changed, "second")
    assert task_sending.enqueue(tasks.patient_logs_changed, "third")
    assert failures == ["celery"]
    assert broker.queued("celery") == 3
