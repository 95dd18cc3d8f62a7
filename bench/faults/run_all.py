"""Issue #6 item 2: run every fault script and print a summary (make bench-faults).

    .venv/bin/python bench/faults/run_all.py [--only f3 --only f4] [--quick]

Each fault runs as a process of its own (bench/faults/fN_*.py --json ...), in this order, quickest
first (about 28 minutes in all):

- f4 concurrent sync, 5 runs (~1 min)
- f3 PostgreSQL restart under load, 3 runs (~1.5 min)
- f2 Redis down 60 s, 3 runs (~7 min: each waits for a minute boundary and the next sweep)
- f1 kill -9 a worker twice while delivering 10,000 reminders, 1 run (~7 min: a send in flight at the
  kill is leased for SEND_LEASE, 5 minutes, before requeue_stale may hand it out again)
- f5 two beats and two workers for 10 wall-clock minutes, 1 run (~12.5 min)

`--quick` is a smoke test (f2 1 run, f1 2,000 reminders, f5 3 minutes). Our Redis (6390) and
PostgreSQL cluster (5440) are created if missing and left running at the end; stop them with
`bench/faults/infra.py --stop`. Exit status 1 when any fault lost or doubled something.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
from bench.shared import say  # noqa: E402 - the project root must be on the path first

FAULTS: dict[str, tuple[str, list[str], list[str]]] = {
    # key: (script, default arguments, --quick arguments)
    "f4": ("f4_concurrent_sync.py", ["--runs", "5"], ["--runs", "2"]),
    "f3": ("f3_postgres_restart.py", ["--runs", "3"], ["--runs", "1"]),
    "f2": ("f2_redis_outage.py", ["--runs", "3"], ["--runs", "1"]),
    "f1": ("f1_worker_kill.py", ["--runs", "1"], ["--runs", "1", "--reminders", "2000"]),
    "f5": ("f5_two_beats.py", ["--minutes", "10"], ["--minutes", "3", "--per-minute", "200"]),
}


def run_fault(key: str, quick: bool, folder: Path, keep_logs: bool) -> tuple[dict[str, Any] | None, float]:
    script, arguments, quick_arguments = FAULTS[key]
    output = folder / f"{key}.json"
    command = [sys.executable, str(HERE / script), *(quick_arguments if quick else arguments), "--json", str(output)]
    if keep_logs:
        command.append("--keep-logs")
    say(f"\n=== {key}: {' '.join(command[1:])}")
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603 - our own scripts
    elapsed = time.perf_counter() - start
    if not output.exists():
        say(f"=== {key}: no result (exit {completed.returncode})")
        return None, elapsed
    return json.loads(output.read_text()), elapsed


def summary_line(key: str, result: dict[str, Any] | None) -> str:
    """One row: what was lost or doubled, and the headline figure."""
    if result is None:
        return f"| {key} | - | crashed | - | - |"
    runs = result["runs"]
    state = "OK" if result["ok"] else "**FAILED**"
    if key == "f4":
        lost = "rows per run: " + ", ".join(str(run["rows_total"]) for run in runs) + " (1,000 expected)"
        headline = f"slowest of 10 answers, median {_median([run['slowest_s'] for run in runs]):.2f} s"
    elif key == "f3":
        lost = f"logs lost {sum(run['lost'] for run in runs)}; 500s {sum(run['status_5xx_not_503'] for run in runs)}"
        headline = (
            f"503s {[run['status_503'] for run in runs]} (without Retry-After "
            f"{sum(run['503_without_retry_after'] for run in runs)}); first 2xx after the database was back, median "
            f"{_median([run['first_2xx_after_ready_s'] for run in runs]):.2f} s"
        )
    elif key == "f2":
        lost = (
            f"log POSTs not 201: {runs[0]['log_posts'] - runs[0]['log_statuses'].get('201', 0)}; reminders "
            f"due in the outage delivered {[run['due_during_outage'].get('delivered') for run in runs]}; duplicate "
            f"emails {sum(run['duplicate_emails'] for run in runs)}; worker exits "
            f"{sum(len(run.get('worker_deaths', [])) for run in runs)}"
        )
        headline = (
            f"log latency during the outage, median {_median([run['during']['median_s'] or 0 for run in runs]):.2f} s; "
            f"outage minute sent {_median([run['outage_minute_sent_after_back_s'] or 0 for run in runs]):.1f} s "
            "after Redis was back"
        )
    elif key == "f1":
        lost = (
            f"delivered {[run['final']['occurrences_delivered'] for run in runs]}, duplicate emails "
            f"{[run['duplicate_emails'] for run in runs]}"
        )
        headline = (
            f"every notification {[run['kills'][0]['recovered_s_after_kill'] for run in runs]} s after kill 1, "
            f"every email sent {[run['kills'][-1]['recovered_s_after_kill'] for run in runs]} s after kill 2"
        )
    else:
        run = runs[0]
        lost = (
            f"occurrence copies {run['occurrence_copies']}, notification copies {run['notification_copies']}, "
            f"delivery copies {run['delivery_copies']}, duplicate emails {run['duplicate_emails']}"
        )
        headline = (
            f"{run['occurrences']} occurrences, {run['emails_distinct']} emails; beats sent {run['beat_sweeps_sent']}"
        )
    return f"| {key} | {len(runs)} | {state} | {lost} | {headline} |"


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=list(FAULTS), help="run only these faults (repeatable)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: fewer runs, smaller and shorter")
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers', beats' and gunicorn's logs")
    parser.add_argument("--results", type=Path, help="folder for each fault's JSON result (default: a temp folder)")
    args = parser.parse_args(argv)
    folder = args.results or Path(tempfile.mkdtemp(prefix="tacro-faults-results-"))
    folder.mkdir(parents=True, exist_ok=True)
    keys = args.only or list(FAULTS)
    start = time.perf_counter()
    results: dict[str, dict[str, Any] | None] = {}
    took: dict[str, float] = {}
    for key in keys:
        results[key], took[key] = run_fault(key, args.quick, folder, args.keep_logs)
        say(f"=== {key}: {took[key] / 60:.1f} min")
    say(f"\n## Fault benchmarks ({(time.perf_counter() - start) / 60:.1f} min in all; JSON in {folder})\n")
    machine = next((result["machine"] for result in results.values() if result), "")
    code = next((result["code"] for result in results.values() if result), "")
    say(f"- Code: {code}\n{machine}\n")
    say("| Fault | Runs | Result | Lost or doubled | Figure |")
    say("|---|---:|---|---|---|")
    for key in keys:
        say(summary_line(key, results[key]))
    failed = [key for key, result in results.items() if result is None or not result["ok"]]
    if failed:
        say(f"\nFAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
