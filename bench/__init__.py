"""Benchmarks: run each module as a script from the repository root (see BENCHMARKS.md)."""
