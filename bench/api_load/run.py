"""Issue #6's API load benchmark: gunicorn on PostgreSQL under locust, against a bare Django floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tacro_bench_api CACHE_URL=redis://127.0.0.1:6379/13 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/api_load/run.py

Needs setup_data.py first (1,000 patients and their access tokens in the patients file) and locust in
bench/api_load/.venv-locust (`make bench-api-load` does both). Starts gunicorn (sync workers, --workers)
on the bench's settings (bench/api_load/settings.py: production ones, plus the floor route), warms it up,
then, --runs times each, in alternating order:

- max: the most requests per second at --clients concurrent clients, closed loop (each client sends its
  next request as soon as its answer is in), for the API's POST /api/v1/patients/{patient}/applications/
  and for the floor (bench/api_load/views.py: one INSERT of the same row, no auth, no validation);
- rate: latency at a fixed offered rate (--rate requests/s, open loop, wrk2-style: --open-clients
  clients on a fixed schedule, each slot's latency counted from the slot), for both.

Each run: `tracking_application` emptied, VACUUM ANALYZE, CHECKPOINT, the bench's two Redis databases
emptied (throttle counts; the queued `patient_logs_changed` tasks, which no worker takes here); then it
waits until the machine's CPU is quiet (other people's work shares it) and records the load average and
the CPU busy share, runs locust for --settle + --duration seconds and measures the last --duration. Every
answer must be 201 and every one must have stored its row, so a broken endpoint is never fast. The CPU
each part used (gunicorn, PostgreSQL, Redis, locust, the rest) is read from /proc during the window.

Prints the machine, each run, a summary with medians and the ratio to the floor; exits 1 when a goal
is missed (API max throughput >= 0.5x the floor's; p99 < 100 ms at 200 requests/s). `--profile`
instead samples one gunicorn worker with py-spy during a closed-loop run of the API and prints where
its time goes per request; `--show-queries` prints the SQL of one request.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench import shared
from bench.api_load import common  # the project root must be on the path first
from bench.environment import code_state
from bench.shared import child_environment, cpu_ticks, ms, say

HERE = common.HERE
ROOT = common.ROOT
LOCUST_VENV = HERE / ".venv-locust"
LOCUSTFILE = HERE / "locustfile.py"
GUNICORN = Path(sys.executable).parent / "gunicorn"
RATIO_GOAL = 0.5  # the API's max throughput at least this share of the floor's
P99_GOAL = 0.100  # seconds, at the fixed rate
# The Procfile's default (WEB_CONCURRENCY=2), one per core: the request is CPU-bound Python (see --profile), and
# 3, 4 or 5 workers gave the API no more throughput on this 2-core machine (BENCHMARKS.md).
DEFAULT_WORKERS = 2
PARTS = ("max", "rate")
TARGETS = ("app", "floor")
SPAWN_RATE = 100  # clients started per second (locust warns above 100)
LATE_SECONDS = 0.005  # open loop: sent more than this after its slot is a late send
# gunicorn's default access log line (the Procfile logs every request too), plus the worker's pid and the
# microseconds gunicorn took over the request, which --profile reads.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" pid=%(p)s us=%(D)s'
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPU_GROUPS = ("gunicorn", "postgres", "redis", "locust", "kernel", "other")
Sample = tuple[float, float, float, int]  # (slot, sent, answered, status): the locustfile's samples


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each case (default 3; the medians)")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument("--target", choices=TARGETS, action="append", help="only this target (default both)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured per run (default 60)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before the window (default 5)")
    parser.add_argument("--clients", type=int, default=50, help="closed-loop clients for max (default 50)")
    parser.add_argument("--rate", type=float, default=200.0, help="offered requests/s for rate (default 200)")
    parser.add_argument(
        "--open-clients", type=int, default=200, help="clients sharing the fixed rate (default 200: 1 request/s each)"
    )
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help=f"gunicorn sync workers (default {DEFAULT_WORKERS})"
    )
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of untimed load per target (default 10)")
    parser.add_argument("--quiet-cpu", type=float, default=20.0, help="wait until CPU busy is under this %% (20)")
    parser.add_argument("--quiet-wait", type=float, default=600.0, help="wait at most this long for it (600 s)")
    parser.add_argument(
        "--max-other",
        type=float,
        default=0.25,
        help="a run in which processes other than the bench's used more cores than this is run again (0.25)",
    )
    parser.add_argument("--retries", type=int, default=3, help="how often a run is run again at most (default 3)")
    parser.add_argument("--profile", action="store_true", help="py-spy one gunicorn worker under load, no table")
    parser.add_argument("--profile-seconds", type=float, default=40.0, help="seconds py-spy samples (default 40)")
    parser.add_argument("--profile-workers", type=int, default=1, help="gunicorn workers for --profile (default 1)")
    parser.add_argument("--profile-clients", type=int, default=4, help="closed-loop clients for --profile (default 4)")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of one API request")
    parser.add_argument("--keep-logs", action="store_true", help="keep gunicorn's and locust's logs")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.workers < 1 or args.clients < 1 or args.open_clients < 1:
        parser.error("--runs, --workers, --clients and --open-clients are at least 1")
    if args.open_clients / args.rate < 0.5:
        parser.error("--open-clients / --rate: each client's interval must be at least 0.5 s (far above a p99)")
    return args


# --- The machine: CPU use, quiet moments ---------------------------------------------------------


def wait_for_quiet(threshold: float, longest: float) -> tuple[float, float]:
    """Wait (at most `longest` s) until the CPU is under `threshold` % busy; (busy %, seconds waited)."""
    start = time.monotonic()
    busy = shared.cpu_busy()
    while busy >= threshold and time.monotonic() - start < longest:
        say(f"    CPU {busy:.0f}% busy (someone else's work?): waiting for under {threshold:.0f}%")
        time.sleep(10)
        busy = shared.cpu_busy()
    return busy, time.monotonic() - start


def _process_table() -> dict[int, tuple[str, int, int]]:
    """pid -> (comm, ppid, utime + stime ticks) of every process."""
    table: dict[int, tuple[str, int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        table[int(entry.name)] = (comm, int(rest[1]), int(rest[11]) + int(rest[12]))
    return table


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class Services:
    """Which processes are the bench's PostgreSQL and Redis (other people run their own clusters and servers)."""

    postmaster: int  # of the cluster holding the bench database
    database: str
    redis_address: str  # "host:port", as redis-server shows it in its command line

    @classmethod
    def find(cls) -> Services:
        from django.conf import settings
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            row = cursor.fetchone()
        backend = int(row[0]) if row else 0
        postmaster = _process_table().get(backend, ("", 0, 0))[1]
        cache = urlsplit(os.environ["CACHE_URL"])
        return cls(postmaster, str(settings.DATABASES["default"]["NAME"]), f"{cache.hostname}:{cache.port or 6379}")

    def group(self, pid: int, comm: str, ppid: int) -> str:
        """postgres: the cluster's postmaster, its background processes and the bench database's backends
        (client backends of other databases are someone else's); redis: the server of CACHE_URL."""
        if pid == self.postmaster or (ppid == self.postmaster and comm == "postgres"):
            command = _cmdline(pid)
            backend = "(" in command.rsplit(":", 1)[-1] or "[local]" in command
            return "postgres" if not backend or f" {self.database} " in command else "other"
        if comm.startswith("redis-server") and self.redis_address in _cmdline(pid):
            return "redis"
        return "other"


@dataclass
class CpuSampler:
    """Every `every` seconds: each process's CPU ticks by group, and the machine's busy ticks."""

    gunicorn_master: int
    locust_pid: int
    services: Services
    every: float = 0.5
    snapshots: list[tuple[float, dict[int, tuple[str, int]], int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _groups: dict[int, str] = field(default_factory=dict)  # pid -> group, for the processes that stay

    def group(self, pid: int, comm: str, ppid: int) -> str:
        if pid == self.gunicorn_master or ppid == self.gunicorn_master:
            return "gunicorn"
        if pid == self.locust_pid or ppid == self.locust_pid:
            return "locust"
        if pid not in self._groups:
            self._groups[pid] = self.services.group(pid, comm, ppid)
        return self._groups[pid]

    def snapshot(self) -> None:
        table = _process_table()
        busy, _total, irq = cpu_ticks()
        groups = {pid: (self.group(pid, comm, ppid), ticks) for pid, (comm, ppid, ticks) in table.items()}
        self.snapshots.append((time.time(), groups, busy, irq))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.snapshot()

    def start(self) -> None:
        self.snapshot()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.snapshot()

    def cores(self, first: float, last: float) -> dict[str, float]:
        """Cores each group used on average between two moments (the snapshots nearest them)."""
        begin = min(range(len(self.snapshots)), key=lambda index: abs(self.snapshots[index][0] - first))
        end = min(range(len(self.snapshots)), key=lambda index: abs(self.snapshots[index][0] - last))
        seconds = self.snapshots[end][0] - self.snapshots[begin][0]
        if end <= begin or seconds <= 0:
            return dict.fromkeys(CPU_GROUPS, 0.0)
        base = self.snapshots[begin][1]
        latest: dict[int, tuple[str, int]] = {}
        for _moment, groups, _busy, _irq in self.snapshots[begin : end + 1]:
            latest.update(groups)  # a process that ended keeps its last reading
        used = dict.fromkeys(CPU_GROUPS, 0)
        for pid, (group, ticks) in latest.items():
            used[group] += ticks - (base[pid][1] if pid in base else 0)
        machine = self.snapshots[end][2] - self.snapshots[begin][2]
        used["kernel"] = self.snapshots[end][3] - self.snapshots[begin][3]  # interrupts: loopback TCP mostly
        used["other"] = max(0, machine - sum(value for name, value in used.items() if name != "other"))
        return {name: value / CLOCK_TICKS / seconds for name, value in used.items()}


# --- gunicorn ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def worker_pids(master: int) -> list[int]:
    return sorted(pid for pid, (_comm, ppid, _ticks) in _process_table().items() if ppid == master)


@contextmanager
def gunicorn(workers: int, logs: Path) -> Iterator[tuple[str, int, Path]]:
    """gunicorn serving the project on the bench settings; (base URL, master pid, access log)."""
    port = free_port()
    access_log = logs / "access.log"
    command = [
        str(GUNICORN),
        "tacro_topical.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--no-control-socket",  # gunicorn 27's control socket lives in $HOME: never in anyone else's way
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        ACCESS_LOG_FORMAT,
        "--error-logfile",
        "-",
    ]
    # gunicorn gets this process's settings: the bench's module, production, its database and Redis.
    child = shared.start("gunicorn", command, env=child_environment(), cwd=ROOT, log_path=logs / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    try:
        child.wait_for("Listening at", 60)
        deadline = time.monotonic() + 60
        while len(worker_pids(child.pid)) < workers or not answers(base):
            if time.monotonic() > deadline or child.process.poll() is not None:
                raise SystemExit(f"gunicorn did not start; see {logs / 'gunicorn.log'}")
            time.sleep(0.2)
        yield base, child.pid, access_log
    finally:
        child.stop()


def answers(base: str) -> bool:
    """Whether the API answers (401 to an anonymous GET /api/v1/me/)."""
    request = urllib.request.Request(f"{base}/api/v1/me/", headers=dict([common.PROXY_HEADER]))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - our own server on loopback
            return True
    except urllib.error.HTTPError as error:
        return error.code == 401
    except OSError:
        return False


# --- One locust run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    part: str  # max or rate
    target: str  # app or floor

    @property
    def name(self) -> str:
        what = "API" if self.target == "app" else "floor"
        return f"{what}, {'max throughput' if self.part == 'max' else 'fixed rate'}"


@dataclass
class Run:
    case: Case
    number: int
    load_before: str
    busy_before: float
    waited: float
    samples: list[Sample] = field(repr=False)
    window: tuple[float, float]
    cores: dict[str, float]
    locust_warnings: list[str]
    rate: float = 0.0  # open loop: the offered rate

    def in_window(self, key: Callable[[Sample], float]) -> list[Sample]:
        first, last = self.window
        return [sample for sample in self.samples if first <= key(sample) < last]

    @property
    def seconds(self) -> float:
        return self.window[1] - self.window[0]

    @property
    def throughput(self) -> float:
        """Answers completed within the window, per second (closed loop)."""
        return len(self.in_window(lambda sample: sample[2])) / self.seconds

    @property
    def scheduled(self) -> list[Sample]:
        """Open loop: the requests whose slot fell in the window."""
        return self.in_window(lambda sample: sample[0])

    @property
    def answered_rate(self) -> float:
        """Open loop: answers that came within the window, per second (the offered rate when the server keeps up)."""
        return len(self.in_window(lambda sample: sample[2])) / self.seconds

    @property
    def expected(self) -> int:
        """Open loop: the slots in the window, answered or not."""
        return round(self.rate * self.seconds)

    @property
    def unanswered(self) -> int:
        """Open loop: slots in the window whose request was not answered (or not even sent) before the end."""
        return max(0, self.expected - len(self.scheduled))

    def latencies(self) -> list[float]:
        """From the slot (so any wait for the client's previous answer counts) to the answer; an unanswered
        slot counts as infinitely slow."""
        return sorted(sample[2] - sample[0] for sample in self.scheduled) + [math.inf] * self.unanswered

    @property
    def late(self) -> int:
        return sum(1 for sample in self.scheduled if sample[1] - sample[0] > LATE_SECONDS)

    def percentile(self, share: float) -> float:
        """Nearest rank: the smallest latency that `share` of the slots did not exceed."""
        values = self.latencies()
        return values[max(0, math.ceil(share * len(values)) - 1)]

    @property
    def mean_latency(self) -> float:
        answered = self.in_window(lambda sample: sample[2])
        return statistics.fmean(sample[2] - sample[1] for sample in answered)

    def cpu_text(self) -> str:
        return " / ".join(f"{self.cores[name]:.2f}" for name in CPU_GROUPS)

    def gunicorn_ms_per_request(self) -> float:
        count = len(self.in_window(lambda sample: sample[2]))
        return 1000 * self.cores["gunicorn"] * self.seconds / max(1, count)


def locust_command(users: int, seconds: float, base: str) -> list[str]:
    return [
        str(LOCUST_VENV / "bin" / "locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(min(users, SPAWN_RATE)),
        "--run-time",
        f"{seconds:.0f}s",
        "--stop-timeout",
        "15",
        "--host",
        base,
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]


def run_locust(
    case: Case,
    args: argparse.Namespace,
    base: str,
    logs: Path,
    *,
    settle: float,
    duration: float,
    on_started: Callable[[int], None] | None = None,
    users: int | None = None,
) -> tuple[dict[str, Any], int, subprocess.Popen[bytes], Path]:
    """Start locust for one case; (its environment, users, process, samples path). The caller waits."""
    if users is None:
        users = args.clients if case.part == "max" else args.open_clients
    samples_path = logs / f"samples-{case.part}-{case.target}-{uuid.uuid4().hex[:8]}.json"
    env = {
        **{key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")},
        "BENCH_API_MODE": "closed" if case.part == "max" else "open",
        "BENCH_API_TARGET": case.target,
        "BENCH_API_RATE": str(args.rate),
        "BENCH_API_USERS": str(users),
        "BENCH_API_SETTLE": str(settle),
        "BENCH_API_WINDOW": str(duration),
        "BENCH_API_SAMPLES": str(samples_path),
        "BENCH_API_PATIENTS_FILE": str(common.patients_file()),
    }
    log = (logs / f"locust-{case.part}-{case.target}.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own command, no shell
        locust_command(users, settle + duration + 1, base),
        cwd=HERE,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    if on_started is not None:
        on_started(process.pid)
    return env, users, process, samples_path


def finish_locust(process: subprocess.Popen[bytes], samples_path: Path, timeout: float) -> dict[str, Any]:
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise SystemExit("locust did not stop in time") from None
    if not samples_path.exists():
        raise SystemExit(f"locust wrote no samples (exit {process.returncode}); see its log")
    document: dict[str, Any] = json.loads(samples_path.read_text())
    samples_path.unlink()
    return document


def measure(
    case: Case, number: int, args: argparse.Namespace, base: str, master: int, logs: Path, services: Services
) -> Run:
    reset()
    busy, waited = wait_for_quiet(args.quiet_cpu, args.quiet_wait)
    load_before = shared.load_average()
    sampler: CpuSampler | None = None

    def started(pid: int) -> None:
        nonlocal sampler
        sampler = CpuSampler(gunicorn_master=master, locust_pid=pid, services=services)
        sampler.start()

    _env, _users, process, samples_path = run_locust(
        case, args, base, logs, settle=args.settle, duration=args.duration, on_started=started
    )
    try:
        document = finish_locust(process, samples_path, timeout=args.settle + args.duration + 90)
    finally:
        if sampler is not None:
            sampler.stop()
    assert sampler is not None  # noqa: S101 - set when locust started
    wait_idle(master)
    samples: list[Sample] = [(float(a), float(b), float(c), int(d)) for a, b, c, d in document["samples"]]
    window = (float(document["window_start"]), float(document["window_end"]))
    log_text = (logs / f"locust-{case.part}-{case.target}.log").read_text(errors="replace")
    warnings = sorted({line.split(": ", 1)[-1] for line in log_text.splitlines() if "CPU usage" in line})
    run = Run(
        case=case,
        number=number,
        load_before=load_before,
        busy_before=busy,
        waited=waited,
        samples=samples,
        window=window,
        cores=sampler.cores(*window),
        locust_warnings=warnings,
        rate=args.rate if case.part == "rate" else 0.0,
    )
    check(run, args.clients if case.part == "max" else args.open_clients)
    return run


def check(run: Run, users: int) -> None:
    """Every answer a 201, and every 201 a stored row: a broken endpoint is never fast.

    A request still in flight when locust stops (an overloaded open-loop run) is stored but not
    recorded: at most one per client.
    """
    statuses = Counter(sample[3] for sample in run.samples)
    if set(statuses) != {201}:
        raise SystemExit(f"{run.case.name}: answers other than 201: {dict(statuses)}; see the gunicorn log")
    stored = application_rows()
    if not statuses[201] <= stored <= statuses[201] + users:
        raise SystemExit(f"{run.case.name}: {statuses[201]} answered 201 but {stored} rows are stored")


def wait_idle(master: int, longest: float = 180.0) -> None:
    """Until gunicorn's workers stop using CPU: requests a stopped client left queued still run."""
    deadline = time.monotonic() + longest

    def used() -> int:
        table = _process_table()
        return sum(ticks for pid, (_comm, ppid, ticks) in table.items() if ppid == master)

    before = used()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = used()
        if now - before <= 2:  # 20 ms of CPU in a second: idle
            return
        before = now


# --- Database and Redis --------------------------------------------------------------------------


def application_rows() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tracking_application")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def reset() -> float:
    """No applications, no throttle counts, no queued tasks; VACUUM ANALYZE and CHECKPOINT. Seconds taken."""
    import redis
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tracking_application CASCADE")
        cursor.execute("VACUUM (ANALYZE) tracking_application")
        cursor.execute("CHECKPOINT")
    for name in ("CACHE_URL", "CELERY_BROKER_URL"):
        client = redis.Redis.from_url(os.environ[name])
        client.flushdb()
        client.close()
    return time.perf_counter() - start


def check_patients_file(longest: datetime.timedelta) -> dict[str, Any]:
    from django.conf import settings

    from bench.api_load.setup_data import PATIENTS

    path = common.patients_file()
    if not path.exists():
        raise SystemExit(f"No patients file at {path}: run bench/api_load/setup_data.py first.")
    document: dict[str, Any] = json.loads(path.read_text())
    if document.get("database") != settings.DATABASES["default"]["NAME"] or len(document["patients"]) != PATIENTS:
        raise SystemExit(f"{path} is for another database or data set: run bench/api_load/setup_data.py again.")
    expires = datetime.datetime.fromisoformat(document["expires_at"])
    if expires < datetime.datetime.now(tz=datetime.UTC) + longest:
        raise SystemExit(f"The access tokens in {path} expire at {expires}: run bench/api_load/setup_data.py again.")
    return document


# --- One counted request, in-process -------------------------------------------------------------


def counted_request(patient: dict[str, Any]) -> list[tuple[str, float]]:
    """One API POST through Django's test client with a query log; (sql, seconds) per statement."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.measure import TRANSACTION_STATEMENTS

    timings: list[float] = []

    def timer(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append(time.perf_counter() - start)

    client = Client(
        headers={"authorization": f"Bearer {patient['token']}", common.PROXY_HEADER[0]: common.PROXY_HEADER[1]}
    )
    now = datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0)
    body = {"id": "", "applied_at": now.isoformat(), "body_areas": patient["body_areas"]}
    url = f"/api/v1/patients/{patient['patient']}/applications/"
    for _ in range(2):  # warm: the first request in a process imports and builds what it caches
        body["id"] = str(uuid.uuid4())
        client.post(url, body, content_type="application/json", HTTP_HOST="127.0.0.1")
    body["id"] = str(uuid.uuid4())
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timer):
        response = client.post(url, body, content_type="application/json", HTTP_HOST="127.0.0.1")
    if response.status_code != 201:
        raise SystemExit(f"The counted request answered {response.status_code}: {response.content[:300]!r}")
    statements = iter(timings)
    result = []
    for query in captured.captured_queries:
        sql = query["sql"]
        control = sql.split(" ", 1)[0].upper() in TRANSACTION_STATEMENTS
        result.append((sql, 0.0 if control else next(statements, 0.0)))
    return result


# --- Profile -------------------------------------------------------------------------------------


# What --profile adds up, from py-spy's stacks below gunicorn's handle_request: a label and a frame
# ("path:function"; the time of every stack holding it), or "own:" and a frame (the stacks on top of which it is).
PHASES: tuple[tuple[str, str], ...] = (
    ("Django: the WSGI handler and every middleware, the view included", "django/core/handlers/wsgi.py:__call__"),
    ("DRF dispatch: the view (authentication, throttles, our code, rendering)", "rest_framework/views.py:dispatch"),
    ("DRF: JWT authentication (decode, user query)", "rest_framework/views.py:perform_authentication"),
    ("DRF: throttles (cache get and set in Redis)", "rest_framework/views.py:check_throttles"),
    ("accounts.apis.patient_for_request (patient, may-act queries)", "accounts/apis.py:patient_for_request"),
    ("Input serializer: is_valid", "rest_framework/serializers.py:is_valid"),
    ("tracking.services.logs_record", "tracking/services/logs.py:logs_record"),
    ("  fingerprint", "tracking/services/logs.py:fingerprint"),
    ("  in_bulk: stored ids, then the confirming read", "django/db/models/query.py:in_bulk"),
    ("  _build_application: regimens, zone history", "tracking/services/logs.py:_build_application"),
    ("  Model.full_clean", "django/db/models/base.py:full_clean"),
    ("  bulk_create: INSERT", "django/db/models/query.py:bulk_create"),
    ("  atomic's exit: COMMIT, then on_commit", "django/db/transaction.py:__exit__"),
    ("Celery: patient_logs_changed.delay (publish to Redis)", "celery/app/task.py:apply_async"),
    ("tracking.apis.result_response: output serializer", "tracking/apis/logs.py:result_response"),
    ("  PatientClock.for_patient (zone history query)", "accounts/clock.py:for_patient"),
    ("JSON rendering", "rest_framework/response.py:rendered_content"),
    ("Every SQL statement: Django's execute, psycopg, the wait", "django/db/backends/utils.py:_execute"),
    ("  of which waiting for PostgreSQL's answer", "own:psycopg/connection.py:wait"),
    ("Every Redis command (throttle, Celery)", "redis/client.py:_execute_command"),
)


def profile(args: argparse.Namespace, logs: Path) -> str:
    """py-spy on one gunicorn worker (wall time, idle included) while closed-loop clients keep it busy.

    gunicorn runs --profile-workers workers (default 1) and --profile-clients clients (default 4) keep them
    busy: with one worker on two cores, the worker is seldom waiting for a core, so the time py-spy sees
    is the request's own (Python, and waits for PostgreSQL and Redis), not a queue for the CPU.
    """
    py_spy = LOCUST_VENV / "bin" / "py-spy"
    raw = logs / "py-spy.txt"
    case = Case("max", "app")
    with gunicorn(args.profile_workers, logs) as (base, master, access_log):
        worker = worker_pids(master)[0]
        reset()
        _env, _users, process, samples_path = run_locust(
            case, args, base, logs, settle=0.0, duration=args.warmup, users=args.profile_clients
        )
        finish_locust(process, samples_path, timeout=args.warmup + 90)
        reset()
        busy, _waited = wait_for_quiet(args.quiet_cpu, args.quiet_wait)
        load = shared.load_average()
        _env, _users, process, samples_path = run_locust(
            case, args, base, logs, settle=args.settle, duration=args.profile_seconds + 5, users=args.profile_clients
        )
        time.sleep(args.settle + 1)
        offset = access_log.stat().st_size
        cpu_before = _process_table()[worker][2]
        spy = subprocess.run(  # noqa: S603 - our own command
            [
                str(py_spy),
                "record",
                "--pid",
                str(worker),
                "--idle",
                "--rate",
                "200",
                "--duration",
                f"{args.profile_seconds:.0f}",
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        cpu_after = _process_table()[worker][2]
        end = access_log.stat().st_size
        finish_locust(process, samples_path, timeout=args.settle + args.profile_seconds + 90)
    if spy.returncode != 0 or not raw.exists():
        raise SystemExit(f"py-spy failed ({spy.returncode}): {spy.stderr[-2000:]}")
    with access_log.open("rb") as log:
        log.seek(offset)
        lines = log.read(end - offset).decode(errors="replace").splitlines()
    durations = [int(line.rsplit("us=", 1)[1]) / 1e6 for line in lines if f"pid=<{worker}>" in line and " 201 " in line]
    if not durations:
        raise SystemExit("No requests of the profiled worker in the access log")
    cpu_ms = 1000 * (cpu_after - cpu_before) / CLOCK_TICKS / len(durations)
    header = (
        f"gunicorn {args.profile_workers} worker(s), {args.profile_clients} closed-loop clients; load average before "
        f"{load}, CPU busy before {busy:.0f}%. Worker {worker}: {len(durations):,} requests (201) in its access log "
        f"while py-spy ran, {ms(statistics.fmean(durations))} each on average (gunicorn's %(D)s), median "
        f"{ms(statistics.median(durations))}; the worker's CPU time (utime + stime) {cpu_ms:.2f} ms per request."
    )
    return header + "\n" + analyse(raw.read_text(), durations)


def _frame_name(frame: str) -> str:
    """'function (path/to/file.py:123)' -> 'path/to/file.py:function', the path from site-packages or the repo."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{ROOT}/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{name}"


def analyse(raw: str, durations: list[float], limit: int = 30) -> str:
    """Milliseconds per request for each phase and for the top frames, from py-spy's raw (collapsed) stacks.

    Only the stacks inside gunicorn's handle_request count; their share of the samples times the mean
    request time (gunicorn's own figure) is the time per request.
    """
    stacks: list[tuple[list[str], int]] = []
    total = 0
    for text in raw.splitlines():
        stack, _, number = text.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        total += int(number)
        frames = [_frame_name(frame) for frame in stack.split(";")]
        handler = next((index for index, frame in enumerate(frames) if frame.endswith(":handle_request")), None)
        if handler is not None:
            stacks.append((frames[handler + 1 :], int(number)))
    in_request = sum(count for _frames, count in stacks)
    per_sample = 1000 * statistics.fmean(durations) / max(1, in_request)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1] if frames else "gunicorn/workers/sync.py:handle_request"] += count

    def row(label: str, count: int) -> str:
        return f"| {label} | {count * per_sample:.2f} ms | {100 * count / max(1, in_request):.1f}% |"

    out = [
        f"py-spy: {total:,} samples at 200/s (idle included), {in_request:,} inside handle_request "
        f"({100 * in_request / max(1, total):.0f}% of the worker's time); each sample there stands "
        f"for {per_sample:.4f} ms of the average request.",
        "",
        "| Phase | ms per request | Share of the request |",
        "|---|---:|---:|",
        row("gunicorn's handle_request (whole request)", in_request),
    ]
    for label, frame in PHASES:
        count = own[frame[4:]] if frame.startswith("own:") else inclusive[frame]
        out.append(row(f"{label} (`{frame}`)", count))
    table_head = ["", "| Frame | ms per request | Share |", "|---|---:|---:|"]
    out += ["", f"Top {limit} frames by inclusive time:", *table_head]
    out += [row(f"`{name}`", count) for name, count in inclusive.most_common(limit)]
    out += ["", f"Top {limit} frames by own time (on top of the stack):", *table_head]
    out += [row(f"`{name}`", count) for name, count in own.most_common(limit)]
    return "\n".join(out)


# --- Report --------------------------------------------------------------------------------------


def run_table(runs: list[Run]) -> str:
    lines = [
        "| # | Case | Load avg before (1, 5, 15 min) | CPU busy before | Result | Late sends "
        "| Cores: gunicorn / PostgreSQL / Redis / locust / irq+softirq / other | gunicorn CPU per request |",
        "|---:|---|---|---:|---|---:|---|---:|",
    ]
    for run in runs:
        if run.case.part == "max":
            result = f"{run.throughput:.1f} req/s (mean latency {ms(run.mean_latency)})"
            late = "-"
        else:
            result = (
                f"{run.answered_rate:.1f} req/s answered of {run.rate:.0f} offered; "
                f"p50 {ms(run.percentile(0.50))}, p95 {ms(run.percentile(0.95))}, "
                f"p99 {ms(run.percentile(0.99))}, max {ms(run.latencies()[-1])}"
            )
            late = f"{run.late}" + (f" ({run.unanswered} unanswered)" if run.unanswered else "")
        lines.append(
            f"| {run.number} | {run.case.name} | {run.load_before} | {run.busy_before:.0f}% | {result} | {late} "
            f"| {run.cpu_text()} | {run.gunicorn_ms_per_request():.2f} ms |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Figure:
    name: str
    values: list[float]
    unit: str  # "req/s", "ms" or "x"
    goal: str = "-"
    meets: bool | None = None

    def text(self, value: float) -> str:
        if self.unit == "ms":
            return ms(value)
        if self.unit == "x":
            return f"{value:.2f}x"
        return f"{value:.1f} req/s"

    def row(self) -> str:
        median = statistics.median(self.values)
        meets = "-" if self.meets is None else ("yes" if self.meets else "**no**")
        return (
            f"| {self.name} | {len(self.values)} | {self.text(median)} | {self.text(min(self.values))} "
            f"| {self.text(max(self.values))} | {self.goal} | {meets} |"
        )


def summary(runs: list[Run], args: argparse.Namespace) -> list[Figure]:
    def of(part: str, target: str) -> list[Run]:
        return sorted((run for run in runs if run.case == Case(part, target)), key=lambda run: run.number)

    figures: list[Figure] = []
    app_max, floor_max = of("max", "app"), of("max", "floor")
    if app_max and floor_max:
        ratios = [app.throughput / floor.throughput for app, floor in zip(app_max, floor_max, strict=False)]
        ratio = statistics.median(run.throughput for run in app_max) / statistics.median(
            run.throughput for run in floor_max
        )
        figures += [
            Figure(
                f"API max throughput, {args.clients} clients, closed loop", [r.throughput for r in app_max], "req/s"
            ),
            Figure(
                f"Floor max throughput, {args.clients} clients, closed loop", [r.throughput for r in floor_max], "req/s"
            ),
            Figure(
                "API / floor max throughput (each pair of runs)",
                ratios,
                "x",
                goal=f">= {RATIO_GOAL}x",
                meets=ratio >= RATIO_GOAL,
            ),
        ]
    for target, label in (("app", "API"), ("floor", "Floor")):
        rate = of("rate", target)
        if not rate:
            continue
        p99 = statistics.median(run.percentile(0.99) for run in rate)
        figures += [
            Figure(f"{label} at {args.rate:.0f} req/s: answered rate", [run.answered_rate for run in rate], "req/s"),
            Figure(f"{label} at {args.rate:.0f} req/s: p50", [run.percentile(0.50) for run in rate], "ms"),
            Figure(f"{label} at {args.rate:.0f} req/s: p95", [run.percentile(0.95) for run in rate], "ms"),
            Figure(
                f"{label} at {args.rate:.0f} req/s: p99",
                [run.percentile(0.99) for run in rate],
                "ms",
                goal=f"< {P99_GOAL * 1000:.0f} ms" if target == "app" else "-",
                meets=(p99 < P99_GOAL) if target == "app" else None,
            ),
        ]
    return figures


def figure_table(figures: list[Figure]) -> str:
    lines = ["| Figure | Runs | Median | Min | Max | Goal | Meets goal |", "|---|---:|---:|---:|---:|---|---|"]
    return "\n".join(lines + [figure.row() for figure in figures])


def versions() -> str:
    from importlib.metadata import version

    import psycopg
    import redis
    import rest_framework

    client = redis.Redis.from_url(os.environ["CACHE_URL"])
    server = client.info("server")
    client.close()
    locust = subprocess.run(  # noqa: S603
        [str(LOCUST_VENV / "bin" / "locust"), "--version"], capture_output=True, text=True, check=False
    ).stdout.split(" from ")[0]
    return (
        f"- gunicorn {version('gunicorn')}, Django REST framework {rest_framework.__version__}, "
        f"psycopg {psycopg.__version__}, redis-py {redis.__version__}; Redis {server.get('redis_version')}; "
        f"{locust.strip()} (Python {platform.python_version()} in bench/api_load/.venv-locust)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = common.configure()
    from bench import environment

    if not (LOCUST_VENV / "bin" / "locust").exists():
        raise SystemExit(f"No locust in {LOCUST_VENV}: `make bench-api-load` makes it (requirements-locust.txt).")
    parts = args.only or list(PARTS)
    cases = [Case(part, target) for part in parts for target in args.target or TARGETS]
    per_run = args.settle + args.duration + 15
    longest = datetime.timedelta(seconds=per_run * len(cases) * args.runs + 3600)
    document = check_patients_file(longest)
    patients = document["patients"]
    say(f"Code: {code_state()}")
    say(f"Database {database}; {len(patients):,} patients; tokens valid until {document['expires_at']}")
    say(f"gunicorn: {args.workers} sync workers; cache {os.environ['CACHE_URL']}")
    say(f"Celery broker {os.environ['CELERY_BROKER_URL']} (no worker: emptied before every run)")

    reset()
    queries = counted_request(patients[0])
    if args.show_queries:
        for number, (sql, seconds) in enumerate(queries, 1):
            say(f"  {number:2d}. {seconds * 1000:6.2f} ms  {sql[:300]}")
    control = sum(1 for sql, _ in queries if sql.split(" ", 1)[0].upper() in {"BEGIN", "COMMIT", "SAVEPOINT"})
    say(f"One API POST in-process: {len(queries)} queries ({len(queries) - control} SQL + {control} BEGIN/COMMIT)")

    logs = Path(tempfile.mkdtemp(prefix="tacro-bench-api-load-"))
    services = Services.find()
    runs: list[Run] = []
    discarded: list[Run] = []
    try:
        if args.profile:
            print(profile(args, logs))
            return 0
        with gunicorn(args.workers, logs) as (base, master, _access_log):
            say(f"gunicorn at {base}, master {master}, workers {worker_pids(master)}")
            for target in TARGETS:  # warm-up: every worker imports, connects and fills its caches
                reset()
                case = Case("max", target)
                _env, _users, process, samples_path = run_locust(
                    case, args, base, logs, settle=0.0, duration=args.warmup
                )
                finish_locust(process, samples_path, timeout=args.warmup + 90)
            for number in range(1, args.runs + 1):
                order = cases if number % 2 else cases[::-1]
                for case in order:
                    for attempt in range(args.retries + 1):
                        run = measure(case, number, args, base, master, logs, services)
                        what = (
                            f"{run.throughput:.1f} req/s"
                            if case.part == "max"
                            else f"p50 {ms(run.percentile(0.5))} p99 {ms(run.percentile(0.99))}, late {run.late}"
                        )
                        say(
                            f"  run {number}, {case.name}: {what}; load before {run.load_before}, CPU busy before "
                            f"{run.busy_before:.0f}%; cores {run.cpu_text()} {' '.join(run.locust_warnings)}"
                        )
                        if run.cores["other"] <= args.max_other or attempt == args.retries:
                            break
                        discarded.append(run)
                        say(f"    discarded: other processes used {run.cores['other']:.2f} cores; again")
                    runs.append(run)
    finally:
        if args.keep_logs:
            say(f"Logs kept in {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)

    figures = summary(runs, args)
    print()
    print(f"Database: {database}; {datetime.date.today().isoformat()}; {code_state()}")
    print(environment.machine().markdown())
    print(versions())
    print(f"- gunicorn {args.workers} sync workers; locust on the same machine, no CPU pinning")
    print()
    print(run_table(runs))
    if discarded:
        print(f"\nDiscarded (other processes used more than {args.max_other:.2f} cores), each run again:\n")
        print(run_table(discarded))
    print()
    print(figure_table(figures))
    missed = [figure for figure in figures if figure.meets is False]
    for figure in missed:
        print(f"MISSED: {figure.name}: median {figure.text(statistics.median(figure.values))} ({figure.goal})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
