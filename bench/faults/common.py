"""What the fault scripts share: settings, data, the SMTP sink, workers/beats/gunicorn, HTTP clients, results.

Every fault runs against our own services (bench/faults/infra.py: Redis 6390, PostgreSQL cluster
"faults" on 5440, database tacro_faults) with production settings (bench/environment.py: DJANGO_ENV
production, DEBUG off, persistent connections with health checks), the throttles raised out of the
way (THROTTLE_WRITE and THROTTLE_AUTH 1000000/minute), and mail going to an SMTP server on loopback
that this process runs and that records every message it accepts: the "channel that records each
send" duplicates are counted on.
"""

from __future__ import annotations

import argparse
import datetime
import email
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import shared  # noqa: E402
from bench.environment import code_state  # noqa: E402
from bench.faults import infra  # noqa: E402
from bench.shared import child_environment, say  # noqa: E402

SMTP_PORT = 2526
WEB_PORT = 8790
EMAIL_DOMAIN = "faults.invalid"
HIGH_RATE = "1000000/minute"
# Zones with whole-, half- and three-quarter-hour offsets, both hemispheres.
ZONES = (
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "Asia/Qatar",
)
CELERY = str(Path(sys.executable).with_name("celery"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")


def progress(text: str) -> None:
    say(f"  [{stamp()}] {text}")


# --- Environment -----------------------------------------------------------------------------------


def base_environment() -> None:
    """Our services, raised throttles, mail to the sink, HTTPS as a TLS proxy would say it."""
    os.environ["DATABASE_URL"] = infra.DATABASE_URL  # never anyone else's database: we restart this one
    os.environ["CELERY_BROKER_URL"] = infra.BROKER_URL
    os.environ["THROTTLE_WRITE"] = HIGH_RATE
    os.environ["THROTTLE_AUTH"] = HIGH_RATE
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{SMTP_PORT}"
    # gunicorn is reached over plain HTTP on loopback, as behind a TLS-terminating proxy.
    os.environ["SECURE_PROXY_SSL_HEADER"] = "HTTP_X_FORWARDED_PROTO"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    os.environ.setdefault("LOG_LEVEL", "INFO")


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def configure() -> None:
    """Services up (created if missing), production settings, Django set up and migrated.

    SIGTERM becomes SystemExit, so the `finally` blocks stop the workers, beats and gunicorn we started.
    """
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    base_environment()
    infra.setup()
    from bench import environment

    environment.prepare()
    import logging

    for name in ("httpx", "mail.log"):  # a line per request or SMTP session would drown the progress
        logging.getLogger(name).setLevel(logging.WARNING)


def machine_markdown() -> str:
    from bench import environment

    return environment.machine().markdown()


# --- Data ------------------------------------------------------------------------------------------


def reset_data() -> None:
    """Empty the tables the faults fill (our own database) and our Redis database."""
    import redis
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_user, accounts_patient RESTART IDENTITY CASCADE")
    redis.Redis.from_url(infra.BROKER_URL).flushdb()


def minute_floor(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class People:
    user_ids: list[int]
    patient_ids: list[uuid.UUID]
    schedule_ids: list[int]
    slot_of: dict[int, datetime.datetime]  # schedule id → the UTC minute its first slot fires


def create_patients(
    count: int,
    *,
    prefix: str,
    slots: Sequence[datetime.datetime] | None,
    channels: Sequence[str] = ("inbox", "email"),
) -> People:
    """`count` adult eczema patients, each with a login and one twice-daily tacrolimus regimen.

    With `slots` (UTC minutes, assigned round-robin), each patient's first dose time is the wall time
    its slot reads in the patient's zone (ZONES, round-robin), and a dose schedule row points at that
    minute, as `schedules_refresh` would store it; the dose setting sends through `channels`.
    Without, the dose reminder is switched off and no schedule is written (patients who only log).
    """
    from tracking.models import Regimen, ReminderSetting, Schedule
    from tracking.reminders.schedules import Recurrence, first_firing_after

    now = datetime.datetime.now(datetime.UTC)
    users, patients = shared.create_patient_logins(
        [
            shared.PatientSeed(
                email=f"{prefix}{number}@{EMAIL_DOMAIN}",
                first_name="Fault",
                last_name=f"{prefix} {number}",
                birth_date=datetime.date(1980, 1, 1),
                timezone=ZONES[number % len(ZONES)],
                condition="atopic_dermatitis",
            )
            for number in range(count)
        ]
    )
    regimens: list[Regimen] = []
    schedules: list[Schedule] = []
    settings: list[ReminderSetting] = []
    slot_of_position: dict[int, datetime.datetime] = {}
    for number, patient in enumerate(patients):
        zone = ZoneInfo(patient.timezone)
        if slots:
            slot = slots[number % len(slots)]
            local = slot.astimezone(zone)
            first = datetime.time(local.hour, local.minute)
            start = (slot - datetime.timedelta(days=3)).date()
        else:
            slot = None
            first = datetime.time(8, 0)
            start = (now - datetime.timedelta(days=3)).date()
        times = sorted([first, first.replace(hour=(first.hour + 12) % 24)])
        regimen = Regimen(
            patient=patient,
            created_by=None,
            drug="tacrolimus",
            strength="0.1",
            phase="treatment",
            body_areas=["arm_left", "arm_right"],
            times=[value.strftime("%H:%M") for value in times],
            weekdays=list(range(1, 8)),
            start_date=start,
        )
        regimens.append(regimen)
        if slot is None:
            settings.append(ReminderSetting(patient=patient, kind="dose", enabled=False, channels=list(channels)))
            continue
        settings.append(ReminderSetting(patient=patient, kind="dose", enabled=True, channels=list(channels)))
        rule = Recurrence(
            zone=patient.timezone,
            times=tuple(times),
            weekdays=frozenset(range(1, 8)),
            start_date=start,
            end_date=None,
            every_days=1,
            quiet_start=None,
            quiet_end=None,
        )
        firing = first_firing_after(rule, slot - datetime.timedelta(minutes=1))
        if firing is None or firing.fire_at != slot:
            raise SystemExit(f"{patient.timezone}: the first slot after {slot} is {firing}, not {slot}")
        slot_of_position[len(schedules)] = slot
        schedules.append(
            Schedule(
                patient=patient,
                kind="dose",
                regimen=regimen,
                timezone=patient.timezone,
                times=list(regimen.times),
                weekdays=list(range(1, 8)),
                start_date=start,
                next_local_date=firing.local_date,
                next_slot=firing.slot_label,
                next_fire_at=firing.fire_at,
            )
        )
    Regimen.objects.bulk_create(regimens, batch_size=2000)
    ReminderSetting.objects.bulk_create(settings, batch_size=2000)
    Schedule.objects.bulk_create(schedules, batch_size=2000)
    return People(
        user_ids=[user.pk for user in users],
        patient_ids=[patient.pk for patient in patients],
        schedule_ids=[schedule.pk for schedule in schedules],
        slot_of={schedules[position].pk: slot for position, slot in slot_of_position.items()},
    )


def access_token(user_id: int) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import User

    return str(RefreshToken.for_user(User.objects.get(pk=user_id)).access_token)


def query(sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """A short-lived connection of its own (the faults restart the server under Django's)."""
    import psycopg

    from bench.environment import conninfo

    with psycopg.connect(conninfo(), autocommit=True) as connection:
        return connection.execute(sql, list(params)).fetchall()


def scalar(sql: str, params: Sequence[object] = ()) -> int:
    rows = query(sql, params)
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


# --- The SMTP sink ---------------------------------------------------------------------------------


class MailSink:
    """An SMTP server on loopback that accepts every message and records its occurrence id.

    The email transport puts the occurrence id in X-Entity-Ref-ID (the collapse key), so two
    messages with the same id to the same recipient are a duplicate send.
    """

    def __init__(self, port: int = SMTP_PORT) -> None:
        self.port = port
        self.sent: Counter[tuple[str, str]] = Counter()  # (occurrence hex, recipient) → messages
        self.first_at: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._controller: Any = None
        # (count, callback): called in a thread of its own the moment the count-th distinct message is accepted.
        self.on_count: tuple[int, Callable[[], None]] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        ref = str(message.get("X-Entity-Ref-ID", ""))
        with self._lock:
            for recipient in envelope.rcpt_tos:
                key = (ref, recipient.lower())
                self.sent[key] += 1
                self.first_at.setdefault(key, time.monotonic())
            hook = self.on_count
            if hook is not None and len(self.sent) >= hook[0]:
                self.on_count = None
                threading.Thread(target=hook[1], daemon=True).start()
        return "250 OK"

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.first_at.clear()

    @property
    def messages(self) -> int:
        with self._lock:
            return sum(self.sent.values())

    @property
    def distinct(self) -> int:
        with self._lock:
            return len(self.sent)

    @property
    def duplicates(self) -> int:
        """Messages beyond the first for the same occurrence and recipient."""
        with self._lock:
            return sum(count - 1 for count in self.sent.values())


@contextmanager
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink().start()
    try:
        yield sink
    finally:
        sink.stop()


# --- Processes -------------------------------------------------------------------------------------


def start_process(name: str, command: Sequence[str], logs: Path, env: dict[str, str] | None = None) -> Any:
    safe = name.replace(" ", "-").replace("/", "-")
    return shared.start(name, command, env=child_environment(**(env or {})), cwd=ROOT, log_path=logs / f"{safe}.log")


def start_worker(name: str, logs: Path, *, concurrency: int = 2, env: dict[str, str] | None = None) -> Any:
    command = [
        CELERY, "-A", "tacro_topical", "worker", "--loglevel", "INFO", "--pool", "prefork",
        "--concurrency", str(concurrency), "--without-mingle", "--without-gossip", "--hostname", f"{name}@%h",
    ]  # fmt: skip
    child = start_process(name, command, logs, env)
    child.wait_for(" ready.", timeout=90)
    return child


def start_beat(name: str, logs: Path, schedule: Path, env: dict[str, str] | None = None) -> Any:
    command = [CELERY, "-A", "tacro_topical", "beat", "--loglevel", "INFO", "--schedule", str(schedule)]
    child = start_process(name, command, logs, env)
    child.wait_for("beat: Starting", timeout=90)
    return child


def start_web(logs: Path, *, workers: int = 2, threads: int = 4, env: dict[str, str] | None = None) -> Any:
    """gunicorn as the Procfile runs it (gthread workers), on loopback."""
    command = [
        GUNICORN, "tacro_topical.wsgi", "--bind", f"127.0.0.1:{WEB_PORT}", "--workers", str(workers),
        "--threads", str(threads), "--timeout", "60", "--graceful-timeout", "5",
    ]  # fmt: skip
    child = start_process("gunicorn", command, logs, env)
    import httpx

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{WEB_PORT}/api/v1/health/", headers=HEADERS, timeout=2).status_code in (
                200,
                503,
            )
        except httpx.HTTPError:
            if child.process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {child.log_path}") from None
            return False

    infra.wait_for(up, 60, "gunicorn")
    return child


def kill_group(child: Any) -> None:
    """SIGKILL to the process group of a child we started (it and the pool processes it forked)."""
    import signal

    os.killpg(child.pid, signal.SIGKILL)
    child.process.wait(30)


@contextmanager
def log_folder(keep: bool) -> Iterator[Path]:
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="tacro-faults-"))
    try:
        yield folder
    finally:
        if keep:
            say(f"  logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


# --- HTTP ------------------------------------------------------------------------------------------

HEADERS = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}


def api_client(token: str, timeout: float = 30.0) -> Any:
    import httpx

    return httpx.Client(
        base_url=f"http://127.0.0.1:{WEB_PORT}",
        headers={**HEADERS, "Authorization": f"Bearer {token}"},
        timeout=timeout,
    )


def application_body(log_id: uuid.UUID, applied_at: datetime.datetime) -> dict[str, Any]:
    return {"id": str(log_id), "applied_at": applied_at.isoformat(), "body_areas": ["arm_left"]}


@dataclass
class Tally:
    """Answers of a load loop, thread-safe: status counts, 503s without Retry-After, other surprises."""

    statuses: Counter[int] = field(default_factory=Counter)
    no_retry_after: int = 0
    transport_errors: Counter[str] = field(default_factory=Counter)
    first_2xx_after: dict[str, float] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, headers: Any = None, body: str = "") -> None:
        with self.lock:
            self.statuses[status] += 1
            if status == 503 and (headers is None or not headers.get("Retry-After")):
                self.no_retry_after += 1
            if status >= 500 and status != 503 and len(self.samples) < 5:
                self.samples.append(f"{status}: {body[:300]}")

    def error(self, error: Exception) -> None:
        with self.lock:
            self.transport_errors[type(error).__name__] += 1

    @property
    def attempts(self) -> int:
        return sum(self.statuses.values()) + sum(self.transport_errors.values())

    def count(self, predicate: Callable[[int], bool]) -> int:
        return sum(number for status, number in self.statuses.items() if predicate(status))


# --- Results ---------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def base_parser(description: str | None, runs: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=runs, help=f"runs (default {runs})")
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file (run_all.py)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers', beats' and gunicorn's logs")
    return parser


def finish(name: str, result: dict[str, Any], line: str, json_path: Path | None) -> int:
    """Print the RESULT line; write JSON for run_all; exit status 1 when anything was lost or doubled."""
    result = {"fault": name, **result, "ok": bool(result.get("ok")), "code": code_state()}
    say(f"RESULT {name}: {'OK' if result['ok'] else 'FAILED'} - {line}")
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["ok"] else 1
