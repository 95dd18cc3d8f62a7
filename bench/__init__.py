"""Standalone benchmarks: scripts that time the full Django stack on PostgreSQL (see BENCHMARKS.md)."""
