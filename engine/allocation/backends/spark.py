"""Apache Spark as a pool source: the pool query (`pools.pool_query`, DuckDB dialect, `?` parameters) runs on a
SparkSession over Parquet copies of the canonical tables; the cascade, rounding and posting stay the engine's Python.

How the one query reaches Spark (docs/spark.md):
1. bind: each `?` is numbered (`$1 … $n`, found with sqlglot's DuckDB tokenizer, so a `?` inside a quoted string
   is never touched), the SQL is parsed, and each placeholder node is replaced by a typed literal built with
   sqlglot's expression builders (strings quoted by sqlglot, dates as DATE literals, decimals as exact numbers);
2. adapt: the few DuckDB functions whose meaning differs in Spark are rewritten in the tree (a map look-up
   `element_at(tags, k)[1]` is `try_element_at(tags, k)` in Spark);
3. transpile: sqlglot writes the tree in Spark's dialect (QUALIFY becomes a filtered subquery, NULL ordering made
   explicit, GROUP BY ALL kept).
Money columns are cast to DECIMAL(38, 10) when the views are registered, so Spark's sums are DECIMAL(38, 10) (exact,
overflow is an error under ANSI mode) and come back as Python Decimals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.allocation.backends.base import PoolRow
from engine.errors import ConfigError, InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# what the pool query reads (backends/base.py PoolSource); the master-data history only when a batch took effect
# after the month
TABLES: tuple[str, ...] = ("cost_line", "org_unit", "application", "account_owner", "asset", "master_data_batch",
                           "master_data_change")
MONEY_COLUMNS: frozenset[str] = frozenset({"billed_cost", "effective_cost", "list_cost", "contracted_cost"})
MONEY_TYPE = "DECIMAL(38, 10)"
INSTALL_HINT = ("the Spark backend needs pyspark and sqlglot and a Java runtime (17+): "
                "`pip install -r requirements-dev.txt` (or `pip install pyspark==4.3.0 sqlglot==30.30.0`) and "
                "`apt-get install openjdk-17-jre-headless` (or `make setup-dev java`)")


def _require_libraries() -> None:
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ModuleNotFoundError as exc:
        raise ConfigError(f"{exc.name} is not installed; {INSTALL_HINT}") from exc


def _literal(value: Any) -> Any:
    """A typed sqlglot literal for one parameter the engine chose (never pasted as text)."""
    from sqlglot import exp

    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(str(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InputError(f"cannot bind a non-finite decimal parameter: {value}")
        return exp.Literal.number(format(value, "f"))
    if isinstance(value, float):
        return exp.cast(exp.Literal.string(repr(value)), "DOUBLE")
    if isinstance(value, dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise InputError(f"cannot bind a {type(value).__name__} parameter into Spark SQL")


def _numbered(sql: str) -> tuple[str, int]:
    """`?` placeholders → `$1 … $n`, located by the DuckDB tokenizer (a `?` in a string literal is not a token)."""
    from sqlglot import Dialect, TokenType

    marks = [t.start for t in Dialect.get_or_raise("duckdb").tokenize(sql)
             if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    out: list[str] = []
    last = 0
    for n, pos in enumerate(marks, start=1):
        out += [sql[last:pos], f"${n}"]
        last = pos + 1
    out.append(sql[last:])
    return "".join(out), len(marks)


def _adapt_to_spark(tree: Any) -> Any:
    """DuckDB's `element_at(map, key)` is a one-item list (hence `[1]`); Spark's is the value itself."""
    from sqlglot import exp

    def rewrite(node: exp.Expression) -> exp.Expression:
        # sqlglot holds indexes 0-based once parsed: DuckDB's `[1]` is index 0 in the tree
        if (isinstance(node, exp.Bracket) and len(node.expressions) == 1
                and isinstance(node.expressions[0], exp.Literal) and str(node.expressions[0].this) == "0"):
            inner = node.this
            name = inner.sql_name().lower() if isinstance(inner, exp.Func) else ""
            if isinstance(inner, exp.Anonymous):
                name = str(inner.this).lower()
            if name == "element_at":
                args = [inner.this, inner.expression] if not isinstance(inner, exp.Anonymous) else inner.expressions
                return exp.Anonymous(this="try_element_at", expressions=[a.copy() for a in args])
        return node

    return tree.transform(rewrite)


def bind(sql: str, params: list[Any], dialect: str = "spark") -> str:
    """The engine's DuckDB SQL with its parameters bound as typed literals, written in `dialect`."""
    import sqlglot
    from sqlglot import exp

    numbered, count = _numbered(sql)
    if count != len(params):
        raise InputError(f"the query has {count} parameters but {len(params)} values were given")
    values = [_literal(p) for p in params]
    tree = sqlglot.parse_one(numbered, read="duckdb")

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and str(node.this).isdigit():
            value: exp.Expression = values[int(str(node.this)) - 1]
            return value.copy()
        return node

    tree = tree.transform(substitute)
    if any(True for _ in tree.find_all(exp.Placeholder)):
        raise InputError("a parameter of the pool query could not be bound")
    if dialect == "spark":
        tree = _adapt_to_spark(tree)
    return str(tree.sql(dialect=dialect))


def table_paths(folder: Path) -> dict[str, str]:
    """Where each table lives under `folder`: `<table>.parquet` (a file, as export-lines writes) or `<table>/`
    (a directory of Parquet files, as a lakehouse keeps it)."""
    found: dict[str, str] = {}
    for t in TABLES:
        for candidate in (folder / f"{t}.parquet", folder / t):
            if candidate.exists():
                found[t] = str(candidate)
                break
    missing = [t for t in TABLES if t not in found]
    if missing:
        raise InputError(f"{folder} lacks {', '.join(missing)} (as <table>.parquet or <table>/); "
                         "write them with `python -m engine export-lines --period YYYY-MM --out DIR`")
    return found


def session(master: str = "local[2]", app_name: str = "apportion-month-close") -> SparkSession:
    """A SparkSession for the month close: UTC, ANSI arithmetic (decimal overflow is an error), no UI."""
    _require_libraries()
    from pyspark.sql import SparkSession

    try:
        spark = (SparkSession.builder.master(master).appName(app_name)
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.ansi.enabled", "true")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "4" if master.startswith("local") else "200")
                .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        return spark
    except Exception as exc:  # noqa: BLE001 - py4j's launcher raises plain errors (no Java, bad master URL)
        raise ConfigError(f"cannot start Spark at {master!r}: {exc}; {INSTALL_HINT}") from exc


@contextmanager
def spark_session(master: str = "local[2]") -> Iterator[SparkSession]:
    spark = session(master)
    try:
        yield spark
    finally:
        spark.stop()


class SparkPoolSource:
    """The pool query on Spark over Parquet tables (paths a Spark cluster can read: local, HDFS, S3 …)."""

    name = "spark"

    def __init__(self, spark: SparkSession, tables: Mapping[str, str]) -> None:
        from pyspark.sql import functions as F

        self.spark = spark
        self.queries: list[str] = []
        for t in TABLES:
            if t not in tables:
                raise InputError(f"no Parquet path for table {t}")
            frame = spark.read.parquet(tables[t])
            frame = frame.select(*[F.col(c).cast(MONEY_TYPE).alias(c) if c in MONEY_COLUMNS else F.col(c)
                                   for c in frame.columns])
            frame.createOrReplaceTempView(t)

    @classmethod
    def from_folder(cls, spark: SparkSession, folder: Path) -> SparkPoolSource:
        return cls(spark, table_paths(folder))

    def _sql(self, sql: str, params: list[Any]) -> list[Any]:
        spark_sql = bind(sql, params)
        self.queries.append(spark_sql)
        return list(self.spark.sql(spark_sql).collect())

    def pool_rows(self, sql: str, params: list[Any]) -> list[PoolRow]:
        out: list[PoolRow] = []
        for pool, link, target, amount, n, total in self._sql(sql, params):
            if not isinstance(amount, Decimal) or not isinstance(total, Decimal):
                raise InputError(f"Spark returned {type(amount).__name__} amounts, not decimals: the money columns "
                                 f"must be {MONEY_TYPE}")
            out.append(PoolRow(str(pool), link, target, amount, int(n), total))
        return out

    def cost_batches(self, period: str) -> tuple[str, ...]:
        rows = self._sql("SELECT DISTINCT batch_id FROM cost_line WHERE billing_period = ? ORDER BY 1", [period])
        return tuple(str(r[0]) for r in rows)
