"""The pieces of load/bench.py: processes, requests, rows and runs, budgets, reports, the CLI."""
