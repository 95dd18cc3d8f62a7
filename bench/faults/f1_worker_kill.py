"""Fault 1: kill -9 a Celery worker midway through delivering 10,000 reminders, then restart it.

    .venv/bin/python bench/faults/f1_worker_kill.py [--runs 1] [--reminders 10000]

10,000 patients, each with a login and a dose slot in the current minute, sent to the inbox and by
email (to the SMTP sink, which records every message it accepts by occurrence id and recipient).
One worker (`celery -A tacro_topical worker --pool prefork --concurrency 2`) runs with the project's
settings (acks_late, reject_on_worker_lost, prefetch multiplier 1, Redis visibility_timeout 3600 s)
except REMINDER_REQUEUE_AFTER_SECONDS=60 (default 300). The benchmark sends the beat task
`sweep_reminders` (which starts REMINDER_SWEEPERS=2 sweeps on the worker) and then, in place of beat's
120-second entry, sends `requeue_stale` every 20 s. Both are compressions of time; SEND_LEASE (5 min,
a constant in tracking/notifications/services/sending.py) is not, and bounds the recovery (below).

Two kills per run, each `kill -9` of the worker's whole process group (the main process and its pool
children, as when a machine or container dies), each followed at once by a new worker:
1. when 50% of the notifications exist (polled every 0.1 s: the fan-out, `deliver_occurrences`, is
   midway);
2. from the SMTP sink, the moment it accepts the email that makes 50%: that email is out, and its
   Delivery row is leased but not yet marked sent: the window at-least-once delivery cannot close.
Then it waits until every occurrence is delivered, 10,000 notifications exist, every email delivery
is sent and the sink has one message per occurrence, or 15 minutes.

Counted: notifications (rows and distinct occurrences), deliveries per channel and status, email
attempts (Delivery.attempts), emails received and duplicates (the same occurrence to the same
recipient twice), tasks `requeue_stale` handed back, messages left in Redis' `unacked` hash (they come
back only after the 3600 s visibility timeout, and are no-ops by then), and the time from each kill to
its recovery: from kill 1 until every occurrence has its notification, from kill 2 until every email
delivery is sent.
"""

from __future__ import annotations

import datetime
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.faults import common

REQUEUE_AFTER = 60
REQUEUE_EVERY = 20.0
TIMEOUT = 900.0
REQUEUED = re.compile(r"tracking\.tasks\.requeue_stale\[[^\]]+\] succeeded in [0-9.]+s: (\d+)")


def counts() -> dict[str, int]:
    row = common.query(
        """
        SELECT (SELECT count(*) FROM tracking_notification),
               (SELECT count(DISTINCT occurrence_id) FROM tracking_notification),
               (SELECT count(*) FROM tracking_delivery WHERE channel = 'inbox' AND status = 'sent'),
               (SELECT count(*) FROM tracking_delivery WHERE channel = 'email' AND status = 'sent'),
               (SELECT count(*) FROM tracking_delivery WHERE channel = 'email'),
               (SELECT coalesce(sum(attempts), 0) FROM tracking_delivery WHERE channel = 'email'),
               (SELECT count(*) FROM tracking_occurrence WHERE follows_id IS NULL AND state = 'delivered'),
               (SELECT count(*) FROM tracking_occurrence WHERE follows_id IS NULL),
               (SELECT count(*) FROM tracking_occurrence WHERE follows_id IS NOT NULL),
               (SELECT count(*) FROM tracking_occurrence WHERE follows_id IS NULL AND state = 'pending'),
               (SELECT count(*) FROM tracking_delivery WHERE channel = 'email' AND status = 'pending' AND attempts > 0)
        """
    )[0]
    keys = (
        "notifications",
        "notified_occurrences",
        "inbox_sent",
        "email_sent",
        "email_rows",
        "email_attempts",
        "occurrences_delivered",
        "occurrences",
        "follow_ups",
        "occurrences_pending",
        "email_leased",  # pending after an attempt began: leased by a worker (or waiting for a retry)
    )
    return dict(zip(keys, (int(value) for value in row), strict=True))


def requeued(workers: list[Any]) -> list[int]:
    return [
        int(match.group(1)) for child in workers for _stamp, line in child.lines if (match := REQUEUED.search(line))
    ]


def restart_after_kill(
    workers: list[Any], logs: Path, env: dict[str, str], what: str, sink: common.MailSink
) -> dict[str, Any]:
    killed_at = time.monotonic()
    at = counts()
    common.progress(
        f"kill -9 #{len(workers)} midway through the {what}: {at['notifications']} notifications, "
        f"{sink.distinct} emails received"
    )
    workers.append(common.start_worker(f"f1-worker-{len(workers) + 1}", logs, env=env))
    common.progress(f"worker {len(workers)} ready {time.monotonic() - killed_at:.1f} s after the kill")
    return {"what": what, "at": at, "sink_at": sink.distinct, "killed_at": killed_at}


def kill_and_restart(
    workers: list[Any], logs: Path, env: dict[str, str], what: str, sink: common.MailSink
) -> dict[str, Any]:
    common.kill_group(workers[-1])
    return restart_after_kill(workers, logs, env, what, sink)


def one_run(reminders: int, logs: Path, sink: common.MailSink) -> dict[str, Any]:
    import redis

    from bench.faults import infra
    from tracking.notifications.tasks import requeue_stale
    from tracking.reminders.tasks import sweep_reminders

    common.reset_data()
    sink.reset()
    slot = common.minute_floor(datetime.datetime.now(datetime.UTC))
    start = time.perf_counter()
    common.create_patients(reminders, prefix="kill", slots=[slot])
    common.progress(f"{reminders} patients with a dose slot at {slot:%H:%M} UTC ({time.perf_counter() - start:.1f} s)")
    env = {"REMINDER_REQUEUE_AFTER_SECONDS": str(REQUEUE_AFTER)}
    workers = [common.start_worker("f1-worker-1", logs, env=env)]
    stop_requeue = threading.Event()

    def requeue_loop() -> None:
        while not stop_requeue.wait(REQUEUE_EVERY):
            requeue_stale.delay()

    requeuer = threading.Thread(target=requeue_loop, daemon=True)
    kills: list[dict[str, Any]] = []
    try:
        sweep_reminders.delay()
        started = time.monotonic()
        requeuer.start()
        common.progress("sweep_reminders sent; requeue_stale every 20 s")
        half = reminders // 2
        # Kill 1: polled, midway through the fan-out.
        deadline = time.monotonic() + TIMEOUT
        while counts()["notifications"] < half:
            if time.monotonic() > deadline:
                raise SystemExit("the fan-out never reached 50%")
            time.sleep(0.1)
        kills.append(kill_and_restart(workers, logs, env, "fan-out (deliver_occurrences)", sink))
        # Kill 2: from the SMTP sink, the moment it accepts the email that makes half: that email is out,
        # and its Delivery row is still leased, not yet marked sent (the at-least-once window).
        killed = threading.Event()

        def kill_now() -> None:
            common.kill_group(workers[-1])
            killed.set()

        sink.on_count = (half, kill_now)
        fanned_out_at: float | None = None  # every occurrence has its notification
        deadline = time.monotonic() + TIMEOUT
        while not killed.wait(0.5):
            if fanned_out_at is None and counts()["notifications"] == reminders:
                fanned_out_at = time.monotonic()
                common.progress(
                    f"every occurrence notified, {fanned_out_at - kills[0]['killed_at']:.1f} s after kill 1"
                )
            if time.monotonic() > deadline:
                raise SystemExit("the sends never reached 50%")
        kills.append(
            restart_after_kill(workers, logs, env, "sends (send_delivery), as the sink accepts an email", sink)
        )
        deadline = time.monotonic() + TIMEOUT
        last_report = 0.0
        while True:
            now = counts()
            if fanned_out_at is None and now["notifications"] == reminders:
                fanned_out_at = time.monotonic()
                common.progress(
                    f"every occurrence notified, {fanned_out_at - kills[0]['killed_at']:.1f} s after kill 1"
                )
            done = (
                now["occurrences_delivered"] == reminders
                and now["notifications"] == reminders
                and now["email_sent"] == reminders
                and sink.distinct == reminders
            )
            if done:
                break
            if time.monotonic() > deadline:
                common.progress(f"timed out: {now}, sink {sink.distinct}")
                break
            if time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                common.progress(f"waiting: {now}, emails received {sink.distinct} (duplicates {sink.duplicates})")
            time.sleep(0.5)
        recovered_at = time.monotonic()
        time.sleep(5)  # a late duplicate would show here
    finally:
        stop_requeue.set()
        for child in workers:
            if child.process.poll() is None:
                child.stop()
    final = counts()
    unacked = int(redis.Redis.from_url(infra.BROKER_URL).hlen("unacked"))
    ok = (
        final["occurrences"] == reminders
        and final["occurrences_delivered"] == reminders
        and final["notifications"] == reminders
        and final["notified_occurrences"] == reminders
        and final["inbox_sent"] == reminders
        and final["email_sent"] == reminders
        and final["email_rows"] == reminders
        and sink.distinct == reminders
    )
    handed_back = requeued(workers)
    return {
        "ok": ok,
        "final": final,
        "emails_received": sink.messages,
        "emails_distinct": sink.distinct,
        "duplicate_emails": sink.duplicates,
        "email_attempts_beyond_one": final["email_attempts"] - final["email_rows"],
        "kills": [
            {
                "what": kill["what"],
                "notifications_at_kill": kill["at"]["notifications"],
                "occurrences_pending_at_kill": kill["at"]["occurrences_pending"],
                "email_leased_at_kill": kill["at"]["email_leased"],
                "emails_at_kill": kill["sink_at"],
                "recovered_s_after_kill": round(
                    (recovered_at if number == 2 or fanned_out_at is None else fanned_out_at) - kill["killed_at"], 1
                ),
            }
            for number, kill in enumerate(kills, start=1)
        ],
        "total_s": round(recovered_at - started, 1),
        "requeue_stale_runs": len(handed_back),
        "requeue_stale_handed_back": sum(handed_back),
        "requeue_stale_nonzero": [value for value in handed_back if value],
        "redis_unacked_left": unacked,
    }


def main(argv: list[str] | None = None) -> int:
    parser = common.base_parser(__doc__, runs=1)
    parser.add_argument("--reminders", type=int, default=10_000, help="reminders to deliver (default 10000)")
    args = parser.parse_args(argv)
    common.say(f"Fault 1: kill -9 a worker midway through delivering {args.reminders:,} reminders")
    common.configure()
    machine = common.machine_markdown()
    runs = []
    with common.log_folder(args.keep_logs) as logs, common.mail_sink() as sink:
        for number in range(1, args.runs + 1):
            common.progress(f"run {number}/{args.runs}")
            run = one_run(args.reminders, logs, sink)
            runs.append(run)
            common.progress(
                f"run {number}/{args.runs}: {run['final']}, emails received {run['emails_received']} "
                f"({run['emails_distinct']} distinct, {run['duplicate_emails']} duplicates); kills {run['kills']}; "
                f"requeue_stale handed back {run['requeue_stale_nonzero']}; Redis unacked left "
                f"{run['redis_unacked_left']}"
            )
    ok = all(run["ok"] for run in runs)
    line = (
        f"{args.runs} run(s), 2 kills each: delivered {[r['final']['occurrences_delivered'] for r in runs]} of "
        f"{args.reminders}, notifications {[r['final']['notifications'] for r in runs]}, emails sent "
        f"{[r['final']['email_sent'] for r in runs]}, duplicate emails {[r['duplicate_emails'] for r in runs]}, "
        f"email attempts beyond one {[r['email_attempts_beyond_one'] for r in runs]}; every notification "
        f"{[r['kills'][0]['recovered_s_after_kill'] for r in runs]} s after kill 1, every email sent "
        f"{[r['kills'][-1]['recovered_s_after_kill'] for r in runs]} s after kill 2"
    )
    return common.finish("f1_worker_kill", {"ok": ok, "runs": runs, "machine": machine}, line, args.json)


if __name__ == "__main__":
    sys.exit(main())
