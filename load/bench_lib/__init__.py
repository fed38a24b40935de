"""Benchmark helpers for load/bench.py: wrk driving and parsing, /proc readings, reports."""
