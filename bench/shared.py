"""What every benchmark folder shares: the path, child processes, Redis guards, the machine's CPU,
profiles, and the pieces of a data set (users and patients, COPY, the meta table, foreign data).

Nothing here imports a model at import time, so it can run before `django.setup()`. The settings and
the bench database are bench/environment.py's; timing and query counting, bench/measure.py's.
"""

from __future__ import annotations

import datetime
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import cProfile

    import psycopg

    from accounts.models import Patient, User

ROOT = Path(__file__).resolve().parent.parent
# The default Redis database and the test suite's: never a benchmark's.
FORBIDDEN_REDIS_DATABASES = frozenset({0, 15})
LUPUS = ("cle_acute", "cle_subacute", "cle_discoid", "cle_other")


def project_root_first(script_folder: Path) -> None:
    """Run as a file, Python puts the script's folder first on the path; the project root belongs there instead."""
    sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != script_folder)]


def say(text: str) -> None:
    print(text, flush=True)


def ms(seconds: float) -> str:
    """Milliseconds to one decimal; an unanswered request (infinitely slow) says so."""
    return f"{seconds * 1000:.1f} ms" if math.isfinite(seconds) else "unanswered"


# --- Child processes -------------------------------------------------------------------------------


def child_environment(**extra: str) -> dict[str, str]:
    """What a worker, beat or server the bench starts gets: this process's settings, the project importable."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONSTARTUP"}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


@dataclass
class Child:
    """A started process whose output is read line by line, each line stamped with perf_counter.

    Started in a session of its own and stopped by its own id (SIGTERM, then SIGKILL to its process
    group, which holds only it and the pool children it forked).
    """

    name: str
    process: subprocess.Popen[bytes]
    started: float
    log_path: Path
    lines: list[tuple[float, str]] = field(default_factory=list)
    _reader: threading.Thread | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None  # noqa: S101 - started with stdout=PIPE
        with self.log_path.open("w", encoding="utf-8") as log:
            for raw in self.process.stdout:
                stamp = time.perf_counter()
                line = raw.decode("utf-8", "replace").rstrip()
                log.write(f"{stamp - self.started:9.3f} {line}\n")
                log.flush()
                with self._changed:
                    self.lines.append((stamp, line))
                    self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> float:
        """The perf_counter stamp of the first output line containing `text`; SystemExit on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for stamp, line in self.lines:
                    if text in line:
                        return stamp
                if self.process.poll() is not None:
                    raise SystemExit(f"{self.name} exited ({self.process.returncode}); see {self.log_path}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SystemExit(
                        f"{self.name}: no {text!r} in its output after {timeout:.0f} s; see {self.log_path}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Celery's warm shutdown), then SIGKILL to the child's own process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)


def start(name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path) -> Child:
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own commands, no shell
        list(command),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    child = Child(name=name, process=process, started=started, log_path=log_path)
    child._reader = threading.Thread(target=child._read, name=f"{name}-output", daemon=True)
    child._reader.start()
    return child


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in KiB, from /proc."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


# --- Redis -----------------------------------------------------------------------------------------


def redis_database(url: str) -> int:
    """The database number of a redis:// URL (0 when the URL names none)."""
    path = urlsplit(url).path.strip("/")
    return int(path) if path else 0


def check_redis_url(
    url: str, *, name: str = "CELERY_BROKER_URL", forbidden: frozenset[int] = FORBIDDEN_REDIS_DATABASES
) -> str:
    """`url` when it is a redis:// URL of a database the bench may empty; SystemExit otherwise."""
    if not url.startswith("redis://"):
        raise SystemExit(f"{name} must be a redis:// URL for this benchmark, not {url!r}.")
    if redis_database(url) in forbidden:
        raise SystemExit(f"Refusing Redis database {redis_database(url)} for {name}: use one of the bench's own.")
    return url


# --- The machine -----------------------------------------------------------------------------------


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def cpu_ticks() -> tuple[int, int, int]:
    """(busy, total, irq + softirq) clock ticks of all cores since boot, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total, fields[5] + fields[6]


def cpu_busy(interval: float = 2.0) -> float:
    """The share (%) of the machine's CPU time that was not idle over the next `interval` seconds."""
    busy, total, _irq = cpu_ticks()
    time.sleep(interval)
    busy2, total2, _irq = cpu_ticks()
    return 100.0 * (busy2 - busy) / max(1, total2 - total)


def profile_text(
    profiler: cProfile.Profile, *, title: str = "", limit: int = 30, orders: Sequence[str] = ("tottime", "cumulative")
) -> str:
    """A cProfile's top `limit` functions in each order, file names without their folders."""
    import io
    import pstats

    out = io.StringIO()
    for order in orders:
        if title:
            out.write(f"--- {title}: top {limit} by {order} ---\n")
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(limit)
    return out.getvalue()


# --- Data sets -------------------------------------------------------------------------------------

# The columns of the bench's COPY of users and patients, in the order of `user_row` and the patient rows.
USER_COLUMNS = (
    "accounts_user",
    "id, password, email, first_name, last_name, date_joined, is_superuser, role, is_staff, is_active, language, "
    "email_verified_at",
)
PATIENT_COLUMNS = (
    "accounts_patient",
    "id, first_name, last_name, birth_date, timezone, condition, created_at, updated_at, user_id",
)


def seeded_uuid(rng: random.Random) -> uuid.UUID:
    """A version-4 UUID from the data set's seeded generator, so every machine gets the same ids."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def user_row(
    user_id: int, email: str, first: str, last: str, role: str, created: object, *, staff: bool = False
) -> tuple[object, ...]:
    """A USER_COLUMNS row with no usable password, as create_user(password=None) stores (benches sign in otherwise).

    The address counts as confirmed from the account's creation (`email_verified_at`, the model's default, which
    has no database default): production settings refuse a session to an account without it (issue #22).
    """
    return (user_id, f"!bench-{user_id}", email, first, last, created, False, role, staff, True, "en", created)


def copy_rows(
    connection: psycopg.Connection,
    target: tuple[str, str],
    rows: Iterable[tuple[object, ...]],
    *,
    progress: Callable[[int, float], None] | None = None,
    every: int = 250_000,
) -> tuple[int, float]:
    """COPY the rows into (table, columns); how many, and the seconds (building lazy rows included).

    `progress(rows so far, seconds)` is called every `every` rows. The caller owns the transaction.
    """
    table, columns = target
    start = time.perf_counter()
    count = 0
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
            if progress is not None and count % every == 0:
                progress(count, time.perf_counter() - start)
    return count, time.perf_counter() - start


def refuse_foreign_users(connection: psycopg.Connection, email_domain: str, default_database: str) -> None:
    """A setup empties the user and patient tables: never where anyone else's users live."""
    row = connection.execute(
        "SELECT count(*) FROM accounts_user WHERE email NOT LIKE %s", (f"%@{email_domain}",)
    ).fetchone()
    others = int(row[0]) if row else 0
    if others:
        raise SystemExit(
            f"This database holds {others} users that are not the bench's: set DATABASE_URL to a database of "
            f"its own (default {default_database})."
        )


def read_meta(connection: psycopg.Connection, table: str) -> dict[str, str]:
    """The data set's key/value table (its version, when it was loaded, ...); {} when there is none."""
    if connection.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
        return {}
    return dict(connection.execute(f"SELECT key, value FROM {table}").fetchall())  # noqa: S608 - our own constant


def write_meta(connection: psycopg.Connection, table: str, meta: Mapping[str, str]) -> None:
    connection.execute(f"CREATE TABLE {table} (key text PRIMARY KEY, value text NOT NULL)")
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s)", sorted(meta.items()))  # noqa: S608


@dataclass(frozen=True)
class PatientSeed:
    """A patient with a login of their own, for `create_patient_logins`."""

    email: str
    first_name: str
    last_name: str
    birth_date: datetime.date
    timezone: str
    condition: str
    id: uuid.UUID | None = None  # None: a new random one, as the model's default


def create_patient_logins(seeds: Sequence[PatientSeed], *, batch_size: int = 2000) -> tuple[list[User], list[Patient]]:
    """A patient login (no usable password: the bench signs in with tokens) and its patient, for each seed;
    the users and the patients, in the seeds' order."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Patient, Role, User

    unusable = make_password(None)
    users = User.objects.bulk_create(
        [
            User(
                email=seed.email,
                password=unusable,
                first_name=seed.first_name,
                last_name=seed.last_name,
                role=Role.PATIENT,
            )
            for seed in seeds
        ],
        batch_size=batch_size,
    )
    patients = Patient.objects.bulk_create(
        [
            Patient(
                id=seed.id or uuid.uuid4(),  # the model's default when the seed has none
                user=user,
                first_name=seed.first_name,
                last_name=seed.last_name,
                birth_date=seed.birth_date,
                timezone=seed.timezone,
                condition=seed.condition,
            )
            for seed, user in zip(seeds, users, strict=True)
        ],
        batch_size=batch_size,
    )
    return users, patients
