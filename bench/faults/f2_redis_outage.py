"""Fault 2: Redis stopped for 60 s while patients keep logging and reminders come due.

    .venv/bin/python bench/faults/f2_redis_outage.py [--runs 3] [--outage 60] [--per-minute 300]

Running throughout, against our cluster and our Redis (no persistence: `--save "" --appendonly no`,
so a stop loses every queued and unacknowledged message, the worst case): gunicorn (2 gthread workers
x 4 threads), one Celery worker (prefork, concurrency 2), one `celery beat` with the project's
CELERY_BEAT_SCHEDULE (the sweep at the top of every minute, requeue_stale every 120 s), and the SMTP sink.

Eight patients log applications through the API (fresh UUIDs), each one a second (`--log-interval`;
when an answer is late the next log goes as soon as it comes), for the whole script; a probe GETs
/api/v1/health/ every second. Each run is one outage: `--per-minute` new patients have a dose slot at a
minute S (inbox and email); our Redis is shut down (SHUTDOWN NOSAVE) 15 s before S and started again,
empty, `--outage` seconds later, so the sweep beat sends at S is refused and those reminders are due
during the outage; they go out with the sweep at S+1 min. Runs are two minutes apart.

Counted per run: log POSTs before and during the outage and in the minute after, their answers (201
expected for all) and latency; the health probe's answers during the outage; the reminders due in the
outage: occurrences, delivered, notifications, sent email deliveries, emails received and duplicates;
and the time from Redis being back to the last of them sent. The worker is watched: if it exits, it is
started again once Redis is back (as systemd's Restart=on-failure would), and the exit is reported and
fails the run. Checked: every POST 201 and stored, every reminder of the outage delivered once, no
duplicate email, no worker exit.
"""

from __future__ import annotations

import datetime
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.faults import common, infra

LOGGERS = 8


class Logger(threading.Thread):
    """One patient logging applications through the API, each answer stamped with the wall clock."""

    def __init__(self, patient_id: uuid.UUID, token: str, stop: threading.Event, interval: float) -> None:
        super().__init__(daemon=True)
        self.patient_id = patient_id
        self.token = token
        self.stop = stop
        self.interval = interval
        self.answers: list[tuple[float, int, float]] = []  # (time.time() sent, status or 0 on error, seconds)
        self.created: set[uuid.UUID] = set()
        self.samples: list[str] = []

    def run(self) -> None:
        import httpx

        with common.api_client(self.token, timeout=30) as client:
            next_at = time.monotonic()
            while not self.stop.wait(max(0.0, next_at - time.monotonic())):
                next_at += self.interval
                log_id = uuid.uuid4()
                body = common.application_body(log_id, datetime.datetime.now(datetime.UTC))
                sent, start = time.time(), time.perf_counter()
                try:
                    response = client.post(f"/api/v1/patients/{self.patient_id}/applications/", json=body)
                except httpx.HTTPError as error:
                    self.answers.append((sent, 0, time.perf_counter() - start))
                    self.samples.append(type(error).__name__)
                    continue
                self.answers.append((sent, response.status_code, time.perf_counter() - start))
                if response.status_code == 201:
                    self.created.add(log_id)
                elif len(self.samples) < 5:
                    self.samples.append(f"{response.status_code}: {response.text[:300]}")


class HealthProbe(threading.Thread):
    def __init__(self, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.stop = stop
        self.answers: list[tuple[float, int, str, bool]] = []  # time, status, broker field, has Retry-After

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=f"http://127.0.0.1:{common.WEB_PORT}", headers=common.HEADERS, timeout=10) as client:
            while not self.stop.wait(1.0):
                try:
                    response = client.get("/api/v1/health/")
                    broker = str(response.json().get("broker", ""))
                    self.answers.append((time.time(), response.status_code, broker, "Retry-After" in response.headers))
                except (httpx.HTTPError, ValueError):
                    self.answers.append((time.time(), 0, "", False))


def wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def reminders_by_minute(schedule_ids: list[int], sink: common.MailSink) -> dict[str, dict[str, int]]:
    rows = common.query(
        """
        SELECT o.id, o.due_at, o.state,
               (SELECT count(*) FROM tracking_notification n WHERE n.occurrence_id = o.id),
               (SELECT count(*) FROM tracking_delivery d JOIN tracking_notification n ON n.id = d.notification_id
                 WHERE n.occurrence_id = o.id AND d.channel = 'email' AND d.status = 'sent')
        FROM tracking_occurrence o
        WHERE o.schedule_id = ANY(%s) AND o.follows_id IS NULL
        """,
        [schedule_ids],
    )
    with sink._lock:
        sent = Counter({ref: count for (ref, _recipient), count in sink.sent.items()})
    answer: dict[str, dict[str, int]] = {}
    for occurrence_id, due_at, state, notifications, emails_sent in rows:
        minute = answer.setdefault(
            due_at.strftime("%H:%M"),
            {"occurrences": 0, "delivered": 0, "notifications": 0, "email_sent": 0, "emails_received": 0, "dupes": 0},
        )
        received = sent.get(occurrence_id.hex, 0)
        minute["occurrences"] += 1
        minute["delivered"] += state == "delivered"
        minute["notifications"] += notifications
        minute["email_sent"] += emails_sent
        minute["emails_received"] += min(received, 1)
        minute["dupes"] += max(received - 1, 0)
    return dict(sorted(answer.items()))


def last_sent_at(schedule_ids: list[int], due_at: datetime.datetime) -> float | None:
    rows = common.query(
        """
        SELECT max(GREATEST(n.created_at, d.sent_at)) FROM tracking_occurrence o
        JOIN tracking_notification n ON n.occurrence_id = o.id
        JOIN tracking_delivery d ON d.notification_id = n.id AND d.channel = 'email'
        WHERE o.schedule_id = ANY(%s) AND o.due_at = %s AND o.follows_id IS NULL
        """,
        [schedule_ids, due_at],
    )
    return rows[0][0].timestamp() if rows and rows[0][0] else None


def phase_counts(answers: list[tuple[float, int, float]], start: float, end: float) -> dict[str, Any]:
    """Attempts sent in [start, end), how many were answered 201, and their latency (median, max)."""
    inside = [(status, seconds) for moment, status, seconds in answers if start <= moment < end]
    latencies = sorted(seconds for _status, seconds in inside)
    return {
        "attempts": len(inside),
        "201": sum(1 for status, _seconds in inside if status == 201),
        "median_s": round(common.median(latencies), 3) if latencies else None,
        "max_s": round(latencies[-1], 3) if latencies else None,
    }


def outage(outage_s: float) -> tuple[float, float]:
    """Shut our Redis down, wait, start it again (empty); when it went down and when it was back."""
    infra.redis_stop()
    down_at = time.time()
    common.progress("Redis stopped; logging goes on")
    wait_until(down_at + outage_s)
    infra.redis_start()
    back_at = time.time()
    common.progress(f"Redis back after {back_at - down_at:.1f} s (empty)")
    return down_at, back_at


class Supervisor:
    """Restarts the worker if it exits, as systemd's Restart=on-failure would, and says when and why."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.worker = common.start_worker("f2-worker-1", logs)
        self.deaths: list[dict[str, Any]] = []

    def check(self) -> dict[str, Any] | None:
        code = self.worker.process.poll()
        if code is None:
            return None
        reason = next((line for _stamp, line in self.worker.lines if "Unrecoverable error" in line), "")
        death = {"exit_code": code, "noticed_at": time.time(), "reason": reason[-200:], "log": self.worker.log_path}
        common.progress(f"the worker exited ({code}): {reason[-200:]}; restarting it, as a supervisor would")
        self.worker = common.start_worker(f"f2-worker-{len(self.deaths) + 2}", self.logs)
        death["restarted_at"] = time.time()
        self.deaths.append(death)
        return death

    def stop(self) -> None:
        self.worker.stop()


def one_outage(
    schedule_ids: list[int],
    slot: datetime.datetime,
    per_minute: int,
    outage_s: float,
    sink: Any,
    until: float,
    supervisor: Supervisor,
) -> dict[str, Any]:
    """Redis down from 15 s before `slot` for `outage_s`; wait until the slot's reminders are all sent."""
    wait_until(slot.timestamp() - 15)
    down_at, back_at = outage(outage_s)
    counts: dict[str, dict[str, int]] = {}
    deaths = []
    while time.time() < until:
        death = supervisor.check()
        if death is not None:
            deaths.append(death)
        counts = reminders_by_minute(schedule_ids, sink)
        minute = counts.get(slot.strftime("%H:%M"), {})
        if minute.get("delivered") == per_minute and minute.get("emails_received") == per_minute:
            break
        time.sleep(1)
    last = last_sent_at(schedule_ids, slot)
    minute = reminders_by_minute(schedule_ids, sink).get(slot.strftime("%H:%M"), {})
    return {
        "down_at": down_at,
        "back_at": back_at,
        "slot": slot.strftime("%H:%M"),
        "reminders": minute,
        "last": last,
        "worker_deaths": deaths,
    }


def run_all_outages(
    loggers_people: list[tuple[uuid.UUID, str]],
    runs: int,
    per_minute: int,
    outage_s: float,
    sink: Any,
    interval: float,
    supervisor: Supervisor,
) -> list[dict[str, Any]]:
    """`runs` outages two minutes apart, under one continuous logging load.

    Outage k runs from 15 s before its slot minute S_k (so the sweep beat sends at S_k is refused) for
    `outage_s`; the slot's reminders go out with the sweep at S_k + 1 min, before the next outage.
    """
    now = time.time()
    first_slot = (int(now + 15 + 30) // 60 + 1) * 60  # at least 30 s to create the patients and start logging
    slots = [datetime.datetime.fromtimestamp(first_slot + 120 * k, datetime.UTC) for k in range(runs)]
    people = common.create_patients(runs * per_minute, prefix=f"r{first_slot}-", slots=slots)
    common.progress(
        f"{per_minute} reminders due at each of {', '.join(f'{slot:%H:%M}' for slot in slots)} UTC; Redis down "
        f"{outage_s:.0f} s from 15 s before each"
    )
    stop = threading.Event()
    loggers = [Logger(patient_id, token, stop, interval) for patient_id, token in loggers_people]
    probe = HealthProbe(stop)
    for thread in [*loggers, probe]:
        thread.start()
    outages = []
    for number, slot in enumerate(slots, start=1):
        common.progress(f"run {number}/{runs}: reminders at {slot:%H:%M}")
        until = slot.timestamp() + 105 if number < runs else slot.timestamp() + 300
        outages.append(one_outage(people.schedule_ids, slot, per_minute, outage_s, sink, until, supervisor))
        common.progress(f"run {number}/{runs}: reminders due in the outage {outages[-1]['reminders']}")
    time.sleep(5)  # late duplicates and the last answers
    stop.set()
    for thread in [*loggers, probe]:
        thread.join(60)
    answers = [answer for logger in loggers for answer in logger.answers]
    created = set().union(*(logger.created for logger in loggers))
    stored = common.scalar(
        "SELECT count(*) FROM tracking_application WHERE id = ANY(%s::uuid[])", [[str(value) for value in created]]
    )
    statuses = Counter(status for _moment, status, _seconds in answers)
    samples = [sample for logger in loggers for sample in logger.samples][:5]
    results = []
    for number, item in enumerate(outages):
        down_at, back_at = item["down_at"], item["back_at"]
        previous_back = outages[number - 1]["back_at"] if number else 0.0
        health = Counter(
            (status, broker, retry_after)
            for moment, status, broker, retry_after in probe.answers
            if down_at <= moment < back_at
        )
        minute = item["reminders"]
        delivered = all(
            minute.get(key) == per_minute
            for key in ("occurrences", "delivered", "notifications", "email_sent", "emails_received")
        )
        deaths = item["worker_deaths"]
        run_ok = delivered and not deaths and minute.get("dupes", 0) == 0 and statuses == Counter({201: len(answers)})
        results.append(
            {
                "ok": run_ok and stored == len(created),
                "outage_s": round(back_at - down_at, 2),
                "before": phase_counts(answers, previous_back, down_at),
                "during": phase_counts(answers, down_at, back_at),
                "health_during_outage": {
                    f"{s} broker={b or '-'} retry_after={r}": n for (s, b, r), n in health.items()
                },
                "slot": item["slot"],
                "due_during_outage": minute,
                "outage_minute_sent_after_back_s": round(item["last"] - back_at, 2) if item["last"] else None,
                "duplicate_emails": minute.get("dupes", 0),
                "worker_deaths": [
                    {
                        "exit_code": death["exit_code"],
                        "reason": death["reason"],
                        "restarted_s_after_back": round(death["restarted_at"] - back_at, 1),
                    }
                    for death in deaths
                ],
                # The load as a whole, repeated on each run for the summary.
                "log_posts": len(answers),
                "log_statuses": {str(status): count for status, count in statuses.items()},
                "logs_stored": stored,
                "after": phase_counts(answers, back_at, back_at + 60),
                "samples": samples,
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = common.base_parser(__doc__, runs=3)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds Redis stays down (default 60)")
    parser.add_argument("--per-minute", type=int, default=300, help="reminders due in each outage (default 300)")
    parser.add_argument(
        "--log-interval", type=float, default=1.0, help="seconds between one client's logs (default 1; 8 clients)"
    )
    args = parser.parse_args(argv)
    common.say(f"Fault 2: Redis stopped for {args.outage:.0f} s while patients log and reminders come due")
    common.configure()
    common.reset_data()
    people = common.create_patients(LOGGERS, prefix="logger", slots=None)
    loggers_people = [
        (patient_id, common.access_token(user_id))
        for patient_id, user_id in zip(people.patient_ids, people.user_ids, strict=True)
    ]
    machine = common.machine_markdown()
    runs: list[dict[str, Any]] = []
    with common.log_folder(args.keep_logs) as logs, common.mail_sink() as sink:
        schedule = Path(tempfile.mkdtemp(prefix="tacro-faults-beat-")) / "celerybeat-schedule"
        web = common.start_web(logs, workers=2, threads=4)
        supervisor = Supervisor(logs)
        beat = common.start_beat("f2-beat", logs, schedule)
        try:
            runs = run_all_outages(
                loggers_people, args.runs, args.per_minute, args.outage, sink, args.log_interval, supervisor
            )
            for number, run in enumerate(runs, start=1):
                common.progress(
                    f"run {number}/{args.runs}: log POSTs before {run['before']}, during the outage {run['during']}, "
                    f"the minute after {run['after']}; health during the outage {run['health_during_outage']}; "
                    f"reminders due at {run['slot']} (in the outage) {run['due_during_outage']}, all sent "
                    f"{run['outage_minute_sent_after_back_s']} s after Redis was back; the worker died "
                    f"{len(run['worker_deaths'])} time(s) {run['worker_deaths']}"
                )
            common.progress(
                f"all log POSTs {runs[0]['log_posts']}: {runs[0]['log_statuses']}, stored {runs[0]['logs_stored']}"
            )
            if runs[0]["samples"]:
                common.say(f"    samples: {runs[0]['samples']}")
        finally:
            infra.redis_start()
            for child in (beat, supervisor, web):
                child.stop()
    ok = all(run["ok"] for run in runs)
    line = (
        f"{args.runs} runs, Redis down {common.median([r['outage_s'] for r in runs]):.0f} s: "
        "log POSTs during the outage "
        f"{[r['during']['201'] for r in runs]} x 201 of {[r['during']['attempts'] for r in runs]}, all POSTs "
        f"{runs[0]['log_statuses'].get('201', 0)} x 201 of {runs[0]['log_posts']}; reminders "
        f"due in the outage delivered {[r['due_during_outage'].get('delivered') for r in runs]} of "
        f"{args.per_minute} each, all sent "
        f"{common.median([r['outage_minute_sent_after_back_s'] or 0 for r in runs]):.1f} s "
        f"after Redis was back (median); duplicate emails {sum(r['duplicate_emails'] for r in runs)}; the worker "
        f"exited in {sum(bool(r['worker_deaths']) for r in runs)} of {len(runs)} outages (restarted by the benchmark)"
    )
    return common.finish("f2_redis_outage", {"ok": ok, "runs": runs, "machine": machine}, line, args.json)


if __name__ == "__main__":
    sys.exit(main())
