"""Fault 5: two beats and two workers for 10 minutes of due reminders: nothing twice.

    .venv/bin/python bench/faults/f5_two_beats.py [--minutes 10] [--per-minute 500]

A real run, not compressed: two `celery -A tacro_topical beat` processes, each with a schedule file of
its own (so both send every entry: the sweep every minute, requeue_stale every 120 s), and two workers
(`--pool prefork --concurrency 2` each), for `--minutes` wall-clock minutes. Each of those minutes,
`--per-minute` patients (in 8 zones, half- and three-quarter-hour offsets among them) have a dose slot,
sent to the inbox and by email (the SMTP sink). Every minute the two beats' sweeps (each starting
REMINDER_SWEEPERS=2 sweeps) race for the same due rows; the workers run with REMINDER_SWEEP_BATCH=100
(default 1,000) so that a minute's reminders are several batches the four sweeps claim at once.

Counted after the last minute's reminders are delivered: occurrences per minute and any second copy
of a (schedule, local date, slot) (the unique constraint makes that impossible), notifications and any
second one per (occurrence, recipient), any second delivery per (notification, channel), emails
received and duplicates (same occurrence, same recipient), the sweep tasks each worker ran and how many
occurrences each wrote, the sweeps each beat sent, and the delay from the slot to the inbox and to the
email (median and max).
"""

from __future__ import annotations

import datetime
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.faults import common

SWEEP_DONE = re.compile(
    r"tracking\.tasks\.(sweep_reminders|sweep_reminders_helper)\[[^\]]+\] succeeded in [0-9.]+s: (\d+)"
)
BEAT_SENT = "Sending due task sweep-reminders"
# Smaller than the default 1,000, so each minute's reminders are several batches that the four sweeps
# (two beats x REMINDER_SWEEPERS) claim at the same time, rather than one batch the first sweep takes.
SWEEP_BATCH = 100


def check(schedule_ids: list[int], sink: common.MailSink) -> dict[str, Any]:
    def one(sql: str) -> int:
        return common.scalar(sql, [schedule_ids])

    scope = "o.schedule_id = ANY(%s) AND o.follows_id IS NULL"
    per_minute = {
        due_at.strftime("%H:%M"): (int(total), int(delivered))
        for due_at, total, delivered in common.query(
            f"SELECT due_at, count(*), count(*) FILTER (WHERE state = 'delivered') FROM tracking_occurrence o "  # noqa: S608
            f"WHERE {scope} GROUP BY due_at ORDER BY due_at",
            [schedule_ids],
        )
    }
    refs = {
        occurrence_id.hex
        for (occurrence_id,) in common.query(f"SELECT o.id FROM tracking_occurrence o WHERE {scope}", [schedule_ids])  # noqa: S608
    }
    with sink._lock:
        received = {key: count for key, count in sink.sent.items() if key[0] in refs}
    delays = common.query(
        f"""
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM n.created_at - o.due_at)),
               max(extract(epoch FROM n.created_at - o.due_at)),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.sent_at - o.due_at)),
               max(extract(epoch FROM d.sent_at - o.due_at))
        FROM tracking_occurrence o JOIN tracking_notification n ON n.occurrence_id = o.id
        JOIN tracking_delivery d ON d.notification_id = n.id AND d.channel = 'email'
        WHERE {scope}
        """,  # noqa: S608
        [schedule_ids],
    )[0]
    return {
        "per_minute": per_minute,
        "occurrences": sum(total for total, _delivered in per_minute.values()),
        "delivered": sum(delivered for _total, delivered in per_minute.values()),
        "occurrence_copies": one(
            f"SELECT count(*) - count(DISTINCT (o.schedule_id, o.local_date, o.slot)) FROM tracking_occurrence o "  # noqa: S608
            f"WHERE {scope}"
        ),
        "notifications": one(
            f"SELECT count(*) FROM tracking_notification n JOIN tracking_occurrence o ON o.id = n.occurrence_id "  # noqa: S608
            f"WHERE {scope}"
        ),
        "notification_copies": one(
            "SELECT count(*) - count(DISTINCT (n.occurrence_id, n.recipient_id)) FROM tracking_notification n "  # noqa: S608
            f"JOIN tracking_occurrence o ON o.id = n.occurrence_id WHERE {scope}"
        ),
        "delivery_copies": one(
            "SELECT count(*) - count(DISTINCT (d.notification_id, d.channel)) FROM tracking_delivery d "  # noqa: S608
            f"JOIN tracking_notification n ON n.id = d.notification_id JOIN tracking_occurrence o "
            f"ON o.id = n.occurrence_id WHERE {scope}"
        ),
        "email_sent": one(
            "SELECT count(*) FROM tracking_delivery d JOIN tracking_notification n ON n.id = d.notification_id "  # noqa: S608
            f"JOIN tracking_occurrence o ON o.id = n.occurrence_id WHERE {scope} AND d.channel = 'email' "
            "AND d.status = 'sent'"
        ),
        "emails_received": sum(received.values()),
        "emails_distinct": len(received),
        "duplicate_emails": sum(count - 1 for count in received.values()),
        "inbox_delay_median_s": round(float(delays[0]), 2) if delays[0] is not None else None,
        "inbox_delay_max_s": round(float(delays[1]), 2) if delays[1] is not None else None,
        "email_delay_median_s": round(float(delays[2]), 2) if delays[2] is not None else None,
        "email_delay_max_s": round(float(delays[3]), 2) if delays[3] is not None else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = common.base_parser(__doc__, runs=1)
    parser.add_argument("--minutes", type=int, default=10, help="wall-clock minutes of due reminders (default 10)")
    parser.add_argument("--per-minute", type=int, default=500, help="reminders due each minute (default 500)")
    args = parser.parse_args(argv)
    if args.runs != 1:
        parser.error("one run: it takes the wall-clock minutes it simulates")
    common.say(f"Fault 5: two beats and two workers, {args.minutes} minutes of due reminders")
    common.configure()
    common.reset_data()
    machine = common.machine_markdown()
    expected = args.minutes * args.per_minute
    schedules = Path(tempfile.mkdtemp(prefix="tacro-faults-beats-"))
    with common.log_folder(args.keep_logs) as logs, common.mail_sink() as sink:
        # The first minute boundary at least 40 s away: time to create the patients and start the processes.
        first = common.minute_floor(datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=99))
        minutes = [first + datetime.timedelta(minutes=k) for k in range(args.minutes)]
        start = time.perf_counter()
        people = common.create_patients(expected, prefix="beat", slots=minutes)
        common.progress(
            f"{expected} reminders, {args.per_minute} a minute from {minutes[0]:%H:%M} to {minutes[-1]:%H:%M} UTC "
            f"({time.perf_counter() - start:.1f} s to create)"
        )
        children = []
        try:
            env = {"REMINDER_SWEEP_BATCH": str(SWEEP_BATCH)}
            children.append(common.start_worker("f5-worker-a", logs, env=env))
            children.append(common.start_worker("f5-worker-b", logs, env=env))
            children.append(common.start_beat("f5-beat-a", logs, schedules / "beat-a"))
            children.append(common.start_beat("f5-beat-b", logs, schedules / "beat-b"))
            common.progress("2 workers and 2 beats up")
            deadline = minutes[-1] + datetime.timedelta(minutes=5)
            last_report = 0.0
            result: dict[str, Any] = {}
            while datetime.datetime.now(datetime.UTC) < deadline:
                past_last = datetime.datetime.now(datetime.UTC) > minutes[-1] + datetime.timedelta(seconds=30)
                if past_last or time.monotonic() - last_report > 60:
                    result = check(people.schedule_ids, sink)
                    if time.monotonic() - last_report > 60:
                        last_report = time.monotonic()
                        common.progress(
                            f"occurrences {result['occurrences']}, delivered {result['delivered']}, emails "
                            f"{result['emails_distinct']} (duplicates {result['duplicate_emails']})"
                        )
                    if past_last and result["delivered"] == expected and result["emails_distinct"] == expected:
                        break
                time.sleep(2)
            # One more sweep by both beats after the last minute's: nothing more may appear.
            one_more = minutes[-1] + datetime.timedelta(minutes=1, seconds=15)
            time.sleep(max(0.0, (one_more - datetime.datetime.now(datetime.UTC)).total_seconds()))
            result = check(people.schedule_ids, sink)
        finally:
            for child in reversed(children):
                child.stop()
        workers, beats = children[:2], children[2:]
        sweeps = {
            child.name: [
                (match.group(1), int(match.group(2)))
                for _stamp, line in child.lines
                if (match := SWEEP_DONE.search(line))
            ]
            for child in workers
        }
        beat_sends = {child.name: sum(BEAT_SENT in line for _stamp, line in child.lines) for child in beats}
    written = Counter({name: sum(value for _task, value in runs) for name, runs in sweeps.items()})
    sweeps_nonzero = {name: sum(1 for _task, value in runs if value) for name, runs in sweeps.items()}
    ok = (
        result["occurrences"] == expected
        and result["delivered"] == expected
        and result["occurrence_copies"] == 0
        and result["notifications"] == expected
        and result["notification_copies"] == 0
        and result["delivery_copies"] == 0
        and result["email_sent"] == expected
        and result["emails_distinct"] == expected
        and result["duplicate_emails"] == 0
        and sum(written.values()) == expected
    )
    details = {
        **result,
        "sweep_tasks_run": {name: len(runs) for name, runs in sweeps.items()},
        "sweep_tasks_that_wrote": sweeps_nonzero,
        "occurrences_written_by_worker": dict(written),
        "beat_sweeps_sent": beat_sends,
    }
    common.progress(f"{details}")
    line = (
        f"{args.minutes} min x {args.per_minute}: occurrences {result['occurrences']} of {expected} (second copies "
        f"{result['occurrence_copies']}), notifications {result['notifications']} (copies "
        f"{result['notification_copies']}), delivery copies {result['delivery_copies']}, emails "
        f"{result['emails_distinct']} distinct / {result['emails_received']} received (duplicates "
        f"{result['duplicate_emails']}); sweeps sent by the beats {beat_sends}, occurrences written per worker "
        f"{dict(written)}; slot to inbox median {result['inbox_delay_median_s']} s "
        f"(max {result['inbox_delay_max_s']} s)"
    )
    return common.finish("f5_two_beats", {"ok": ok, "runs": [details], "machine": machine}, line, args.json)


if __name__ == "__main__":
    sys.exit(main())
