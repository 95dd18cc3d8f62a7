"""The load of issue #6's benchmark: applications posted by 1,000 patients, each with their own JWT.

Runs in bench/api_load/.venv-locust (locust and gevent stay out of the app's virtualenv); run.py starts
it, headless, once per timed run, and reads back the samples it writes. Never imports Django.

Each request is the next patient in turn (all 1,000, round robin across every simulated client):
POST /api/v1/patients/{patient}/applications/ with `Authorization: Bearer <their token>` and
`{id: a fresh UUID, applied_at: up to 30 minutes ago on the patient's wall clock with its offset,
body_areas: their regimen's, amount_ftu: on every third request}` (no regimen: the server finds the
active one). The floor (BENCH_API_TARGET=floor) gets the same body plus the regimen and the user's id,
which it does not look up, at bench/floor/patients/{patient}/applications/. Every request carries
`X-Forwarded-Proto: https`, as a TLS-terminating proxy would add. Anything but 201 is a failure.

Modes (BENCH_API_MODE):
- closed: every client sends its next request as soon as the previous answer is in (no wait).
- open: a fixed offered rate, wrk2-style. Client i of N sends at S + i/rate + k*N/rate (k = 0, 1, ...),
  so together they send one request every 1/rate seconds, whatever the answers take. A client whose
  previous request is still in flight at its next slot sends as soon as it is back, and that request
  counts as late; its latency is taken from the slot it should have gone at (as wrk2 corrects for
  coordinated omission), so a slow server cannot lower the rate it is measured at unnoticed.

Samples (slot, sent, answered, status) go to BENCH_API_SAMPLES as JSON when the test stops, with the
measuring window: BENCH_API_SETTLE seconds after the start, BENCH_API_WINDOW seconds long.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# Only bench/api_load/.venv-locust has these; mypy runs in the app's virtualenv.
import gevent  # type: ignore[import-untyped, import-not-found, unused-ignore]
from locust import FastHttpUser, events, task  # type: ignore[import-untyped, import-not-found, unused-ignore]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench.api_load import common  # standard library only; the project root must be on the path first

MODE = os.environ.get("BENCH_API_MODE", "closed")
TARGET = os.environ.get("BENCH_API_TARGET", "app")
RATE = float(os.environ.get("BENCH_API_RATE", "200"))
USERS = int(os.environ.get("BENCH_API_USERS", "50"))
SETTLE = float(os.environ.get("BENCH_API_SETTLE", "5"))
WINDOW = float(os.environ.get("BENCH_API_WINDOW", "60"))
SAMPLES_PATH = os.environ.get("BENCH_API_SAMPLES", "")
PATIENTS_PATH = os.environ["BENCH_API_PATIENTS_FILE"]
SPAWN_RATE = min(USERS, 100)  # run.py's --spawn-rate
# Open mode: seconds from the start to the first slot (every client is spawned by then).
FIRST_SLOT_DELAY = USERS / SPAWN_RATE + 0.5

with open(PATIENTS_PATH, encoding="utf-8") as patients_file:
    PATIENTS: list[dict[str, Any]] = json.load(patients_file)["patients"]
for _patient in PATIENTS:
    _patient["zone"] = ZoneInfo(_patient["timezone"])
    _patient["headers"] = {"Authorization": f"Bearer {_patient['token']}", "X-Forwarded-Proto": "https"}
    _patient["path"] = common.application_path(_patient, TARGET)

# gevent switches only at I/O, so next() on these is never interleaved.
ROTATION = itertools.cycle(PATIENTS)
CLIENT_NUMBERS = itertools.count()
SEQUENCE = itertools.count()
STATE: dict[str, float] = {}
SAMPLES: list[tuple[float, float, float, int]] = []


def body(patient: dict[str, Any]) -> dict[str, Any]:
    sequence = next(SEQUENCE)
    applied = datetime.datetime.now(patient["zone"]) - datetime.timedelta(seconds=random.randrange(1800))  # noqa: S311
    amount = random.choice(common.FTU_CHOICES) if sequence % 3 == 0 else None  # noqa: S311
    return common.application_body(patient, target=TARGET, applied=applied, amount_ftu=amount)


@events.test_start.add_listener
def on_test_start(**_kwargs: Any) -> None:
    STATE["start"] = time.time()


@events.test_stop.add_listener
def on_test_stop(**_kwargs: Any) -> None:
    if not SAMPLES_PATH:
        return
    start = STATE.get("start", 0.0)
    document = {
        "mode": MODE,
        "target": TARGET,
        "users": USERS,
        "rate": RATE if MODE == "open" else None,
        "start": start,
        "window_start": start + SETTLE,
        "window_end": start + SETTLE + WINDOW,
        "stopped": time.time(),
        "samples": SAMPLES,
    }
    with open(SAMPLES_PATH, "w", encoding="utf-8") as out:
        json.dump(document, out)


class Poster(FastHttpUser):
    # Longer than a run: an overloaded server answers late rather than the client giving up (open loop).
    network_timeout = 120.0
    connection_timeout = 120.0

    def on_start(self) -> None:
        number = next(CLIENT_NUMBERS)
        self.interval = USERS / RATE
        if MODE == "open":
            self.slot = STATE.setdefault("start", time.time()) + FIRST_SLOT_DELAY + number / RATE
            gevent.sleep(max(0.0, self.slot - time.time()))

    def wait_time(self) -> float:
        return 0.0 if MODE == "closed" else max(0.0, self.slot - time.time())

    @task
    def post_application(self) -> None:
        patient = next(ROTATION)
        payload = body(patient)
        sent = time.time()
        slot = self.slot if MODE == "open" else sent
        with self.client.post(
            patient["path"], json=payload, headers=patient["headers"], name=TARGET, catch_response=True
        ) as response:
            status = response.status_code or 0
            if status == 201:
                response.success()
            else:
                response.failure(f"{status}: {(response.text or '')[:200]}")
        SAMPLES.append((slot, sent, time.time(), status))
        if MODE == "open":
            self.slot += self.interval
