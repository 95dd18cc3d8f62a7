"""Fault 3: PostgreSQL restarted under load: 503 + Retry-After while it is down, never a 500, and
recovery without a manual step.

    .venv/bin/python bench/faults/f3_postgres_restart.py [--runs 3] [--down 10] [--threads 8]

gunicorn (2 gthread workers x 4 threads, as the Procfile runs it; persistent connections with health
checks) on our cluster. Eight client threads, one patient each, loop without pause: three POSTs of a
new application (a fresh UUID) for one GET of the patient's application list. Five seconds in, our
cluster is stopped (`pg_ctlcluster ... stop -m fast`: open transactions roll back, connections are cut),
kept down `--down` seconds, and started again; the load goes on until every thread has had a 2xx after
the database is back, then 3 s more. A POST answered 503 is sent again later with the same id (as a
client honouring Retry-After would; here after 0.2 s rather than the 5 s it asks for, to sample the
outage densely); a 200 for such a replay means the first attempt had been stored.

Counted: attempts, 2xx, 503 (each checked for a Retry-After header), 500 and any other status,
transport errors; time from the cluster accepting connections again (pg_isready) to the first 2xx and
to every thread's first 2xx. Checked: no 500, every 503 has Retry-After, and the database holds exactly
the applications acknowledged with 201/200 (nothing lost, nothing stored twice or unasked).
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.faults import common, infra


class LoadThread(threading.Thread):
    def __init__(self, patient_id: uuid.UUID, token: str, tally: common.Tally, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.patient_id = patient_id
        self.token = token
        self.tally = tally
        self.stop = stop
        self.acknowledged: set[uuid.UUID] = set()
        self.replayed_ok = 0  # a POST first answered 503, then 200 (duplicate): the first had been stored
        self.retry: list[uuid.UUID] = []
        self.ok_times: list[float] = []
        self.sent: set[uuid.UUID] = set()
        self.bodies: dict[uuid.UUID, dict[str, Any]] = {}  # a replay sends exactly what was sent first

    def post(self, client: Any, log_id: uuid.UUID, *, replay: bool) -> int:
        self.sent.add(log_id)
        body = self.bodies.setdefault(
            log_id, common.application_body(log_id, datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1))
        )
        response = client.post(f"/api/v1/patients/{self.patient_id}/applications/", json=body)
        self.tally.record(response.status_code, response.headers, response.text)
        if response.status_code in (200, 201):
            self.acknowledged.add(log_id)
            self.ok_times.append(time.monotonic())
            self.replayed_ok += replay and response.status_code == 200
        elif response.status_code == 503:
            self.retry.append(log_id)
        return int(response.status_code)

    def step(self, client: Any, number: int) -> None:
        if number % 4 == 3:
            response = client.get(f"/api/v1/patients/{self.patient_id}/applications/")
            self.tally.record(response.status_code, response.headers, response.text)
            if response.status_code == 200:
                self.ok_times.append(time.monotonic())
            return
        if self.retry:
            status = self.post(client, self.retry.pop(0), replay=True)
        else:
            status = self.post(client, uuid.uuid4(), replay=False)
        if status == 503:
            time.sleep(0.2)

    def run(self) -> None:
        import httpx

        with common.api_client(self.token, timeout=30) as client:
            number = 0
            while not self.stop.is_set():
                try:
                    self.step(client, number)
                except httpx.HTTPError as error:
                    self.tally.error(error)
                    time.sleep(0.2)
                number += 1
            # Drain: every id answered 503 is sent until it is acknowledged.
            deadline = time.monotonic() + 60
            while self.retry and time.monotonic() < deadline:
                try:
                    self.post(client, self.retry.pop(0), replay=True)
                except httpx.HTTPError as error:
                    self.tally.error(error)


def one_run(patients: list[tuple[uuid.UUID, str]], down: float) -> dict[str, Any]:
    tally = common.Tally()
    stop = threading.Event()
    threads = [LoadThread(patient_id, token, tally, stop) for patient_id, token in patients]
    for thread in threads:
        thread.start()
    time.sleep(5)
    before = tally.count(lambda status: 200 <= status < 300)
    common.progress(f"load running ({before} 2xx so far); stopping our cluster (fast)")
    stopped_at = time.monotonic()
    infra.pg_stop()
    common.progress(f"cluster down after {time.monotonic() - stopped_at:.1f} s; holding it down {down:.0f} s")
    time.sleep(max(0.0, down - (time.monotonic() - stopped_at)))
    infra.pg_start()
    ready_at = time.monotonic()
    common.progress(f"cluster accepting connections again after {ready_at - stopped_at:.1f} s down")
    deadline = ready_at + 120
    while time.monotonic() < deadline and not all(any(t > ready_at for t in thread.ok_times) for thread in threads):
        time.sleep(0.05)
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join(90)
    firsts = [min((t for t in thread.ok_times if t > ready_at), default=float("inf")) for thread in threads]
    acknowledged = set().union(*(thread.acknowledged for thread in threads))
    sent = set().union(*(thread.sent for thread in threads))
    patient_ids = [str(patient_id) for patient_id, _token in patients]
    stored = {
        row[0]
        for row in common.query(
            "SELECT id FROM tracking_application WHERE patient_id = ANY(%s::uuid[]) AND id = ANY(%s::uuid[])",
            [patient_ids, [str(value) for value in sent]],
        )
    }
    still_unacknowledged = sum(len(thread.retry) for thread in threads)
    lost = len(acknowledged - stored)
    unasked = len(stored - sent)
    statuses = dict(tally.statuses)
    server_errors = tally.count(lambda status: status >= 500 and status != 503)
    ok = (
        server_errors == 0
        and tally.no_retry_after == 0
        and not tally.transport_errors
        and lost == 0
        and still_unacknowledged == 0
        and stored == acknowledged
        and max(firsts) != float("inf")
    )
    return {
        "ok": ok,
        "attempts": tally.attempts,
        "statuses": statuses,
        "status_503": tally.statuses.get(503, 0),
        "status_5xx_not_503": server_errors,
        "other_non_2xx": tally.count(lambda status: status < 200 or 300 <= status < 500),
        "transport_errors": dict(tally.transport_errors),
        "503_without_retry_after": tally.no_retry_after,
        "seconds_down": round(ready_at - stopped_at, 2),
        "first_2xx_after_ready_s": round(min(firsts) - ready_at, 3),
        "all_threads_2xx_after_ready_s": round(max(firsts) - ready_at, 3),
        "posts_acknowledged": len(acknowledged),
        "rows_stored": len(stored),
        "lost": lost,
        "unasked_rows": unasked,
        "replays_answered_200": sum(thread.replayed_ok for thread in threads),
        "samples_5xx": tally.samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = common.base_parser(__doc__, runs=3)
    parser.add_argument("--down", type=float, default=10.0, help="seconds the cluster stays down (default 10)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    args = parser.parse_args(argv)
    common.say("Fault 3: PostgreSQL restarted under load")
    common.configure()
    common.reset_data()
    people = common.create_patients(args.threads, prefix="load", slots=None)
    patients = [
        (patient_id, common.access_token(user_id))
        for patient_id, user_id in zip(people.patient_ids, people.user_ids, strict=True)
    ]
    machine = common.machine_markdown()
    runs = []
    with common.log_folder(args.keep_logs) as logs:
        web = common.start_web(logs, workers=2, threads=4)
        try:
            for number in range(1, args.runs + 1):
                common.progress(f"run {number}/{args.runs}")
                run = one_run(patients, args.down)
                runs.append(run)
                common.progress(
                    f"run {number}/{args.runs}: {run['attempts']} requests {run['statuses']}, 503 without Retry-After "
                    f"{run['503_without_retry_after']}, transport errors {run['transport_errors']}; first 2xx "
                    f"{run['first_2xx_after_ready_s']:.2f} s after the database was back (all threads "
                    f"{run['all_threads_2xx_after_ready_s']:.2f} s); {run['posts_acknowledged']} logs acknowledged, "
                    f"{run['rows_stored']} stored, lost {run['lost']}"
                )
                if run["samples_5xx"]:
                    common.say(f"    5xx samples: {run['samples_5xx']}")
        finally:
            infra.pg_start()
            web.stop()
    ok = all(run["ok"] for run in runs)
    line = (
        f"{args.runs} runs, cluster down {common.median([r['seconds_down'] for r in runs]):.1f} s (median): "
        f"503s {[r['status_503'] for r in runs]} (all with Retry-After: "
        f"{all(r['503_without_retry_after'] == 0 for r in runs)}), 500s {[r['status_5xx_not_503'] for r in runs]}, "
        f"first 2xx after the database was back {common.median([r['first_2xx_after_ready_s'] for r in runs]):.2f} s "
        f"(median; all threads {common.median([r['all_threads_2xx_after_ready_s'] for r in runs]):.2f} s), "
        f"logs lost {sum(r['lost'] for r in runs)}, stored == acknowledged: {all(r['ok'] for r in runs)}"
    )
    return common.finish("f3_postgres_restart", {"ok": ok, "runs": runs, "machine": machine}, line, args.json)


if __name__ == "__main__":
    sys.exit(main())
