"""Where the heavy half of a month close runs: the pool-source seam.

A run needs, per period, the cost lines aggregated to period × pool × link × target sums (`pools.pool_query`
builds that one set-based query in DuckDB's dialect). A `PoolSource` executes it and returns those small rows;
everything after (cascade, methods, rounding, posting) runs in Python on them, whatever the source. Today's source
is the embedded store (`duckdb_sql.DuckDBPoolSource`); a distributed source (Spark, a lakehouse) implements the
same protocol by transpiling the query (sqlglot) and binding its parameters, and must return the same rows.
"""
