"""Reproduce finding 1 of RELIABILITY.md: a Celery worker exits when Redis stops while it runs a task.

    .venv/bin/python bench/faults/repro_worker_exit.py [--attempts 8]

Each attempt: a Redis of its own on 127.0.0.1:6391 (no persistence), one worker with the project's
settings (`--pool prefork --concurrency 2`, acks_late), and a feeder sending `patient_logs_changed` for a
real patient 20 times a second (each takes about 0.1 s, so a message is usually unacknowledged). After
6 s the Redis is shut down; 6 s later the attempt records whether the worker is still running, and if
it is, starts Redis again and times how long until the worker runs 5 new tasks. With
kombu 5.7.0 and redis-py 8.1.0, every attempt whose worker logged "Restoring N unacknowledged
message(s)" at the connection loss also logged `Unrecoverable error: AttributeError("'NoneType' object
has no attribute 'hostname'")` and exited with status 1. Prints one line per attempt and the worker logs'
folder. Uses the fault benchmarks' database (bench/faults/infra.py) and makes one patient there.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.faults import common, infra

PORT = 6391
BROKER_URL = f"redis://127.0.0.1:{PORT}/1"


def redis(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["redis-cli", "-p", str(PORT), *arguments], capture_output=True, text=True, check=False)  # noqa: S603, S607


def redis_start(folder: Path) -> None:
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "yes", "--pidfile", str(folder / "redis.pid"), "--dir", str(folder),
        ],
        check=True,
    )  # fmt: skip
    infra.wait_for(lambda: redis("ping").stdout.strip() == "PONG", 10, f"Redis on {PORT}")


def feed(task: Any, patient_id: str, stop: threading.Event) -> None:
    """Send the task 20 times a second until `stop`; a refused send (the broker going away) is skipped."""
    while not stop.wait(0.05):
        with contextlib.suppress(Exception):
            task.apply_async((patient_id,), retry=False)


def main(argv: list[str] | None = None) -> int:
    parser = common.base_parser(__doc__, runs=1)
    parser.add_argument("--attempts", type=int, default=8, help="attempts (default 8)")
    parser.add_argument(
        "--no-remote-control",
        action="store_true",
        help="workers with CELERY_WORKER_ENABLE_REMOTE_CONTROL=False (bench/faults/settings_no_remote_control.py)",
    )
    args = parser.parse_args(argv)
    common.configure()
    worker_env = {"DJANGO_SETTINGS_MODULE": "bench.faults.settings_no_remote_control"} if args.no_remote_control else {}
    os.environ["CELERY_BROKER_URL"] = BROKER_URL  # the workers we start; this process's app is re-pointed below
    from tacro_topical.celery import app
    from tracking.tasks import patient_logs_changed

    app.conf.broker_url = BROKER_URL
    patient_id = str(common.create_patients(1, prefix=f"repro{int(time.time())}-", slots=None).patient_ids[0])
    folder = Path(tempfile.mkdtemp(prefix="tacro-faults-repro-"))
    outcomes = []
    for attempt in range(1, args.attempts + 1):
        redis_start(folder)
        stop = threading.Event()

        feeder = threading.Thread(target=feed, args=(patient_logs_changed, patient_id, stop), daemon=True)
        feeder.start()
        worker = common.start_process(
            f"worker-{attempt}",
            [common.CELERY, "-A", "tacro_topical", "worker", "--pool", "prefork", "--concurrency", "2",
             "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            folder,
            worker_env,
        )  # fmt: skip
        worker.wait_for(" ready.", timeout=60)
        time.sleep(6)
        redis("shutdown", "nosave")
        stop.set()
        time.sleep(6)
        code = worker.process.poll()
        restored = any("unacknowledged message" in line for _stamp, line in worker.lines)
        unrecoverable = next((line for _stamp, line in worker.lines if "Unrecoverable error" in line), "")
        outcomes.append(code)
        common.say(
            f"attempt {attempt}: worker {'exited with ' + str(code) if code is not None else 'still running'}; "
            f"restoring unacknowledged messages at the loss: {restored}; {unrecoverable[-120:]}"
        )
        recovered = None
        if code is None:
            # Redis back: does the surviving worker reconnect and run tasks again?
            redis_start(folder)
            done_before = sum("succeeded" in line for _stamp, line in worker.lines)
            started = time.monotonic()
            for _ in range(5):
                patient_logs_changed.apply_async((patient_id,), retry=False)
            while time.monotonic() - started < 60 and recovered is None:
                if sum("succeeded" in line for _stamp, line in worker.lines) >= done_before + 5:
                    recovered = time.monotonic() - started
                time.sleep(0.2)
            common.say(
                f"  Redis back: the worker ran new tasks again "
                f"{f'after {recovered:.1f} s' if recovered is not None else 'NOT within 60 s'}"
            )
            common.kill_group(worker)
            redis("shutdown", "nosave")
    exited = sum(code is not None for code in outcomes)
    common.say(f"RESULT repro_worker_exit: the worker exited in {exited} of {len(outcomes)} attempts; logs in {folder}")
    return 1 if exited else 0


if __name__ == "__main__":
    sys.exit(main())
