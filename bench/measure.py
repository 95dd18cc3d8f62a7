"""Timing, query counting and profiling of one benchmark, and the markdown table of the results.

Each benchmark is `prepare` (untimed: builds a fresh payload, e.g. new ids), `action` (timed), and
`check` (untimed: fails loudly when the answer is wrong, so a broken endpoint is never fast).
Queries are counted in a run of their own, so the debug cursor that counts them adds nothing to
the timed runs.
"""

from __future__ import annotations

import cProfile
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.shared import ms, profile_text

TRANSACTION_STATEMENTS = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})
Payload = TypeVar("Payload")
Result = TypeVar("Result")


@dataclass(frozen=True)
class Goal:
    seconds: float
    label: str  # how the budget reads in the table, e.g. "1 s"
    max_queries: int | None = None


@dataclass(frozen=True)
class Benchmark(Generic[Payload, Result]):
    name: str
    prepare: Callable[[], Payload]
    action: Callable[[Payload], Result]
    check: Callable[[Result], None]
    goal: Goal


@dataclass(frozen=True)
class Figure:
    name: str
    seconds: list[float]
    queries: int
    goal: Goal
    sql: list[str] = field(default_factory=list, repr=False)

    @property
    def transaction_statements(self) -> int:
        """BEGIN, COMMIT and the like, which Django logs among the queries: round trips, but no SQL of ours."""
        return sum(1 for sql in self.sql if sql.split(" ", 1)[0].upper() in TRANSACTION_STATEMENTS)

    def queries_text(self) -> str:
        control = self.transaction_statements
        return (
            f"{self.queries} ({self.queries - control} SQL + {control} BEGIN/COMMIT)" if control else str(self.queries)
        )

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def meets_time(self) -> bool:
        return self.median < self.goal.seconds

    @property
    def meets_queries(self) -> bool:
        return self.goal.max_queries is None or self.queries <= self.goal.max_queries

    @property
    def meets(self) -> bool:
        return self.meets_time and self.meets_queries

    def ratio(self) -> str:
        text = f"{self.median / self.goal.seconds:.2f}x the {self.goal.label} budget"
        if self.goal.max_queries is not None:
            text += f"; {self.queries}/{self.goal.max_queries} queries"
        return text


def run(benchmark: Benchmark[Payload, Result], *, runs: int, warmup: int) -> Figure:
    """`warmup` untimed runs, one counted run, then `runs` timed runs (each on a fresh payload)."""
    for _ in range(warmup):
        benchmark.check(benchmark.action(benchmark.prepare()))

    payload = benchmark.prepare()
    with CaptureQueriesContext(connection) as captured:
        result = benchmark.action(payload)
    # Read now: `captured_queries` slices the connection's log, which the next request clears.
    sql = [query["sql"] for query in captured.captured_queries]
    benchmark.check(result)

    seconds = []
    for _ in range(runs):
        payload = benchmark.prepare()
        gc.collect()
        start = time.perf_counter()
        result = benchmark.action(payload)
        seconds.append(time.perf_counter() - start)
        benchmark.check(result)
    return Figure(
        name=benchmark.name,
        seconds=seconds,
        queries=len(sql),
        goal=benchmark.goal,
        sql=sql,
    )


def profile(benchmark: Benchmark[Payload, Result], *, warmup: int, limit: int = 30) -> str:
    """cProfile of one run after the warm-up: the top functions by own time and by cumulative time."""
    for _ in range(warmup):
        benchmark.check(benchmark.action(benchmark.prepare()))
    payload = benchmark.prepare()
    profiler = cProfile.Profile()
    profiler.enable()
    result = benchmark.action(payload)
    profiler.disable()
    benchmark.check(result)
    return profile_text(profiler, title=benchmark.name, limit=limit)


def table(figures: list[Figure]) -> str:
    lines = [
        "| Benchmark | Runs | Median | Min | Max | Queries | Goal | Ratio to goal | Meets goal |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for figure in figures:
        goal = f"< {figure.goal.label}"
        if figure.goal.max_queries is not None:
            goal += f", ≤ {figure.goal.max_queries} queries"
        lines.append(
            f"| {figure.name} | {len(figure.seconds)} | {ms(figure.median)} "
            f"| {ms(min(figure.seconds))} | {ms(max(figure.seconds))} "
            f"| {figure.queries_text()} | {goal} | {figure.ratio()} | {'yes' if figure.meets else 'no'} |"
        )
    return "\n".join(lines)
