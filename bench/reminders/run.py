"""Issue #4's reminder benchmarks on PostgreSQL and Redis, against django-celery-beat.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tacro_bench_reminders \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/reminders/run.py

Sets up the data set if it is not there (setup_data.py: 1,000,000 schedules, 100,000 due at
setup_data.DUE_AT), then, with production settings:

- sweep: `tracking.reminders.sweep.sweep(now=DUE_AT)` in this process, from its call until it returns,
  after a reset; checked to have written exactly 100,000 pending occurrences and advanced every
  due schedule. Median, min and max of --sweep-runs runs.
- breakdown: the same sweep, step by step: the time of its SQL statements by kind (the claim, the
  UPDATE of positions, the INSERT of occurrences), of each COMMIT, and the rest (Python: the recurrence
  math and the rows). Nothing of the sweep is copied: the steps are read off its statements.
- parallel: two sweeper processes at once (as two workers running the sweep task would), with
  tracking.reminders.sweep.sweep; SKIP LOCKED splits the due schedules.
- delivery: real Celery workers (`celery -A tacro_topical worker --pool prefork --concurrency N`),
  started and idle before the run; the timer runs from the sweep's start (the sweep hands each
  batch to `tracking.notifications.tasks.enqueue_occurrences`, as the beat task does) until 100,000
  Notification rows exist (counted every 0.5 s from another connection). Checked: 100,000 distinct occurrences,
  100,000 inbox deliveries sent, no other channel, every dose occurrence delivered, one follow-up
  scheduled per dose. With 2 and 4 worker processes, and with larger delivery tasks (--delivery).
- beat: django-celery-beat 2.9.0's DatabaseScheduler with 10,000 per-patient PeriodicTasks (in
  bench/reminders/.venv-beat, see beat_project/seed.py), and our beat with its fixed entries: time
  from process start until the first due task reaches Redis (a BLPOP on the queue), and the beat
  process's resident memory (VmRSS at that moment, VmHWM two seconds later).

Prints the machine and markdown tables; exits 1 when a goal is missed. `--profile` and
`--profile-delivery` print where the sweep's and a worker's time goes instead. Creates the beat venv if it is
missing (pip install -r bench/reminders/requirements-beat.txt).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench import shared  # the project root must be on the path first
from bench.shared import child_environment, say

HERE = Path(__file__).resolve().parent
ROOT = shared.ROOT
BEAT_VENV = HERE / ".venv-beat"
BEAT_REQUIREMENTS = HERE / "requirements-beat.txt"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/14"
DEFAULT_BEAT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tacro_bench_beat"
QUEUE = "celery"  # Celery's default queue: a Redis list of that name
SWEEP_GOAL = 10.0
DELIVERY_GOAL = 60.0
POLL_SECONDS = 0.5
DELIVERY_TIMEOUT = 600.0
BEAT_TIMEOUT = 180.0
PARTS = ("sweep", "breakdown", "parallel", "delivery", "beat")
# SWEEP:CONCURRENCY:BATCH[:SWEEPERS]: one sweep in this process feeding 2 worker processes; then
# REMINDER_SWEEPERS (2) sweeper processes at once, as beat's entry starts them, with 2 and 4 worker
# processes and with larger delivery tasks.
DEFAULT_DELIVERIES = ("tracking:2:200", "tracking:2:200:2", "tracking:4:200:2", "tracking:2:500:2")
# `tracking`: tracking.reminders.sweep.sweep as checked out, the only sweep measured. (The frozen copy of
# d42ae3f's sweep and the prototypes of its rewrite were deleted; their figures stay in BENCHMARKS.md.)
SWEEP_VARIANTS = ("tracking",)
SWEEPERS = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument("--sweep-runs", type=int, default=5, help="timed sweeps (default 5)")
    parser.add_argument("--breakdown-runs", type=int, default=3, help="step-by-step sweeps (default 3)")
    parser.add_argument("--delivery-runs", type=int, default=3, help="timed deliveries per setting (default 3)")
    parser.add_argument(
        "--delivery",
        nargs="+",
        default=list(DEFAULT_DELIVERIES),
        metavar="SWEEP:CONCURRENCY:BATCH[:SWEEPERS]",
        help="delivery settings to time: which sweep feeds the workers (tracking: tracking.reminders.sweep.sweep, "
        "the only one), the worker pool size and "
        "REMINDER_DELIVERY_BATCH, and how many sweeps run at once (default 1: in this process; more: "
        "that many sweeper processes, as REMINDER_SWEEPERS starts on the workers) "
        f"(default {' '.join(DEFAULT_DELIVERIES)})",
    )
    parser.add_argument("--beat-runs", type=int, default=5, help="beat starts per scheduler (default 5)")
    parser.add_argument("--parallel-runs", type=int, default=3, help="runs of two sweepers at once (default 3)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one sweep and stop")
    parser.add_argument(
        "--profile-delivery", action="store_true", help="time and cProfile occurrences_deliver in-process, and stop"
    )
    # Internal: one of the sweepers of the `parallel` part (a process of its own).
    parser.add_argument("--sweeper", choices=SWEEP_VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--go", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--enqueue", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--force-setup", action="store_true", help="rebuild the data set first")
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers' and beats' logs")
    args = parser.parse_args(argv)
    if min(args.sweep_runs, args.delivery_runs, args.beat_runs, args.breakdown_runs, args.parallel_runs) < 1:
        parser.error("every run count is at least 1")
    try:
        args.delivery = [
            (sweep, int(numbers[0]), int(numbers[1]), int(numbers[2]) if len(numbers) > 2 else 1)
            for sweep, *numbers in (setting.split(":") for setting in args.delivery)
            if len(numbers) in (2, 3)
        ]
    except ValueError:
        parser.error("--delivery takes SWEEP:CONCURRENCY:BATCH[:SWEEPERS], e.g. tracking:2:200:2")
    if any(sweep not in SWEEP_VARIANTS or min(numbers) < 1 for sweep, *numbers in args.delivery):
        parser.error(f"--delivery: SWEEP is one of {', '.join(SWEEP_VARIANTS)}; the numbers are at least 1")
    return args


# --- Figures -------------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    values: list[float]
    unit: str = "s"
    goal: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def meets(self) -> bool:
        return self.goal is None or self.median < self.goal

    def text(self, value: float) -> str:
        return f"{value:.2f} s" if self.unit == "s" else f"{value:.1f} {self.unit}"

    def row(self) -> str:
        goal = f"< {self.goal:.0f} s" if self.goal else "-"
        ratio = f"{self.median / self.goal:.2f}x" if self.goal else "-"
        meets = ("yes" if self.meets else "**no**") if self.goal else "-"
        return (
            f"| {self.name} | {len(self.values)} | {self.text(self.median)} | {self.text(min(self.values))} "
            f"| {self.text(max(self.values))} | {goal} | {ratio} | {meets} |"
        )


def table(figures: Sequence[Figure]) -> str:
    lines = [
        "| Benchmark | Runs | Median | Min | Max | Goal | Ratio to goal | Meets goal |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    return "\n".join(lines + [figure.row() for figure in figures])


# --- Environment ---------------------------------------------------------------------------------


def configure() -> tuple[str, str]:
    """Bench database and Redis database (never 0 or 15); production settings; Django set up."""
    shared.project_root_first(HERE)
    from bench.reminders import setup_data

    os.environ.setdefault("DATABASE_URL", setup_data.DEFAULT_DATABASE_URL)
    os.environ.setdefault("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
    shared.check_redis_url(os.environ["CELERY_BROKER_URL"])
    from bench import environment

    database = environment.prepare()
    return database, os.environ["CELERY_BROKER_URL"]


def versions(broker_url: str) -> str:
    """The commit and date, the machine (bench/environment.py), and the Celery, psycopg and Redis versions."""
    import celery
    import psycopg
    import redis

    from bench import environment

    server = redis.Redis.from_url(broker_url).info("server")
    return "\n".join(
        [
            f"- Code: {environment.code_state()}",
            f"- Date: {datetime.date.today().isoformat()}",
            environment.machine().markdown(),
            f"- Celery {celery.__version__}, psycopg {psycopg.__version__}, redis-py {redis.__version__}; "
            f"Redis {server.get('redis_version')}, on this machine",
        ]
    )


# --- Sweep ---------------------------------------------------------------------------------------


def check_result(result: Any) -> None:
    """The sweep claimed the 100,000 due schedules and handed on 100,000 pending occurrences."""
    from bench.reminders import setup_data

    expected = setup_data.DUE_PATIENTS
    if (result.claimed, result.written, len(result.pending_ids)) != (expected, expected, expected):
        raise SystemExit(
            f"The sweep is wrong: claimed {result.claimed}, wrote {result.written}, "
            f"{len(result.pending_ids)} pending ids (expected {expected} each)"
        )


def check_sweep(result: Any) -> None:
    """Exactly the 100,000 due dose slots became pending occurrences, and no schedule is due any more."""
    from django.db import connection

    from bench.reminders import setup_data

    check_result(result)
    expected = setup_data.DUE_PATIENTS
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'pending' AND kind = 'dose' AND due_at = %s) "
            "FROM tracking_occurrence",
            [setup_data.DUE_AT],
        )
        total, pending = cursor.fetchone() or (0, 0)
        cursor.execute("SELECT count(*) FROM tracking_schedule WHERE next_fire_at <= %s", [setup_data.DUE_AT])
        (still_due,) = cursor.fetchone() or (0,)
    if (total, pending, still_due) != (expected, expected, 0):
        raise SystemExit(
            f"The sweep is wrong: {total} occurrences ({pending} pending dose at DUE_AT), "
            f"{still_due} schedules still due"
        )


def timed_sweep(sweep: Callable[..., Any], **kwargs: Any) -> tuple[float, Any]:
    from bench.reminders import setup_data

    setup_data.reset()
    gc.collect()
    start = time.perf_counter()
    result = sweep(now=setup_data.DUE_AT, **kwargs)
    elapsed = time.perf_counter() - start
    check_sweep(result)
    return elapsed, result


def measure_sweep(runs: int) -> Figure:
    from tracking.reminders import sweep as reminder_sweep

    seconds = []
    for number in range(1, runs + 1):
        elapsed, _result = timed_sweep(reminder_sweep.sweep)
        seconds.append(elapsed)
        say(f"  sweep run {number}/{runs}: {elapsed:.2f} s")
    return Figure("Sweep: 100,000 due schedules → 100,000 occurrences written", seconds, goal=SWEEP_GOAL)


def run_sweep(variant: str, **kwargs: Any) -> Any:
    """tracking.reminders.sweep.sweep (`variant` is `tracking`, the one SWEEP_VARIANTS holds)."""
    from tracking.reminders import sweep as reminder_sweep

    if variant != "tracking":
        raise SystemExit(f"Unknown sweep {variant!r}: only `tracking` (tracking.reminders.sweep.sweep)")
    return reminder_sweep.sweep(**kwargs)


SQL_STEPS = (  # (the statement starts with, quotes left out; the step): the sweep's statements, in its order
    ("SELECT tracking_schedule", "claim (SELECT ... FOR UPDATE SKIP LOCKED, values)"),
    ("UPDATE tracking_schedule", "save positions (UPDATE ... FROM unnest)"),
    ("INSERT INTO tracking_occurrence", "insert occurrences (INSERT ... SELECT unnest ... RETURNING id)"),
)
OTHER_SQL = "other statements (due follow-ups and snoozes)"
COMMIT = "commit"
PYTHON = "the rest: recurrence math and rows (Python)"


def sql_step(sql: str) -> str:
    text = sql.lstrip().replace('"', "")
    return next((step for start, step in SQL_STEPS if text.startswith(start)), OTHER_SQL)


@contextmanager
def timed_steps() -> Iterator[dict[str, float]]:
    """Seconds by step of whatever sweeps inside: each SQL statement by kind (an execute wrapper) and each
    COMMIT (the connection's `commit`, which `transaction.atomic` calls, wrapped in this process only).
    The rest of the time, which the caller adds, is Python."""
    from django.db import connection

    seconds: dict[str, float] = defaultdict(float)

    def statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds[sql_step(sql)] += time.perf_counter() - start

    commit = connection.commit

    def timed_commit() -> None:
        start = time.perf_counter()
        try:
            commit()
        finally:
            seconds[COMMIT] += time.perf_counter() - start

    connection.commit = timed_commit  # type: ignore[method-assign]  # an instance attribute, removed below
    try:
        with connection.execute_wrapper(statement):
            yield seconds
    finally:
        del connection.commit


def measure_breakdown(runs: int) -> tuple[list[Figure], dict[str, dict[str, float]]]:
    """`runs` sweeps of tracking.reminders.sweep.sweep, each step timed; the median run's steps."""
    from tracking.reminders import sweep as reminder_sweep

    seconds: list[float] = []
    runs_steps: list[dict[str, float]] = []
    for number in range(1, runs + 1):
        with timed_steps() as steps:
            elapsed, _result = timed_sweep(reminder_sweep.sweep)
        steps[PYTHON] = elapsed - sum(steps.values())
        seconds.append(elapsed)
        runs_steps.append({**steps, "total": elapsed})
        say(f"  breakdown run {number}/{runs}: {elapsed:.2f} s")
    figures = [Figure("Sweep, step by step: tracking.reminders.sweep.sweep", seconds, goal=SWEEP_GOAL)]
    return figures, {"tracking": sorted(runs_steps, key=lambda run: run["total"])[len(runs_steps) // 2]}


def sweeper(variant: str, go: float, *, enqueue: bool) -> int:
    """One of the parallel sweepers: wait for the wall-clock `go`, sweep, print a JSON line.

    With `enqueue`, each batch goes to the workers (`enqueue_occurrences`), as the sweep task does.
    """
    from django.db import connection

    from bench.reminders import setup_data
    from tracking.notifications.tasks import enqueue_occurrences

    connection.ensure_connection()
    time.sleep(max(0.0, go - time.time()))
    started = time.time()
    result = run_sweep(variant, now=setup_data.DUE_AT, on_pending=enqueue_occurrences if enqueue else None)
    finished = time.time()
    answer = {"started": started, "finished": finished, "claimed": result.claimed, "written": result.written}
    print(json.dumps({**answer, "pending": len(result.pending_ids)}), flush=True)
    return 0


def start_sweepers(
    variant: str, count: int, *, enqueue: bool = False, **env: str
) -> tuple[float, list[subprocess.Popen[str]]]:
    """`count` sweeper processes that start sweeping together at the wall-clock time `go` (returned)."""
    go = time.time() + 4.0  # after each process has set Django up
    command = [sys.executable, str(Path(__file__)), "--sweeper", variant, "--go", str(go)]
    children = [
        subprocess.Popen(  # noqa: S603
            [*command, *(["--enqueue"] if enqueue else [])],
            env=child_environment(**env),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    return go, children


def finish_sweepers(children: list[subprocess.Popen[str]]) -> Any:
    """Wait for the sweepers; their summed result, when the last one finished and how they split the work."""
    from types import SimpleNamespace

    answers = [json.loads((child.communicate()[0] or "{}").strip().splitlines()[-1]) for child in children]
    if any(child.returncode for child in children):
        raise SystemExit(f"A sweeper failed: {answers}")
    return SimpleNamespace(
        claimed=sum(answer["claimed"] for answer in answers),
        written=sum(answer["written"] for answer in answers),
        pending_ids=range(sum(answer["pending"] for answer in answers)),
        finished=max(answer["finished"] for answer in answers),
        split="/".join(str(answer["claimed"]) for answer in answers),
    )


def measure_parallel(runs: int) -> list[Figure]:
    """SWEEPERS processes sweep at once (as SWEEPERS workers running the sweep task would); the wall time
    from the common start until the last one returns. SKIP LOCKED splits the due schedules between them."""
    from bench.reminders import setup_data

    variant = "tracking"
    seconds = []
    for number in range(1, runs + 1):
        setup_data.reset()
        go, children = start_sweepers(variant, SWEEPERS)
        total = finish_sweepers(children)
        check_sweep(total)
        seconds.append(total.finished - go)
        say(f"  {SWEEPERS} sweepers {variant} run {number}/{runs}: {seconds[-1]:.2f} s (claimed {total.split})")
    return [Figure(f"Sweep, {SWEEPERS} sweepers at once: {variant}", seconds, goal=SWEEP_GOAL)]


def profile_sweep() -> str:
    """cProfile of one `tracking.reminders.sweep.sweep` (about twice as slow as without the profiler)."""
    import cProfile

    from bench.reminders import setup_data
    from tracking.reminders import sweep as reminder_sweep

    setup_data.reset()
    profiler = cProfile.Profile()
    profiler.enable()
    result = reminder_sweep.sweep(now=setup_data.DUE_AT)
    profiler.disable()
    check_sweep(result)
    return shared.profile_text(profiler, orders=("cumulative", "tottime"))


def profile_delivery(occurrences: int = 20_000, batch: int = 200) -> str:
    """What one worker does, in this process: `occurrences_deliver` on batches of `batch` ids.

    First `occurrences` ids timed with the time of each SQL statement summed (no profiler), then as
    many again under cProfile.
    """
    import cProfile
    from collections import defaultdict

    from django.db import connection

    from bench.reminders import setup_data
    from tracking.notifications import services as notifications
    from tracking.reminders import sweep as reminder_sweep

    setup_data.reset()
    ids = reminder_sweep.sweep(now=setup_data.DUE_AT).pending_ids
    statements: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements[sql[:80]][0] += time.perf_counter() - start
            statements[sql[:80]][1] += 1

    start = time.perf_counter()
    with connection.execute_wrapper(timed):
        for first in range(0, occurrences, batch):
            notifications.occurrences_deliver(ids[first : first + batch])
    elapsed = time.perf_counter() - start
    sql = sum(seconds for seconds, _count in statements.values())
    lines = [
        f"occurrences_deliver, {occurrences:,} occurrences in batches of {batch}, one process: {elapsed:.2f} s "
        f"({elapsed / occurrences * 1e3:.3f} ms each; {elapsed * len(ids) / occurrences:.1f} s for {len(ids):,}); "
        f"SQL statements {sql:.2f} s, the rest (Python, commit) {elapsed - sql:.2f} s",
        *(
            f"  {seconds:6.2f} s {count:5d}x {text}"
            for text, (seconds, count) in sorted(statements.items(), key=lambda item: -item[1][0])[:12]
        ),
    ]
    profiler = cProfile.Profile()
    profiler.enable()
    for first in range(occurrences, 2 * occurrences, batch):
        notifications.occurrences_deliver(ids[first : first + batch])
    profiler.disable()
    return "\n".join(lines) + "\n\n" + shared.profile_text(profiler, orders=("cumulative", "tottime"))


# --- Delivery ------------------------------------------------------------------------------------


class NotificationCounter(threading.Thread):
    """Counts Notification rows every POLL_SECONDS from a connection of its own, until `target`."""

    def __init__(self, target: int, started: float) -> None:
        super().__init__(name="notification-counter", daemon=True)
        self.target = target
        self.started = started
        self.reached_at: float | None = None
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        from bench.reminders import setup_data

        with setup_data.connect() as connection:
            tick = self.started
            while not self.stopping.is_set():
                row = connection.execute("SELECT count(*) FROM tracking_notification").fetchone()
                now = time.perf_counter()
                count = int(row[0]) if row else 0
                self.samples.append((now - self.started, count))
                if count >= self.target:
                    self.reached_at = now
                    return
                if now - self.started > DELIVERY_TIMEOUT:
                    return
                tick += POLL_SECONDS
                self.stopping.wait(max(0.0, tick - time.perf_counter()))


def check_delivery() -> None:
    from django.db import connection

    from bench.reminders import setup_data

    expected = setup_data.DUE_PATIENTS
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT occurrence_id), count(*) FILTER (WHERE in_inbox) "
            "FROM tracking_notification"
        )
        notifications = tuple(cursor.fetchone() or ())
        cursor.execute("SELECT channel, status, count(*) FROM tracking_delivery GROUP BY 1, 2 ORDER BY 1, 2")
        deliveries = cursor.fetchall()
        cursor.execute("SELECT kind, state, count(*) FROM tracking_occurrence GROUP BY 1, 2 ORDER BY 1, 2")
        occurrences = cursor.fetchall()
    follow_ups = ("dose_follow_up", "scheduled", expected)
    problems = []
    if notifications != (expected, expected, expected):
        problems.append(f"notifications (rows, distinct occurrences, in inbox): {notifications}")
    if deliveries != [("inbox", "sent", expected)]:
        problems.append(f"deliveries: {deliveries}")
    if occurrences != [("dose", "delivered", expected), follow_ups]:
        problems.append(f"occurrences: {occurrences}")
    if problems:
        raise SystemExit("The delivery is wrong: " + "; ".join(problems))


def queue_idle(broker_url: str, timeout: float = 60.0) -> None:
    """Wait until no message is queued or unacknowledged (Celery's Redis transport keeps them in `unacked`)."""
    import redis

    client = redis.Redis.from_url(broker_url)
    deadline = time.monotonic() + timeout
    while client.llen(QUEUE) or client.hlen("unacked"):
        if time.monotonic() > deadline:
            raise SystemExit(f"Redis still holds {client.llen(QUEUE)} queued, {client.hlen('unacked')} unacked")
        time.sleep(0.2)


@contextmanager
def worker(concurrency: int, logs: Path) -> Iterator[Any]:
    command = [
        str(Path(sys.executable).with_name("celery")),
        "-A",
        "tacro_topical",
        "worker",
        "--loglevel",
        "INFO",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--without-mingle",
        "--without-gossip",
        "--hostname",
        f"bench-reminders-{concurrency}@%h",
    ]
    child = shared.start(
        f"worker (concurrency {concurrency})",
        command,
        env=child_environment(),
        cwd=ROOT,
        log_path=logs / f"worker-{concurrency}.log",
    )
    try:
        child.wait_for(" ready.", timeout=60)
        yield child
    finally:
        child.stop()


def measure_delivery(
    *, concurrency: int, batch: int, sweepers: int, runs: int, sweep_variant: str, broker_url: str, logs: Path
) -> tuple[Figure, Figure]:
    """Sweep-start-to-inbox with workers running, `runs` times; and the sweep's own time in those runs."""
    from django.test import override_settings

    from bench.reminders import setup_data
    from tracking.notifications.tasks import enqueue_occurrences

    delivered: list[float] = []
    swept: list[float] = []
    label = f"{sweepers} sweep{'s' if sweepers > 1 else ''}, concurrency {concurrency}, REMINDER_DELIVERY_BATCH={batch}"
    with worker(concurrency, logs):
        for number in range(1, runs + 1):
            setup_data.reset()
            queue_idle(broker_url)
            gc.collect()
            if sweepers == 1:
                start = time.perf_counter()
                counter = NotificationCounter(setup_data.DUE_PATIENTS, start)
                counter.start()
                with override_settings(REMINDER_DELIVERY_BATCH=batch):
                    result = run_sweep(sweep_variant, now=setup_data.DUE_AT, on_pending=enqueue_occurrences)
                swept.append(time.perf_counter() - start)
            else:
                go, children = start_sweepers(sweep_variant, sweepers, enqueue=True, REMINDER_DELIVERY_BATCH=str(batch))
                # The timer starts at the sweepers' common wall-clock start.
                start = time.perf_counter() + (go - time.time())
                counter = NotificationCounter(setup_data.DUE_PATIENTS, start)
                counter.start()
                result = finish_sweepers(children)
                swept.append(result.finished - go)
            counter.join(DELIVERY_TIMEOUT + 5)
            counter.stopping.set()
            if counter.reached_at is None:
                last = counter.samples[-1] if counter.samples else None
                raise SystemExit(f"Delivery ({label}) did not reach 100,000 notifications; last count {last}")
            delivered.append(counter.reached_at - start)
            check_result(result)
            queue_idle(broker_url)
            check_delivery()
            say(f"  delivery {label}, run {number}/{runs}: sweep {swept[-1]:.2f} s, delivered {delivered[-1]:.2f} s")
    return (
        Figure(f"Delivery: sweep start → 100,000 in the inbox ({label})", delivered, goal=DELIVERY_GOAL),
        Figure(f"  the sweep itself in those runs ({label})", swept),
    )


# --- Beat ----------------------------------------------------------------------------------------


@dataclass
class BeatStart:
    first_task: float  # seconds from process start until the first message is on the queue
    starting: float | None  # ... until beat logs "beat: Starting..."
    task_name: str
    rss_mib: float  # VmRSS when the first message arrived
    peak_mib: float  # VmHWM two seconds later


class QueueWatcher(threading.Thread):
    """BLPOP on the queue: the moment the first message arrives, and its task name."""

    def __init__(self, broker_url: str) -> None:
        super().__init__(name="queue-watcher", daemon=True)
        import redis

        # redis-py 8 reads with a 5 s socket timeout by default; BLPOP waits longer than that.
        self.client = redis.Redis.from_url(broker_url, socket_timeout=BEAT_TIMEOUT + 10)
        self.arrived: float | None = None
        self.task = ""

    def run(self) -> None:
        popped = self.client.blpop([QUEUE], timeout=int(BEAT_TIMEOUT))
        self.arrived = time.perf_counter()
        if popped:
            message = json.loads(popped[1])
            self.task = str(message.get("headers", {}).get("task", ""))


def beat_start(name: str, command: Sequence[str], env: dict[str, str], broker_url: str, log_path: Path) -> BeatStart:
    import redis

    redis.Redis.from_url(broker_url).delete(QUEUE)
    watcher = QueueWatcher(broker_url)
    watcher.start()
    time.sleep(0.2)  # the BLPOP is waiting before the beat starts
    child = shared.start(name, command, env=env, cwd=ROOT, log_path=log_path)
    try:
        watcher.join(BEAT_TIMEOUT + 5)
        if watcher.arrived is None or not watcher.task:
            raise SystemExit(f"{name}: no task reached the queue in {BEAT_TIMEOUT:.0f} s; see {log_path}")
        at_first = shared.memory_kib(child.pid)
        time.sleep(2.0)
        later = shared.memory_kib(child.pid)
        starting = next((stamp for stamp, line in child.lines if "beat: Starting" in line), None)
    finally:
        child.stop()
    return BeatStart(
        first_task=watcher.arrived - child.started,
        starting=None if starting is None else starting - child.started,
        task_name=watcher.task,
        rss_mib=at_first.get("VmRSS", 0) / 1024,
        peak_mib=later.get("VmHWM", 0) / 1024,
    )


def ensure_beat_venv() -> Path:
    python = BEAT_VENV / "bin" / "python"
    if not python.exists():
        say(f"Creating {BEAT_VENV.relative_to(ROOT)} (django-celery-beat baseline) ...")
        subprocess.run([sys.executable, "-m", "venv", str(BEAT_VENV)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(BEAT_REQUIREMENTS)], check=True
        )
    return python


def beat_seed(python: Path, *arguments: str) -> dict[str, int]:
    env = child_environment(BEAT_DATABASE_URL=os.environ.get("BEAT_DATABASE_URL", DEFAULT_BEAT_DATABASE_URL))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    output = subprocess.run(  # noqa: S603
        [str(python), "-m", "bench.reminders.beat_project.seed", *arguments],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    answer: dict[str, int] = json.loads(output.strip().splitlines()[-1])
    return answer


def prime_our_schedule(path: Path) -> None:
    """Our beat's schedule file as a restarted beat finds it: the sweep overdue, the rest just run."""
    from celery.beat import PersistentScheduler

    from tacro_topical.celery import app

    scheduler = PersistentScheduler(app=app, schedule_filename=str(path))
    now = app.now()
    for name, entry in scheduler.schedule.items():
        entry.last_run_at = now - datetime.timedelta(minutes=2) if name == "sweep-reminders" else now
    scheduler.sync()
    scheduler.close()


@dataclass
class BeatFigures:
    name: str
    entries: str
    starts: list[BeatStart]

    def figure(self, attribute: str) -> Figure:
        unit = "s" if attribute in ("first_task", "starting") else "MiB"
        return Figure(self.name, [getattr(start, attribute) for start in self.starts], unit=unit)


def measure_beats(runs: int, broker_url: str, logs: Path) -> list[BeatFigures]:
    python = ensure_beat_venv()
    seeded = beat_seed(python, "setup")
    say(f"  django-celery-beat database: {seeded}")
    beat_env = child_environment(BEAT_DATABASE_URL=os.environ.get("BEAT_DATABASE_URL", DEFAULT_BEAT_DATABASE_URL))
    beat_env.pop("DJANGO_SETTINGS_MODULE", None)
    dcb_command = [
        str(BEAT_VENV / "bin" / "celery"),
        "-A",
        "bench.reminders.beat_project.celery_app",
        "beat",
        "-S",
        "django_celery_beat.schedulers:DatabaseScheduler",
        "--loglevel",
        "INFO",
    ]
    results = []
    for variant, description in (
        ("twice", '10,000 twice-daily crontabs (hour "H,H+12"), patient zones'),
        ("once", "10,000 once-daily crontabs (one hour), patient zones"),
    ):
        starts = []
        loaded = 0
        for number in range(1, runs + 1):
            loaded = beat_seed(python, "reset", "--variant", variant)["loaded"]
            start = beat_start(
                f"django-celery-beat ({variant})",
                dcb_command,
                beat_env,
                broker_url,
                logs / f"beat-dcb-{variant}-{number}.log",
            )
            if not start.task_name.startswith("tracking.tasks.patient_dose_reminder"):
                raise SystemExit(f"django-celery-beat sent {start.task_name!r} first")
            starts.append(start)
            say(f"  django-celery-beat {variant} run {number}/{runs}: {start}")
        results.append(
            BeatFigures(
                f"django-celery-beat 2.9.0 DatabaseScheduler, {description}",
                f"{loaded:,} loaded at start",
                starts,
            )
        )
    ours_command = [str(Path(sys.executable).with_name("celery")), "-A", "tacro_topical", "beat", "--loglevel", "INFO"]
    starts = []
    for number in range(1, runs + 1):
        with tempfile.TemporaryDirectory(prefix="tacro-beat-") as folder:
            schedule = Path(folder) / "celerybeat-schedule"
            prime_our_schedule(schedule)
            start = beat_start(
                "our beat",
                [*ours_command, "--schedule", str(schedule)],
                child_environment(),
                broker_url,
                logs / f"beat-ours-{number}.log",
            )
        if start.task_name != "tracking.tasks.sweep_reminders":
            raise SystemExit(f"our beat sent {start.task_name!r} first")
        starts.append(start)
        say(f"  our beat run {number}/{runs}: {start}")
    from django.conf import settings

    results.append(
        BeatFigures(
            "Our beat (celery.beat.PersistentScheduler), the fixed entries of CELERY_BEAT_SCHEDULE",
            f"{len(settings.CELERY_BEAT_SCHEDULE)} entries",
            starts,
        )
    )
    return results


def beat_table(beats: Sequence[BeatFigures]) -> str:
    lines = [
        "| Beat | Entries | Runs | Start → first task on the queue: median (min-max) "
        '| "beat: Starting" logged (median) | RSS at first task (median) | Peak RSS, VmHWM (median) |',
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for beat in beats:
        first = beat.figure("first_task")
        starting = [start.starting for start in beat.starts if start.starting is not None]
        logged = f"{statistics.median(starting):.2f} s" if starting else "-"
        lines.append(
            f"| {beat.name} | {beat.entries} | {len(first.values)} "
            f"| {first.median:.2f} s ({min(first.values):.2f}-{max(first.values):.2f}) | {logged} "
            f"| {beat.figure('rss_mib').median:.1f} MiB | {beat.figure('peak_mib').median:.1f} MiB |"
        )
    ours = beats[-1]
    for beat in beats[:-1]:
        lines.append("")
        lines.append(
            f"- {beat.name}: {beat.figure('first_task').median / ours.figure('first_task').median:.1f}x our beat's "
            f"start-to-first-task, {beat.figure('peak_mib').median / ours.figure('peak_mib').median:.2f}x its peak RSS."
        )
    return "\n".join(lines)


# --- Main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database, broker_url = configure()
    if args.sweeper:
        return sweeper(args.sweeper, args.go, enqueue=args.enqueue)

    from bench.environment import code_state
    from bench.reminders import setup_data

    parts = args.only or list(PARTS)
    start = time.perf_counter()
    say(f"Code: {code_state()}")
    say(f"Database {database}, broker {broker_url}; data set ...")
    loaded = setup_data.ensure(force=args.force_setup)
    say(f"  {'loaded' if loaded else 'already set up'} ({time.perf_counter() - start:.1f} s)")
    if args.profile:
        print(profile_sweep())
        return 0
    if args.profile_delivery:
        print(profile_delivery())
        return 0

    figures: list[Figure] = []
    side: list[Figure] = []
    steps: dict[str, dict[str, float]] = {}
    beats: list[BeatFigures] = []
    logs = Path(tempfile.mkdtemp(prefix="tacro-bench-reminders-"))
    try:
        if "sweep" in parts:
            say("Sweep ...")
            figures.append(measure_sweep(args.sweep_runs))
        if "breakdown" in parts:
            say("Sweep, step by step ...")
            breakdown, steps = measure_breakdown(args.breakdown_runs)
            side.extend(breakdown)
        if "parallel" in parts:
            say(f"Sweep, {SWEEPERS} sweepers at once ...")
            side.extend(measure_parallel(args.parallel_runs))
        if "delivery" in parts:
            say("Delivery ...")
            for sweep_variant, concurrency, batch, sweepers in args.delivery:
                delivered, swept = measure_delivery(
                    concurrency=concurrency,
                    batch=batch,
                    sweepers=sweepers,
                    runs=args.delivery_runs,
                    sweep_variant=sweep_variant,
                    broker_url=broker_url,
                    logs=logs,
                )
                (figures if sweep_variant == "tracking" else side).append(delivered)
                side.append(swept)
        if "beat" in parts:
            say("Beat ...")
            beats = measure_beats(args.beat_runs, broker_url, logs)
    finally:
        if args.keep_logs:
            say(f"Logs in {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)

    print()
    print(versions(broker_url))
    print()
    if figures:
        print(table(figures))
        print()
    if side:
        print(table(side))
        print()
    for variant, seconds in steps.items():
        print(f"Steps of the median `{variant}` run:")
        for step, value in sorted(seconds.items(), key=lambda item: -item[1]):
            print(f"  {value:7.2f} s  {step}")
        print()
    if beats:
        print(beat_table(beats))
    missed = [figure.name for figure in figures if not figure.meets]
    for name in missed:
        print(f"MISSED: {name}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
