"""The allocation engine. Public entry points: runs.run_allocation, whatif.prepare/evaluate, diff.diff_runs."""
