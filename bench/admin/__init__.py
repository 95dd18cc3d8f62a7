"""Issue #5's admin review benchmarks: the patient list and review page on 10,000 patients (see BENCHMARKS.md)."""
