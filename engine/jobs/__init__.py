"""Jobs while the app runs (docs/architecture.md, "Jobs while the app runs").

The app process holds the DuckDB file read-write for its whole life and DuckDB has no second writer process, so a
`python -m engine …` started while the app runs is submitted to the app and run there: spool (the folder beside the
store, its file names, atomic writes, the heartbeat), runner (the app's thread that claims and runs jobs), client
(submit, follow, exit code), context (the app's cursor for the job's thread), capture (the job's stdout/stderr),
argv (paths made absolute against the client's folder).
"""
