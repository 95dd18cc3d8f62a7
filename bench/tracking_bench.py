"""Benchmarks of issue #3 (tracking), through the full Django stack on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tacro_bench .venv/bin/python bench/tracking_bench.py

Creates the database if missing, migrates it, makes its own patients, and deletes them at the end.
Prints the machine, then a markdown table: median, min and max of the timed runs (after a warm-up),
the query count of one counted run, and the ratio to each goal. `--profile KEY` prints a cProfile
of one run instead. Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import shared

BENCHMARK_KEYS = ("sync", "mixed", "adherence", "selector")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11, help="timed runs per benchmark (default 11; at least 7)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs before the counted one (default 2)")
    parser.add_argument("--only", choices=BENCHMARK_KEYS, action="append", help="run only these (repeatable)")
    parser.add_argument("--profile", choices=BENCHMARK_KEYS, help="print a cProfile of one run, no table")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of each counted run")
    parser.add_argument("--recreate", action="store_true", help="drop and create the bench database first")
    args = parser.parse_args(argv)
    if args.runs < 7:
        parser.error("--runs: the median of at least 7 runs")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shared.project_root_first(Path(__file__).resolve().parent)
    # Imported here: the first sets up Django, which the others need before they load models.
    from bench import environment

    database = environment.prepare(recreate=args.recreate)
    from bench import measure, tracking_cases

    with tracking_cases.bench_data() as fixtures:
        benchmarks = tracking_cases.benchmarks(fixtures)
        if args.profile:
            print(measure.profile(benchmarks[args.profile], warmup=args.warmup))
            return 0
        chosen = [bench for key, bench in benchmarks.items() if key in (args.only or benchmarks)]
        figures = [measure.run(bench, runs=args.runs, warmup=args.warmup) for bench in chosen]

    print(f"Database: {database}\n")
    print(environment.machine().markdown())
    print()
    print(measure.table(figures))
    for figure in figures:
        print(
            f"\n{figure.name}: median {shared.ms(figure.median)}, {figure.queries_text()} queries: "
            f"{'meets' if figure.meets else 'MISSES'} the goal ({figure.ratio()})."
        )
        if args.show_queries:
            for number, sql in enumerate(figure.sql, 1):
                print(f"  {number}. {sql[:300]}{' ...' if len(sql) > 300 else ''}")
    return 0 if all(figure.meets for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
