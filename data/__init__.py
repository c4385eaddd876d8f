"""Demo data: a deterministic demo organisation (`data.generate`) and the default DuckDB file (git-ignored)."""
