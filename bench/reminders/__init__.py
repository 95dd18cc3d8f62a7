"""Issue #4's reminder benchmarks: the sweep, delivery through Celery workers, and beat (see BENCHMARKS.md)."""
