"""Issue #5's admin benchmarks: the dermatologist's patient list and review page on 10,000 patients.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tacro_bench_admin .venv/bin/python bench/admin/run.py

Loads the data set first if it is not there (setup_data.py: 10,000 patients, 2,000,000 logs, every
patient's list summary), runs collectstatic into STATIC_ROOT (production serves the admin's assets by
their manifest names), then, with production settings (`DJANGO_ENV=production`, DEBUG off, HTTPS
hardening on, so every request is `secure=True`), times admin pages through `django.test.Client`,
signed in with `force_login` as the dermatologist whose care team holds 2,000 patients (and, for one
page, as clinic staff, who see all 10,000). Each time runs from `client.get()` until the whole body
is read (a streaming CSV included), in this process: middleware, session and user, the admin, the
queries, template rendering, and the audit rows each page writes (AccessRecord, one bulk insert).

Per page: --warmup untimed requests, one counted request (`CaptureQueriesContext` for the query count,
and an execute wrapper that times each statement's round trip: "SQL time"), then --runs timed
requests without either.
Median, p90, min and max. The changelist at 20, 100 and 200 rows sets `list_per_page` on the
registered `PatientReviewAdmin` instance in this process (the admin has no page-size parameter),
and its query count must be the same at all three. Each answer is checked (rows on the page, the
patient's name, the CSV's line count), so a broken page is never fast.

Prints the machine, the data set and a markdown table; exits 1 when a page misses the 300 ms goal or
the changelist's query count changes with the page size. `--profile KEY` prints a cProfile of one
request instead; `--show-queries` prints each counted request's SQL with its time.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench import shared
from bench.admin import common  # the project root must be on the path first
from bench.shared import ms, say

GOAL_SECONDS = 0.300
ROW_LINK = re.compile(r'href="/admin/accounts/patient/[0-9a-f-]{36}/review/"')
KEYS = (
    "list",
    "list-20",
    "list-200",
    "list-lt50",
    "list-alerts",
    "list-search",
    "staff-list",
    "review-heavy",
    "review-typical",
    "review-light",
    "review-heavy-84d",
    "export",
    "report",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="timed requests per page (default 15; at least 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests before the counted one (default 2)")
    parser.add_argument("--only", choices=KEYS, action="append", help="run only these pages (repeatable)")
    parser.add_argument("--profile", choices=KEYS, help="print a cProfile of one request, no table")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of each counted request")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs: the median of at least 5 runs (the figures in BENCHMARKS.md use 15)")
    return args


# --- One page ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    key: str
    name: str
    user: str  # "dermatologist" or "staff"
    url: str
    check: Callable[[Any, bytes], str]  # raises when the answer is wrong; what the page held, e.g. "100 rows"
    list_per_page: int | None = None


@dataclass
class Figure:
    page: Page
    seconds: list[float]
    queries: list[dict[str, str]] = field(repr=False)
    holds: str

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.seconds, n=10, method="inclusive")[-1]

    @property
    def sql_seconds(self) -> float:
        return sum(float(query["time"]) for query in self.queries)

    @property
    def query_count(self) -> int:
        return len(self.queries)

    def queries_text(self) -> str:
        from bench.measure import TRANSACTION_STATEMENTS

        control = sum(1 for query in self.queries if query["sql"].split(" ", 1)[0].upper() in TRANSACTION_STATEMENTS)
        count = self.query_count
        return f"{count} ({count - control} SQL + {control} BEGIN/COMMIT)" if control else str(count)

    @property
    def meets(self) -> bool:
        return self.median < GOAL_SECONDS


def fetch(client: Any, url: str) -> tuple[Any, bytes]:
    """One request, and its whole body: a streaming response is read to the end (its queries run then)."""
    response = client.get(url, secure=True)
    return response, response.getvalue()


@contextmanager
def page_size(size: int | None) -> Iterator[None]:
    """The registered PatientReviewAdmin with `list_per_page` = size, for this process, then as it was."""
    if size is None:
        yield
        return
    from django.contrib import admin

    from accounts.models import Patient

    model_admin = admin.site._registry[Patient]
    model_admin.list_per_page = size  # type: ignore[misc]  # an instance attribute over the class's 100
    try:
        yield
    finally:
        del model_admin.list_per_page


class QueryTimer:
    """An execute wrapper: the seconds of each statement, to the microsecond (the query log keeps milliseconds)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds.append(time.perf_counter() - start)


def measure(page: Page, client: Any, *, runs: int, warmup: int) -> Figure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.measure import TRANSACTION_STATEMENTS

    with page_size(page.list_per_page):
        for _ in range(warmup):
            page.check(*fetch(client, page.url))
        timer = QueryTimer()
        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timer):
            response, body = fetch(client, page.url)
        queries = [dict(query) for query in captured.captured_queries]
        if len(timer.seconds) == len(queries):  # BEGIN/COMMIT, which Django also logs, pass no wrapper
            for query, elapsed in zip(queries, timer.seconds, strict=True):
                query["time"] = f"{elapsed:.6f}"
        else:
            statements = iter(timer.seconds)
            for query in queries:
                if query["sql"].split(" ", 1)[0].upper() not in TRANSACTION_STATEMENTS:
                    query["time"] = f"{next(statements, 0.0):.6f}"
        holds = page.check(response, body)
        seconds = []
        for _ in range(runs):
            gc.collect()
            start = time.perf_counter()
            response, body = fetch(client, page.url)
            seconds.append(time.perf_counter() - start)
            page.check(response, body)
    return Figure(page=page, seconds=seconds, queries=queries, holds=holds)


def profile(page: Page, client: Any, *, warmup: int, limit: int = 40) -> str:
    import cProfile

    with page_size(page.list_per_page):
        for _ in range(warmup):
            page.check(*fetch(client, page.url))
        profiler = cProfile.Profile()
        profiler.enable()
        response, body = fetch(client, page.url)
        profiler.disable()
        page.check(response, body)
    return shared.profile_text(profiler, title=page.name, limit=limit)


# --- Checks --------------------------------------------------------------------------------------


def ok(response: Any, content_type: str = "text/html") -> None:
    if response.status_code != 200 or not response["Content-Type"].startswith(content_type):
        raise SystemExit(
            f"{response.status_code} {response['Content-Type']} for {response.wsgi_request.get_full_path()}"
        )


def rows_check(expected: int) -> Callable[[Any, bytes], str]:
    def check(response: Any, body: bytes) -> str:
        ok(response)
        rows = len(ROW_LINK.findall(body.decode()))
        if rows != expected:
            raise SystemExit(f"{response.wsgi_request.get_full_path()}: {rows} rows, expected {expected}")
        return f"{rows} rows"

    return check


def review_check(name: str, marker: str) -> Callable[[Any, bytes], str]:
    def check(response: Any, body: bytes) -> str:
        ok(response)
        text = body.decode()
        if name not in text or marker not in text:
            raise SystemExit(f"{response.wsgi_request.get_full_path()}: no {name!r} or {marker!r} on the page")
        return f"{len(body) // 1024} KiB"

    return check


def csv_check(expected_lines: int) -> Callable[[Any, bytes], str]:
    def check(response: Any, body: bytes) -> str:
        ok(response, "text/csv")
        lines = body.count(b"\n")
        if lines != expected_lines:
            raise SystemExit(f"the export has {lines} lines, expected {expected_lines}")
        return f"{lines - 1} logs"

    return check


# --- The pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixtures:
    meta: dict[str, str]
    clients: dict[str, Any]
    users: dict[str, Any]
    review: dict[str, Any]  # role -> Patient
    logs_12w: dict[str, int]  # role -> logs in the review's 12 weeks


def fixtures() -> Fixtures:
    import psycopg
    from django.db.models import Q

    from accounts.models import User
    from accounts.selectors import patients_visible_to
    from bench.admin.setup_data import read_meta
    from bench.environment import conninfo
    from tracking.models import Application, PoemEntry, SkinCheck, Symptom

    with psycopg.connect(conninfo()) as connection:
        meta = read_meta(connection)
    users = {
        "dermatologist": User.objects.get(email=common.DERMATOLOGIST_EMAIL),
        "staff": User.objects.get(email=common.STAFF_EMAIL),
    }
    clients = {role: signed_in_with_second_factor(user) for role, user in users.items()}
    visible = patients_visible_to(users["dermatologist"])
    review = {role: visible.get(pk=meta[f"patient_{role}"]) for role in ("heavy", "typical", "light")}
    logs_12w = {}
    for role, patient in review.items():
        since = datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(weeks=12)
        logs_12w[role] = sum(
            model.objects.filter(Q(**{f"{model.EVENT_TIME}__gte": since}), patient=patient).count()
            for model in (Application, Symptom, PoemEntry, SkinCheck)
        )
    return Fixtures(meta=meta, clients=clients, users=users, review=review, logs_12w=logs_12w)


def signed_in_with_second_factor(user: Any) -> Any:
    """A client signed in as `user` and past the second factor, as a clinician is in production.

    Production settings require the second factor for the admin (issue #22); `force_login` alone
    leaves the session unverified and every page redirects to the code form. A confirmed TOTP device
    and django-otp's session key make the session verified, so each page is timed with the
    second-factor middleware doing the work it does for a real clinician.
    """
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def pages(data: Fixtures) -> list[Page]:
    from django.db.models import Q
    from django.urls import reverse

    from accounts.selectors import patients_visible_to
    from tracking.review.exports import export_rows
    from tracking.review.selectors import REVIEW_WEEKS, TIMELINE_DAYS_MAX

    changelist = reverse("admin:accounts_patient_changelist")
    visible = patients_visible_to(data.users["dermatologist"])
    team = visible.count()
    term = data.meta["search_term"]
    searched = (
        visible.filter(
            Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(user__email__icontains=term)
            | Q(caregivers__email__icontains=term)
        )
        .distinct()
        .count()
    )
    below_50 = visible.filter(summary__adherence_pct__lt=50).count()
    with_alerts = visible.filter(summary__open_alerts__gt=0).count()
    staff_visible = patients_visible_to(data.users["staff"]).count()
    heavy = data.review["heavy"]
    today = heavy.local_today()
    since = today - datetime.timedelta(days=REVIEW_WEEKS * 7 - 1)
    export_lines = 1 + sum(1 for _ in export_rows(heavy, first=since, last=today))
    result = [
        Page("list", f"Changelist, default order, 100 of {team:,}", "dermatologist", changelist, rows_check(100)),
        Page("list-20", "Changelist, list_per_page=20", "dermatologist", changelist, rows_check(20), 20),
        Page("list-200", "Changelist, list_per_page=200", "dermatologist", changelist, rows_check(200), 200),
        Page(
            "list-lt50",
            f"Changelist, ?adherence=lt50 ({below_50:,} match)",
            "dermatologist",
            f"{changelist}?adherence=lt50",
            rows_check(min(100, below_50)),
        ),
        Page(
            "list-alerts",
            f"Changelist, ?open_alerts=yes ({with_alerts:,} match)",
            "dermatologist",
            f"{changelist}?open_alerts=yes",
            rows_check(min(100, with_alerts)),
        ),
        Page(
            "list-search",
            f"Changelist, ?q={term} ({searched:,} match)",
            "dermatologist",
            f"{changelist}?q={term}",
            rows_check(min(100, searched)),
        ),
        Page(
            "staff-list",
            f"Changelist as clinic staff, 100 of {staff_visible:,}",
            "staff",
            changelist,
            rows_check(100),
        ),
    ]
    for role, patient in data.review.items():
        result.append(
            Page(
                f"review-{role}",
                f"Review page, {role} patient ({data.logs_12w[role]:,} logs in 12 weeks)",
                "dermatologist",
                reverse("admin:accounts_patient_review", args=[patient.pk]),
                review_check(str(patient), "chart-heatmap"),
            )
        )
    result.append(
        Page(
            "review-heavy-84d",
            f"Review page, heavy patient, ?days={TIMELINE_DAYS_MAX} (the longest timeline)",
            "dermatologist",
            reverse("admin:accounts_patient_review", args=[heavy.pk]) + f"?days={TIMELINE_DAYS_MAX}",
            review_check(str(heavy), "chart-heatmap"),
        )
    )
    export = reverse("admin:accounts_patient_export", args=[heavy.pk])
    result += [
        Page(
            "export",
            f"CSV export, 12 weeks, heavy patient ({export_lines - 1:,} logs)",
            "dermatologist",
            f"{export}?since={since.isoformat()}&until={today.isoformat()}",
            csv_check(export_lines),
        ),
        Page(
            "report",
            "Visit report, heavy patient",
            "dermatologist",
            reverse("admin:accounts_patient_report", args=[heavy.pk]),
            review_check(str(heavy), "<svg"),
        ),
    ]
    return result


# --- Report --------------------------------------------------------------------------------------


def table(figures: list[Figure]) -> str:
    lines = [
        "| Page | Holds | Runs | Median | p90 | Min | Max | Queries | SQL time | Ratio to 300 ms | Meets goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for figure in figures:
        lines.append(
            f"| {figure.page.name} | {figure.holds} | {len(figure.seconds)} | {ms(figure.median)} | {ms(figure.p90)} "
            f"| {ms(min(figure.seconds))} | {ms(max(figure.seconds))} | {figure.queries_text()} "
            f"| {ms(figure.sql_seconds)} | {figure.median / GOAL_SECONDS:.2f}x "
            f"| {'yes' if figure.meets else '**no**'} |"
        )
    return "\n".join(lines)


def data_set(data: Fixtures) -> str:
    from bench.admin.setup_data import PATIENTS

    meta = data.meta
    hourly = float(meta["summary_serial_mean_ms"]) * PATIENTS / 1000
    logs = sum(int(meta[f"count_{name}"]) for name in ("applications", "symptoms", "poem", "skin_checks"))
    return "\n".join(
        [
            f"- Anchored at {meta['anchor']} (logs run up to then; summaries refreshed after the load)",
            f"- {PATIENTS:,} patients, {int(meta['regimens']):,} regimens, {int(meta['users']):,} users",
            f"- {logs:,} logs: {int(meta['count_applications']):,} applications, {int(meta['count_symptoms']):,} "
            f"symptoms, {int(meta['count_poem']):,} POEM, {int(meta['count_skin_checks']):,} skin checks; "
            f"{int(meta['count_alerts']):,} alerts",
            f"- Setup: {meta['setup_s']} s (load {meta['load_s']} s); summary_refresh "
            f"({meta['summary_queries']} queries): median {meta['summary_serial_median_ms']} ms, mean "
            f"{meta['summary_serial_mean_ms']} ms a patient in one process ({meta['summary_serial_patients']} "
            f"patients), so about {hourly:.0f} s for an hourly refresh of all {PATIENTS:,} in one process; "
            f"the setup's refresh of all of them took {meta['summary_wall_s']} s in {meta['summary_processes']} "
            "processes",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = common.configure()
    import psycopg

    from bench import environment
    from bench.admin import setup_data
    from bench.environment import code_state

    say(f"Code: {code_state()}")
    say(f"Database {database}; data set ...")
    setup_data.ensure()
    say(f"collectstatic: {common.collect_static():.1f} s")
    data = fixtures()
    chosen = [page for page in pages(data) if page.key in (args.only or KEYS)]
    if args.profile:
        page = next(page for page in pages(data) if page.key == args.profile)
        print(profile(page, data.clients[page.user], warmup=args.warmup))
        return 0

    say(f"CPU busy in the second before the runs: {shared.cpu_busy(interval=1.0):.0f}%")
    figures = []
    for page in chosen:
        figure = measure(page, data.clients[page.user], runs=args.runs, warmup=args.warmup)
        say(f"  {page.key}: median {ms(figure.median)}, {figure.query_count} queries (load {shared.load_average()})")
        figures.append(figure)

    print()
    print(f"Database: {database}; {datetime.date.today().isoformat()}")
    print(environment.machine().markdown())
    print(f"- psycopg {psycopg.__version__}")
    print()
    print(data_set(data))
    print()
    print(table(figures))
    print()
    sized = {figure.page.list_per_page or 100: figure.query_count for figure in figures if figure.page.key in KEYS[:3]}
    same = len(set(sized.values())) <= 1
    if sized:
        counts = ", ".join(f"{size} rows: {count}" for size, count in sorted(sized.items()))
        print(f"Changelist query count by page size: {counts}: {'the same' if same else 'GROWS WITH THE PAGE'}.")
    by_key = {figure.page.key: figure for figure in figures}
    if "list-20" in by_key and "list-200" in by_key:
        per_row = (by_key["list-200"].median - by_key["list-20"].median) / 180
        print(f"Changelist cost per row (200-row median - 20-row median) / 180: {per_row * 1000:.2f} ms.")
    for figure in figures:
        if not figure.meets:
            print(f"MISSED: {figure.page.name}: median {ms(figure.median)} ({figure.median / GOAL_SECONDS:.2f}x)")
    if args.show_queries:
        for figure in figures:
            print(f"\n{figure.page.name}: {figure.queries_text()} queries, {ms(figure.sql_seconds)}")
            for number, query in enumerate(figure.queries, 1):
                sql = query["sql"]
                print(
                    f"  {number}. [{float(query['time']) * 1000:.1f} ms] {sql[:400]}{' ...' if len(sql) > 400 else ''}"
                )
    return 0 if same and all(figure.meets for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
