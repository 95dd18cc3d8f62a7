"""CPU per POST in one process, without the load generator: the figure the profile work is judged by.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tacro_bench_api .venv/bin/python bench/api_load/cpu_per_request.py
    ... cpu_per_request.py --target floor      # the bare one-INSERT view, for the ratio
    ... cpu_per_request.py --profile 25        # and cProfile's 25 costliest functions (cumulative)

Run setup_data.py first (it writes the patients file). Each request is what the locustfile sends (the
next patient in turn, with their JWT, a fresh id, `X-Forwarded-Proto: https`), handed to the project's
WSGI application as gunicorn hands it: same settings (bench/api_load/settings.py, production), same
middleware, PostgreSQL and Redis over TCP. No server, no client: what is left is the application's own
cost. Prints the median over --rounds rounds of --requests requests each: wall and CPU milliseconds per
request, and SQL statements per request. Every answer must be a 201 and every 201 a stored row.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench import shared
from bench.api_load import common  # the project root must be on the path first

Request = tuple[str, dict[str, Any], bytes]  # path, patient, body


def request_bodies(patients: list[dict[str, Any]], count: int, target: str) -> list[Request]:
    """The locustfile's requests (common.application_body), built ahead so building them is not measured."""
    requests = []
    for number in range(count):
        patient = patients[number % len(patients)]
        applied = datetime.datetime.now(ZoneInfo(patient["timezone"])) - datetime.timedelta(seconds=number % 1800)
        amount = common.FTU_CHOICES[number % len(common.FTU_CHOICES)] if number % 3 == 0 else None
        item = common.application_body(patient, target=target, applied=applied, amount_ftu=amount)
        requests.append((common.application_path(patient, target), patient, json.dumps(item).encode()))
    return requests


def environ_for(path: str, patient: dict[str, Any], body: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {patient['token']}",
        "HTTP_X_FORWARDED_PROTO": common.PROXY_HEADER[1],
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def run_round(application: Callable[..., Any], requests: list[Request]) -> tuple[float, float, int]:
    """Send the requests one after another; (wall seconds, CPU seconds, SQL statements)."""
    from django.db import connection

    statements = 0

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        statuses.append(status)

    environs = [environ_for(path, patient, body) for path, patient, body in requests]
    with connection.execute_wrapper(count):
        wall, cpu = time.perf_counter(), time.process_time()
        for environ in environs:
            response = application(environ, start_response)
            b"".join(response)
            response.close()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    failed = [status for status in statuses if not status.startswith("201")]
    if failed:
        raise SystemExit(f"{len(failed)} answers were not 201, first: {failed[0]}")
    return wall, cpu, statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("app", "floor"), default="app")
    parser.add_argument("--requests", type=int, default=500, help="requests per round (default 500)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds, after one warm-up (default 5)")
    parser.add_argument("--profile", type=int, metavar="N", default=0, help="print cProfile's N costliest functions")
    args = parser.parse_args()

    common.configure_environment()
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    from bench.api_load.run import reset
    from tracking.models import Application

    patients = json.loads(common.patients_file().read_text(encoding="utf-8"))["patients"]
    application = get_wsgi_application()
    reset()  # run.py's: no applications, throttle counts or queued tasks

    run_round(application, request_bodies(patients, 50, args.target))  # warm-up: connections, caches
    rounds = []
    for _ in range(args.rounds):
        rounds.append(run_round(application, request_bodies(patients, args.requests, args.target)))
    stored = Application.objects.count()
    expected = 50 + args.rounds * args.requests
    if stored != expected:
        raise SystemExit(f"{stored} rows stored for {expected} answers of 201")

    per_request = [
        (wall / args.requests * 1000, cpu / args.requests * 1000, sql / args.requests) for wall, cpu, sql in rounds
    ]
    print(f"target {args.target}: {args.rounds} rounds of {args.requests} POSTs, each answered 201 and stored")
    print(
        f"  wall ms/request, median: {statistics.median(r[0] for r in per_request):.2f} "
        f"(rounds: {', '.join(f'{r[0]:.2f}' for r in per_request)})"
    )
    print(
        f"  CPU ms/request, median:  {statistics.median(r[1] for r in per_request):.2f} "
        f"(rounds: {', '.join(f'{r[1]:.2f}' for r in per_request)})"
    )
    print(f"  SQL statements/request:  {statistics.median(r[2] for r in per_request):.1f}")

    if args.profile:
        profiler = cProfile.Profile()
        requests = request_bodies(patients, args.requests, args.target)
        profiler.enable()
        run_round(application, requests)
        profiler.disable()
        print(shared.profile_text(profiler, limit=args.profile, orders=("cumulative", "tottime")))


if __name__ == "__main__":
    main()
