"""Fault 4: the same 1,000-item offline sync sent 10 times at once: exactly 1,000 rows.

    .venv/bin/python bench/faults/f4_concurrent_sync.py [--runs 5] [--copies 10]

gunicorn (4 gthread workers x 3 threads, so all 10 requests are in the server together) on our
PostgreSQL cluster; one patient; a body of 400 applications (no regimen: the server finds the active
one), 400 symptoms (every other one linked to an application of the same batch), 100 POEM and 100
skin checks, with fresh UUIDs each run. Ten threads wait on a barrier and POST the identical body to
/api/v1/patients/{p}/sync/. Checked per run: every answer is a 200; each id is "created" in exactly
one answer and "duplicate" in the other nine (never "conflict" or "invalid"); the database holds
exactly 1,000 rows with those ids (400/400/100/100).
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.faults import common

KINDS = {"applications": 400, "symptoms": 400, "poem": 100, "skin_checks": 100}
TABLES = {
    "applications": "tracking_application",
    "symptoms": "tracking_symptom",
    "poem": "tracking_poementry",
    "skin_checks": "tracking_skincheck",
}


def sync_body(now: datetime.datetime) -> dict[str, list[dict[str, Any]]]:
    """1,000 items spread over the last 40 hours (the regimen started 3 days ago)."""

    def at(index: int, count: int) -> str:
        return (now - datetime.timedelta(hours=40) * (index + 1) / (count + 1)).isoformat()

    applications = [
        {"id": str(uuid.uuid4()), "applied_at": at(i, 400), "body_areas": ["arm_left"], "amount_ftu": "1.5"}
        for i in range(KINDS["applications"])
    ]
    symptoms = [
        {
            "id": str(uuid.uuid4()),
            "recorded_at": at(i, 400),
            "burning": i % 6,
            "itch": i % 10,
            "flare_severity": i % 5,
            **({"application": applications[i]["id"]} if i % 2 == 0 else {}),
        }
        for i in range(KINDS["symptoms"])
    ]
    poem = [
        {"id": str(uuid.uuid4()), "recorded_at": at(i, 100), "answers": [i % 5, 1, 2, 0, 1, 3, 2]}
        for i in range(KINDS["poem"])
    ]
    skin_checks = [
        {"id": str(uuid.uuid4()), "performed_at": at(i, 100), "performed_by": "self", "concerning": False}
        for i in range(KINDS["skin_checks"])
    ]
    return {"applications": applications, "symptoms": symptoms, "poem": poem, "skin_checks": skin_checks}


def one_run(patient_id: uuid.UUID, token: str, copies: int) -> dict[str, Any]:
    body = sync_body(datetime.datetime.now(datetime.UTC))
    barrier = threading.Barrier(copies)
    answers: list[tuple[int, Any, float]] = []
    lock = threading.Lock()

    def send() -> None:
        with common.api_client(token, timeout=120) as client:
            client.get("/api/v1/me/")  # connection open and JWT path warm before the barrier
            barrier.wait()
            start = time.perf_counter()
            response = client.post(f"/api/v1/patients/{patient_id}/sync/", json=body)
            elapsed = time.perf_counter() - start
            payload = (
                response.json() if response.headers.get("content-type", "").startswith("application/json") else None
            )
            with lock:
                answers.append((response.status_code, payload, elapsed))

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = Counter(status for status, _payload, _elapsed in answers)
    per_id: dict[str, Counter[str]] = {}
    for status, payload, _elapsed in answers:
        if status != 200 or not isinstance(payload, dict):
            continue
        for key in KINDS:
            for item in payload.get(key, []):
                per_id.setdefault(item["id"], Counter())[item["status"]] += 1
    outcome_totals: Counter[str] = Counter()
    for counts in per_id.values():
        outcome_totals.update(counts)
    ids_sent = {key: [item["id"] for item in items] for key, items in body.items()}
    rows = {
        key: common.scalar(f"SELECT count(*) FROM {TABLES[key]} WHERE id = ANY(%s::uuid[])", [ids])  # noqa: S608
        for key, ids in ids_sent.items()
    }
    created_once = sum(1 for counts in per_id.values() if counts["created"] == 1)
    expected_items = sum(KINDS.values())
    ok = (
        statuses == Counter({200: copies})
        and rows == KINDS
        and created_once == expected_items
        and len(per_id) == expected_items
        and outcome_totals["duplicate"] == expected_items * (copies - 1)
        and not (outcome_totals["conflict"] or outcome_totals["invalid"])
    )
    return {
        "ok": ok,
        "statuses": dict(statuses),
        "rows": rows,
        "rows_total": sum(rows.values()),
        "ids_created_exactly_once": created_once,
        "outcomes": dict(outcome_totals),
        "slowest_s": max(elapsed for _status, _payload, elapsed in answers),
        "fastest_s": min(elapsed for _status, _payload, elapsed in answers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = common.base_parser(__doc__, runs=5)
    parser.add_argument("--copies", type=int, default=10, help="concurrent copies of the sync (default 10)")
    args = parser.parse_args(argv)
    common.say("Fault 4: the same 1,000-item sync sent 10 times at once")
    common.configure()
    common.reset_data()
    people = common.create_patients(1, prefix="sync", slots=None)
    token = common.access_token(people.user_ids[0])
    runs = []
    with common.log_folder(args.keep_logs) as logs:
        web = common.start_web(logs, workers=4, threads=3)
        try:
            for number in range(1, args.runs + 1):
                run = one_run(people.patient_ids[0], token, args.copies)
                runs.append(run)
                common.progress(
                    f"run {number}/{args.runs}: answers {run['statuses']}, rows {run['rows_total']} {run['rows']}, "
                    f"outcomes {run['outcomes']}, slowest {run['slowest_s']:.2f} s"
                )
        finally:
            web.stop()
    machine = common.machine_markdown()
    ok = all(run["ok"] for run in runs)
    rows = [run["rows_total"] for run in runs]
    refused = sum(run["outcomes"].get("conflict", 0) + run["outcomes"].get("invalid", 0) for run in runs)
    line = (
        f"{args.runs} runs x {args.copies} concurrent copies of 1,000 items: rows {rows} (expected 1000 each), "
        f"each id created exactly once in {[run['ids_created_exactly_once'] for run in runs]}, "
        f"conflict/invalid {refused}, "
        f"non-200 {sum(sum(n for s, n in run['statuses'].items() if s != 200) for run in runs)}; "
        f"median of the slowest answer {common.median([run['slowest_s'] for run in runs]):.2f} s"
    )
    return common.finish("f4_concurrent_sync", {"ok": ok, "runs": runs, "machine": machine}, line, args.json)


if __name__ == "__main__":
    sys.exit(main())
