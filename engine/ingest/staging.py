"""The child-process half of ingest: one file → one staged DuckDB file holding, per row, whether it is accepted or
why it is quarantined, plus the rows the reader itself rejected.

It never opens the store. Two modes (docs/ingestion.md):
- **direct** (connectors that declare `loads_directly`: SQL plans over the file): the staged table is narrow (row
  id, tags key, the scope columns, the verdict); the parent then loads the accepted rows straight from the source
  file with the same compiled plan (`direct_select_sql`), excluding the rows the child quarantined (`excluded`).
  Rows are written once.
- **staged** (frame connectors, dry runs): every typed canonical column is staged and the parent copies the
  `accepted` view.
Staging is a single CREATE TABLE … AS SELECT so 10M lines cost one DuckDB pass.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import ApportionError
from engine.fx import convert as fx
from engine.ingest import registry
from engine.ingest.contract.connector import FileRefused
from engine.ingest.contract.frames import target_columns
from engine.ingest.contract.packed import pack_sql, packed_parts
from engine.ingest.contract.rules import Check, StagePlan, checks_for, lit, q, rules_for
from engine.ingest.contract.safe_read import (
    CSV_REJECTS,
    CSV_ROW_NUMBERS,
    ENCODINGS,
    GZIP_MAGIC,
    HOSTILE_TEXT_RE,
    REJECTS_TABLE,
    TEXT_HYGIENE,
    check_size,
    check_text_encoding,
    check_xlsx,
    describe_csv_error,
    gunzip_limited,
    has_hostile_text,
    transcode_to_utf8,
    uniform_line_endings,
)
from engine.tags.normalise import normalise_tags_sql

STAGED = "staged"
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\x28\xb5\x2f\xfd", b"\xfd7zX")  # gzip, bzip2, zstd, xz: connectors unpack
ACCEPTED = "accepted"
REJECTED = "rejected"
EXCLUDED = "excluded"             # direct mode: plan row ids (`__row` of the plan, before display fixes) not to load
MAX_QUARANTINE_DETAIL = 100_000   # rows beyond this are counted but keep no raw text
GZIP_NATIVE = ("flow_logs",)   # connectors that read gzip themselves (VPC flow logs arrive as .log.gz)
SCOPE_COLUMNS = ("provider", "billing_account_id", "billing_period", "billed_cost", "effective_cost")


@dataclass
class StageMeta:
    """What the parent needs to know about a staged file (JSON-serialisable: it crosses the process boundary)."""

    kind: str
    target_table: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    warnings: list[str] = field(default_factory=list)
    scope: list[dict[str, Any]] = field(default_factory=list)   # cost_line: provider/account/period totals
    first_problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # direct mode: {"source": file the plan read, "rejects": CSV read with rejects on, "plan_sha256": fingerprint,
    # "excluded": rows not to load}; None → the parent copies the staged `accepted` rows.
    direct: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> StageMeta:
        return cls(**json.loads(text))


def configure(con: duckdb.DuckDBPyConnection, *, threads: int | None, memory_mb: int | None,
              temp_dir: Path | None) -> None:
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_mb:
        con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
    if temp_dir is not None:
        con.execute(f"SET temp_directory = {lit(str(temp_dir))}")
    con.execute("SET preserve_insertion_order = true")
    # query_progress() reports only with DuckDB's progress bar on (off by default for a script's file connection);
    # the bar's own printing stays off
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")


def make_plan(con: duckdb.DuckDBPyConnection, path: Path, kind: str | None, options: dict[str, Any]) -> StagePlan:
    """The connector's plan; a cost-line plan gets the FX option's rates attached (engine/fx/convert.py), which the
    connector itself never sees."""
    conn = registry.by_name(kind) if kind else registry.detect(path)
    opts = dict(options)
    spec = fx.pop_spec(opts)
    return fx.attach(conn.plan(con, path, **opts), spec)


def _typed_source(plan: StagePlan, *, raw: bool) -> tuple[str, list[tuple[str, str]], list[Check]]:
    """The plan's source with every canonical column typed once (`__c_<col>`), `__row_id`, `__tags_key` and, when
    there are checks, `__check`: the index of the FIRST failing check (NULL for a good row). Shared by the child's
    staging and the parent's direct load, so both evaluate the very same expressions. A plan with FX rates
    attached converts the money columns here, over the typed columns (engine/fx/convert.py)."""
    cols = [(c, t) for c, t in target_columns(plan.target_table) if c in plan.columns]
    # detail columns stored packed in one JSON column (engine/ingest/contract/packed.py): typed and checked by
    # name like the others, then packed; only the packed column is stored
    packs = packed_parts(plan.target_table, set(plan.columns))
    parts = [p for ps in packs.values() for p in ps]
    named = {c: f"s.{q('__c_' + c)}" for c, _ in cols + parts}
    checks = plan.checks + checks_for(plan.target_table, named)
    if TEXT_HYGIENE.get():
        checks += hygiene_checks([(c, named[c]) for c, t in cols + parts if t.upper().startswith("VARCHAR")])
    tags_key = f"CAST(({plan.tags_key}) AS VARCHAR)" if plan.tags_key else "CAST(NULL AS VARCHAR)"
    typed = (["s AS __src"] if raw else []) + ["s.*", "s.__row::BIGINT AS __row_id", f"{tags_key} AS __tags_key"]
    typed += [f"CAST(({plan.columns[c]}) AS {t}) AS {q('__c_' + c)}" for c, t in cols + parts]
    src = f"(SELECT {', '.join(typed)} FROM ({plan.source_sql}) s)"
    if packs:
        packed = ", ".join(f"{pack_sql(ps, named)} AS {q('__c_' + p)}" for p, ps in packs.items())
        src = f"(SELECT s.*, {packed} FROM {src} s)"
        cols = [(c, t) for c, t in target_columns(plan.target_table) if c in plan.columns or c in packs]
    spec = fx.spec_of(plan)
    if spec is not None and {"billing_currency", "billing_period"} <= set(named):
        src, added = fx.typed_sql(src, spec, set(named))
        cols = cols + added
        checks = checks + [fx.missing_rate_check(spec)]
    if checks:
        whens = " ".join(f"WHEN {ch.bad} THEN {i}" for i, ch in enumerate(checks, 1))
        src = f"(SELECT s.*, CASE {whens} END AS __check FROM {src} s)"
    return src, cols, checks


def hygiene_checks(columns: list[tuple[str, str]]) -> list[Check]:
    """Text columns holding a control character, NUL, DEL or a byte-order mark: the row is quarantined naming the
    column, the character and where it is (added only when the file's bytes hold one: `has_hostile_text`)."""
    pat = lit(HOSTILE_TEXT_RE)
    out = []
    for c, ref in columns:
        found = f"regexp_extract({ref}, {pat})"
        out.append(Check(c, f"regexp_matches({ref}, {pat})",
                         f"'expected text without control characters, NUL or byte-order marks, got U+' || "
                         f"printf('%04X', unicode({found})) || ' at character ' || "
                         f"CAST(strpos({ref}, {found}) AS VARCHAR) || ' of ' || left(regexp_replace({ref}, {pat}, "
                         f"'\ufffd', 'g'), 60)"))
    return out


def staging_sql(plan: StagePlan, *, narrow: bool = False) -> str:
    """One pass in three projections: (1) type every column once, (2) find the FIRST failing check as a small
    integer (generic rules refer to the typed columns by name, so each conversion is computed once), (3) spell out
    column, reason and raw row only for rows that failed. Columns a connector does not produce are not staged at
    all (the `accepted` view supplies their NULLs). `narrow` (direct mode) stages only what the parent needs to
    decide: the plan row id, the scope columns and natural keys, the tags key and the verdict."""
    src, cols, checks = _typed_source(plan, raw=True)
    keep = [(c, t) for c, t in cols if not narrow or c in SCOPE_COLUMNS or c in _natural_key(plan)]
    outer = ["s.__row_id AS __row"] + [f"s.{q('__c_' + c)} AS {q(c)}" for c, _ in keep]
    outer += ["s.__tags_key AS __tags_key"] + (["s.__row_id AS __rid"] if narrow else [])
    if checks:
        column = "CASE s.__check " + " ".join(f"WHEN {i} THEN {lit(ch.column)}" for i, ch in enumerate(checks, 1))
        reason = "CASE s.__check " + " ".join(f"WHEN {i} THEN {ch.reason}" for i, ch in enumerate(checks, 1))
        outer += [f"{column} END AS __column", f"{reason} END AS __reason",
                  "CASE WHEN s.__check IS NOT NULL THEN left(to_json(s.__src)::VARCHAR, 4000) END AS __raw"]
    else:
        outer += ["CAST(NULL AS VARCHAR) AS __column", "CAST(NULL AS VARCHAR) AS __reason",
                  "CAST(NULL AS VARCHAR) AS __raw"]
    return f"CREATE TABLE {STAGED} AS SELECT {', '.join(outer)} FROM {src} s"


AGG = "__agg"


def verdict_sql(plan: StagePlan) -> tuple[str, str]:
    """Direct mode without natural keys: one pass that writes no accepted row at all. Good rows collapse into groups
    of (scope, tags key) with their count and exact sums; a failing row is its own group carrying column, reason and
    raw text. Returns (the CREATE TABLE of those groups, the typed source for a follow-up scan)."""
    src, cols, checks = _typed_source(plan, raw=True)
    have = {c for c, _ in cols}
    scope = ", ".join(f"s.{q('__c_' + c)} AS {q(c)}" if c in have else f"CAST(NULL AS VARCHAR) AS {q(c)}"
                      for c in SCOPE_COLUMNS[:3])
    sums = ", ".join(f"sum(s.{q('__c_' + c)}) AS {q(c)}" for c in SCOPE_COLUMNS[3:])
    if checks:
        column = "CASE s.__check " + " ".join(f"WHEN {i} THEN {lit(ch.column)}" for i, ch in enumerate(checks, 1))
        reason = "CASE s.__check " + " ".join(f"WHEN {i} THEN {ch.reason}" for i, ch in enumerate(checks, 1))
        bad = "CASE WHEN s.__check IS NULL THEN NULL ELSE s.__row_id END"
        detail = (f"any_value({column} END) AS __column, any_value({reason} END) AS __reason, "
                  "any_value(CASE WHEN s.__check IS NOT NULL THEN left(to_json(s.__src)::VARCHAR, 4000) END) AS __raw")
    else:
        bad = "CAST(NULL AS BIGINT)"
        detail = ("CAST(NULL AS VARCHAR) AS __column, CAST(NULL AS VARCHAR) AS __reason, "
                  "CAST(NULL AS VARCHAR) AS __raw")
    sql = (f"CREATE TABLE {AGG} AS SELECT {bad} AS __bad, {scope}, s.__tags_key AS __tags_key, count(*) AS __n, "
           f"{sums}, {detail} FROM {src} s GROUP BY ALL")
    return sql, src


def _natural_key(plan: StagePlan) -> tuple[str, ...]:
    return plan.natural_key if plan.natural_key is not None else rules_for(plan.target_table).natural_key


def direct_eligible(plan: StagePlan) -> bool:
    """Only connectors that declare `loads_directly` (SQL plans over the file itself, so the parent can read it
    again), and only for billing lines."""
    return registry.loads_directly(plan.kind) and plan.target_table == "cost_line" and "__frame" not in plan.source_sql


def plan_fingerprint(plan: StagePlan) -> str:
    """SHA-256 of the compiled plan: the parent loads only if its own compilation is the one the child ran."""
    return hashlib.sha256(json.dumps(asdict(plan), sort_keys=True, default=str).encode()).hexdigest()


def direct_select_sql(plan: StagePlan, staged_alias: str, *, exclude: bool) -> str:
    """The parent's load: the same typed expressions and checks as staging, straight from the source file, joined to
    the child's tag dictionary, minus the rows the child quarantined. Yields the target table's columns in order."""
    src, cols, checks = _typed_source(plan, raw=False)
    have = {c for c, _ in cols}

    def expr(c: str, t: str) -> str:
        if c in TAG_EXTRACT and plan.tags_key:
            return f"{TAG_EXTRACT[c]} AS {q(c)}"
        return f"s.{q('__c_' + c)} AS {q(c)}" if c in have else f"CAST(NULL AS {t}) AS {q(c)}"

    select = ", ".join(expr(c, t) for c, t in target_columns(plan.target_table))
    join = f" LEFT JOIN {staged_alias}.tag_dict d ON d.k = s.__tags_key" if plan.tags_key else ""
    where = ["TRUE"]
    if checks:
        where.append("s.__check IS NULL")
    if plan.tags_key:
        where.append("NOT coalesce(d.bad, false)")
    if exclude:
        where.append(f"s.__row_id NOT IN (SELECT __rid FROM {staged_alias}.{EXCLUDED})")
    return f"SELECT {select} FROM {src} s{join} WHERE {' AND '.join(where)}"


def compile_direct_plan(source: Path, kind: str, options: dict[str, Any], rejects: bool,
                        row_numbers: bool = True) -> StagePlan:
    """The parent compiles the plan itself (the child's SQL is never executed by the parent), in a scratch
    connection: only the header / Parquet footer (and, for Azure without `cost_type`, a pre-scan) are read.
    `row_numbers=False` compiles the same plan with a CSV's `__row` left NULL (see `uses_row_numbers`)."""
    scratch = duckdb.connect(":memory:")
    token = CSV_REJECTS.set(rejects)
    numbered = CSV_ROW_NUMBERS.set(row_numbers)
    try:
        return make_plan(scratch, source, kind, options)
    finally:
        CSV_ROW_NUMBERS.reset(numbered)
        CSV_REJECTS.reset(token)
        scratch.close()


def uses_row_numbers(plan: StagePlan) -> bool:
    """True unless `__row` is only defined, never used, by the plan (e.g. CUR's de-duplication orders by it). A
    header spelled like it only makes this answer True, which is the safe side (numbered, ordered read)."""
    text = json.dumps(asdict(plan), default=str)
    return text.count("__row") != 1


def _mark_duplicates(con: duckdb.DuckDBPyConnection, keys: tuple[str, ...]) -> None:
    key_list = ", ".join(q(k) for k in keys)
    label = "+".join(keys)
    con.execute(
        f"UPDATE {STAGED} SET __column = {lit(label)}, "
        f"__reason = 'duplicate natural key (' || d.k || '), first at row ' || d.first_row, "
        f"__raw = NULL "
        f"FROM (SELECT __row AS r, concat_ws(', ', {key_list}) AS k, "
        f"      first_value(__row) OVER (PARTITION BY {key_list} ORDER BY __row) AS first_row, "
        f"      row_number() OVER (PARTITION BY {key_list} ORDER BY __row) AS n "
        f"      FROM {STAGED} WHERE __reason IS NULL) d "
        f"WHERE {STAGED}.__row = d.r AND d.n > 1"
    )


# the canonical tag columns and the normalised key each is read from. They are extracted once per distinct tag set,
# in `tag_dict`, not once per line (2M lines: ~0.3 s of a 9.3 s load)
TAG_KEYS: dict[str, str] = {
    "tag_cost_center": "cost_center",
    "tag_application": "application",
    "tag_environment": "environment",
    "tag_owner": "owner",
    "tag_org": "org",
}
TAG_EXTRACT: dict[str, str] = {"tags": "d.tags", **{c: f"d.{c}" for c in TAG_KEYS}}


def _build_tags(con: duckdb.DuckDBPyConnection, plan: StagePlan, *, view: bool = True,
               keys_from: str = STAGED) -> None:
    """Normalise each distinct raw tag set once (`tag_dict`), quarantine rows whose tags do not parse, and expose
    the rows to load as the view `accepted` (staged columns + tags joined from the dictionary)."""
    extracted = ", ".join(f"{c} VARCHAR" for c in TAG_KEYS)
    con.execute(f"CREATE TABLE tag_dict (k VARCHAR, tags MAP(VARCHAR, VARCHAR), bad BOOLEAN, {extracted})")
    if plan.tags_key and plan.tags_entries:
        entries = plan.tags_entries
        values = ", ".join(f"t[{lit(key)}]" for key in TAG_KEYS.values())
        con.execute(
            f"INSERT INTO tag_dict SELECT k, t, bad, {values} FROM (SELECT k, CASE WHEN e IS NULL THEN NULL ELSE "
            f"{normalise_tags_sql('e', entries=True)} END AS t, e IS NULL AS bad FROM (SELECT k, ({entries}) AS e "
            f"FROM (SELECT DISTINCT __tags_key AS k FROM {keys_from} WHERE __tags_key IS NOT NULL)))"
        )
        con.execute(
            f"UPDATE {STAGED} SET __column = {lit(plan.tags_column)}, "
            f"__reason = 'expected tags as a JSON object, got ' || left(__tags_key, 60), "
            f"__raw = left(__tags_key, 4000) "
            f"WHERE __reason IS NULL AND __tags_key IN (SELECT k FROM tag_dict WHERE bad)"
        )
    if not view:
        return

    def expr(c: str, t: str) -> str:
        if c in TAG_EXTRACT and plan.tags_key:
            return f"{TAG_EXTRACT[c]} AS {q(c)}"
        return f"s.{q(c)}" if c in staged else f"CAST(NULL AS {t}) AS {q(c)}"

    staged = {str(r[0]) for r in con.sql(f"DESCRIBE {STAGED}").fetchall()}
    select = ", ".join(expr(c, t) for c, t in target_columns(plan.target_table))
    con.execute(f"CREATE VIEW {ACCEPTED} AS SELECT {select}, s.__row AS __row FROM {STAGED} s "
                f"LEFT JOIN tag_dict d ON d.k = s.__tags_key WHERE s.__reason IS NULL")


def _quarantine_bad_tag_groups(con: duckdb.DuckDBPyConnection, plan: StagePlan) -> None:
    """Grouped verdicts: rows that passed every check but whose tags do not parse are found by their tags key; only
    then (rare) is the file scanned again, for those rows alone, to quarantine each with its row number."""
    bad = con.sql(f"SELECT count(*) FROM {AGG} a JOIN tag_dict d ON d.k = a.__tags_key "
                  f"WHERE a.__bad IS NULL AND d.bad").fetchall()[0][0]
    if not bad:
        return
    src = verdict_sql(plan)[1]
    checked = "s.__check IS NULL AND " if "__check" in src else ""
    con.execute(
        f"INSERT INTO {STAGED} (__row, __tags_key, __rid, __column, __reason, __raw) "
        f"SELECT s.__row_id, s.__tags_key, s.__row_id, {lit(plan.tags_column)}, "
        f"'expected tags as a JSON object, got ' || left(s.__tags_key, 60), left(s.__tags_key, 4000) "
        f"FROM {src} s WHERE {checked}s.__tags_key IN (SELECT k FROM tag_dict WHERE bad)")
    con.execute(f"DELETE FROM {AGG} WHERE __bad IS NULL AND __tags_key IN (SELECT k FROM tag_dict WHERE bad)")


def _fix_row_numbers(con: duckdb.DuckDBPyConnection) -> None:
    """`__row` counts parsed records; rows the reader rejected shift later data rows. Fix the quarantined ones."""
    n = con.sql(f"SELECT count(*) FROM {REJECTED} WHERE row_number IS NOT NULL").fetchall()[0][0]
    if not n:
        return
    con.execute(
        f"CREATE TEMP TABLE __gaps AS SELECT row_number - row_number() OVER (ORDER BY row_number) AS g "
        f"FROM {REJECTED} WHERE row_number IS NOT NULL"
    )
    con.execute(f"UPDATE {STAGED} SET __row = __row + (SELECT count(*) FROM __gaps WHERE g < {STAGED}.__row) "
                f"WHERE __reason IS NOT NULL")


def _progress_thread(con: duckdb.DuckDBPyConnection, report: Callable[[float], None],
                     stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(0.25):
            try:
                p = float(con.query_progress())
            except Exception:  # noqa: BLE001 - progress is best effort
                continue
            if p >= 0:
                report(min(p, 100.0) / 100.0)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def _precheck(con: duckdb.DuckDBPyConnection, path: Path, kind: str | None, options: dict[str, Any],
              progress: Callable[[float], None] | None, t0: float) -> StageMeta | None:
    """Direct mode's fast path for a billing file without natural keys: one parallel structural pass (every line
    split into the header's columns, rows counted, each distinct tag set normalised once) and no typed verdicts —
    the parent's load applies the very same checks in its WHERE and accepts the result only if every row passed
    (engine/ingest/pipeline.py); otherwise it asks for the full verdict pass. Returns None — and leaves nothing behind —
    when this file needs the full pass anyway: not eligible, a line the reader cannot split, tags that do not
    parse, or any reader error (the full pass words the refusal)."""
    plan = make_plan(con, path, kind, options)
    if not direct_eligible(plan) or _natural_key(plan):
        return None
    scan = plan
    if not uses_row_numbers(plan):   # nothing reads `__row`: scan the file in parallel, out of order
        token = CSV_ROW_NUMBERS.set(False)
        try:
            scan = make_plan(con, path, kind, options)
        finally:
            CSV_ROW_NUMBERS.reset(token)
    tags_key = f"CAST(({plan.tags_key}) AS VARCHAR)" if plan.tags_key else "CAST(NULL AS VARCHAR)"
    stop = threading.Event()
    watcher = _progress_thread(con, progress, stop) if progress else None
    try:
        for stmt in scan.setup_sql:
            con.execute(stmt)
        con.execute(f"CREATE TABLE {AGG} AS SELECT {tags_key} AS __tags_key, count(*) AS __n "
                    f"FROM ({scan.source_sql}) s GROUP BY ALL")
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error:
        _drop(con, AGG)
        return None
    finally:
        stop.set()
        if watcher:
            watcher.join()
    con.execute(f"CREATE TABLE {STAGED} (__row BIGINT, __tags_key VARCHAR, __rid BIGINT, __column VARCHAR, "
                f"__reason VARCHAR, __raw VARCHAR)")
    _build_tags(con, plan, view=False, keys_from=AGG)
    bad = con.sql(f"SELECT count(*) FROM {AGG} a JOIN tag_dict d ON d.k = a.__tags_key WHERE d.bad").fetchall()[0][0]
    if bad:
        _drop(con, AGG, STAGED, "tag_dict")
        return None
    rows = int(con.sql(f"SELECT coalesce(sum(__n), 0) FROM {AGG}").fetchall()[0][0])
    con.execute(f"CREATE TABLE {REJECTED} (row_number BIGINT, column_name VARCHAR, reason VARCHAR, raw VARCHAR)")
    direct = {"source": str(path), "rejects": False, "plan_sha256": plan_fingerprint(plan), "excluded": 0,
              "precheck": True, "hygiene": TEXT_HYGIENE.get()}
    return StageMeta(kind=plan.kind, target_table=plan.target_table, rows_read=rows, rows_accepted=rows,
                     rows_quarantined=0, warnings=list(plan.warnings), seconds=time.perf_counter() - t0,
                     direct=direct)


def _drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for t in tables:
        con.execute(f"DROP TABLE IF EXISTS {t}")
    for t in (REJECTS_TABLE, REJECTS_TABLE + "_scan"):
        con.execute(f"DROP TABLE IF EXISTS {t}")


def _gzip_reader(path: Path) -> str | None:
    """The connector a gzipped file is for, when it reads gzip itself (its sibling files, e.g. a flow-log map, stay
    beside it); None when none of GZIP_NATIVE claims it."""
    try:
        found = registry.detect(path).name
    except ApportionError:
        return None
    return found if found in GZIP_NATIVE else None


def stage(path: Path, out: Path, *, kind: str | None = None, options: dict[str, Any] | None = None,
          threads: int | None = None, memory_mb: int | None = None,
          progress: Callable[[float], None] | None = None, direct: bool = False,
          precheck: bool = False) -> StageMeta:
    """Parse, type and validate `path` into the DuckDB file `out`. Raises FileRefused for a file that cannot be read.
    `direct`: for a SQL-plan billing connector, stage only the verdicts (see module doc); others stage every row.
    `precheck` (with `direct`): try the structural pass first (`_precheck`); a file it cannot vouch for falls
    through to the full verdict pass in the same call."""
    t0 = time.perf_counter()
    if out.exists():
        out.unlink()
    con = duckdb.connect(str(out))
    try:
        configure(con, threads=threads, memory_mb=memory_mb, temp_dir=out.parent / (out.name + ".tmp"))
        check_size(path)
        opts = dict(options or {})
        with open(path, "rb") as f:
            head = f.read(4)
        if head.startswith(GZIP_MAGIC) and (kind or _gzip_reader(path)) not in GZIP_NATIVE:
            # gzip is read as documented: expanded (size-capped) into the parent's private work directory, which
            # the parent's direct load accepts as its source, as for a transcoding
            path = gunzip_limited(path, out.parent / (out.name + ".gunzip"))
            with open(path, "rb") as f:
                head = f.read(4)
            if head.startswith(GZIP_MAGIC):
                raise FileRefused(path.name, "one gzip layer around the export (this one is gzipped twice)")
        text = head[:2] != b"PK" and head != b"PAR1" and not head.startswith(COMPRESSED_MAGIC)
        if head[:2] == b"PK":
            check_xlsx(path)   # zip-bomb checks before any connector opens the archive
        elif text:
            chosen = opts.pop("encoding", None)
            if chosen and ENCODINGS.get(str(chosen).lower(), "utf-8") != "utf-8":
                path = transcode_to_utf8(path, str(chosen), out.parent / (out.name + ".utf8"))
            else:
                check_text_encoding(path, chosen)
        hygiene = text and has_hostile_text(path)
        hygiene_token = TEXT_HYGIENE.set(hygiene)
        try:
            return _stage_file(con, path, out, kind, opts, progress, direct, precheck, t0, text, hygiene)
        finally:
            TEXT_HYGIENE.reset(hygiene_token)
    finally:
        con.close()


def _stage_file(con: duckdb.DuckDBPyConnection, path: Path, out: Path, kind: str | None, opts: dict[str, Any],
                progress: Callable[[float], None] | None, direct: bool, precheck: bool, t0: float, text: bool,
                hygiene: bool) -> StageMeta:
    """`stage` once the file is readable as it will be read: plan, stage, verdicts, summary."""
    note: str | None = None
    while True:
        try:
            if direct and precheck:
                fast = _precheck(con, path, kind, opts, progress, t0)
                if fast is not None:
                    fast.warnings += [note] if note else []
                    return fast
            plan, rejects, narrow = _plan_and_stage(con, path, kind, opts, progress, direct)
            break
        except (_ReaderRefused, duckdb.Error) as exc:
            # The strict CSV reader stops at the first line ending unlike the first line's (CRLF, then LF):
            # only then is the whole file scanned; a file with mixed endings is read again from a copy with
            # LF only, in the parent's private work directory (the parent accepts that source, as for a
            # transcoding). Any other failure, or a second one, is the file's answer.
            if isinstance(exc, duckdb.OutOfMemoryException) or note is not None or not text or not (
                    isinstance(exc, _ReaderRefused) or _is_csv_error(exc)):
                raise _worded(exc, path) from None
            fixed = uniform_line_endings(path, out.parent / (out.name + ".lf"))
            if fixed is None:
                raise _worded(exc, path) from None
            path, note = fixed
            _drop(con, AGG, STAGED, "tag_dict", REJECTED)
    con.execute(f"CREATE TABLE {REJECTED} (row_number BIGINT, column_name VARCHAR, reason VARCHAR, raw VARCHAR)")
    if plan.rejects_sql:
        con.execute(f"INSERT INTO {REJECTED} {plan.rejects_sql}")
    keys = _natural_key(plan)
    if keys:
        _mark_duplicates(con, keys)
    grouped = narrow and not keys
    _build_tags(con, plan, view=not narrow, keys_from=AGG if grouped else STAGED)
    if grouped:
        _quarantine_bad_tag_groups(con, plan)
    meta_direct: dict[str, Any] | None = None
    if narrow:
        con.execute(f"CREATE TABLE {EXCLUDED} AS SELECT __rid FROM {STAGED} WHERE __reason IS NOT NULL")
        n_excluded = con.sql(f"SELECT count(*) FROM {EXCLUDED}").fetchall()[0][0]
        # grouped (no natural key): every excluded row failed a check or its tags, which the parent's own WHERE
        # drops too, so the parent need not exclude by number (and may read in parallel)
        meta_direct = {"source": str(path), "rejects": rejects, "plan_sha256": plan_fingerprint(plan),
                       "excluded": int(n_excluded), "grouped": grouped, "hygiene": hygiene}
    _fix_row_numbers(con)
    meta = _summarise(con, plan, path, time.perf_counter() - t0, grouped=grouped)
    meta.direct = meta_direct
    meta.warnings += [note] if note else []
    return meta


def _plan_and_stage(con: duckdb.DuckDBPyConnection, path: Path, kind: str | None, options: dict[str, Any],
                    progress: Callable[[float], None] | None, direct: bool) -> tuple[StagePlan, bool, bool]:
    """Strict CSV read first (fast); a line the reader cannot split → read again keeping such lines as rejects.
    Returns the plan, whether rejects were on, and whether it was staged narrow (direct mode)."""
    for rejects_mode in (False, True):
        token = CSV_REJECTS.set(rejects_mode)
        try:
            plan = make_plan(con, path, kind, options)
            narrow = direct and direct_eligible(plan)
            for stmt in plan.setup_sql:
                con.execute(stmt)
            for t in (REJECTS_TABLE, REJECTS_TABLE + "_scan"):
                con.execute(f"DROP TABLE IF EXISTS {t}")   # a pre-scan in plan() must not leave its rejects twice
            stop = threading.Event()
            watcher = _progress_thread(con, progress, stop) if progress else None
            try:
                con.execute(f"DROP TABLE IF EXISTS {STAGED}")
                con.execute(f"DROP TABLE IF EXISTS {AGG}")
                if narrow and not _natural_key(plan):
                    con.execute(verdict_sql(plan)[0])
                    keep = ", ".join(q(c) for c in SCOPE_COLUMNS)
                    con.execute(f"CREATE TABLE {STAGED} AS SELECT __bad AS __row, {keep}, __tags_key, __bad AS __rid, "
                                f"__column, __reason, __raw FROM {AGG} WHERE __bad IS NOT NULL")
                else:
                    con.execute(staging_sql(plan, narrow=narrow))
                return plan, rejects_mode, narrow
            except duckdb.OutOfMemoryException:
                raise
            except duckdb.Error as exc:
                if not rejects_mode and plan.rejects_sql is None and _is_csv_error(exc):
                    continue
                raise _worded(exc, path, plan.kind) from None
            finally:
                stop.set()
                if watcher:
                    watcher.join()
        finally:
            CSV_REJECTS.reset(token)
    raise AssertionError("unreachable")


class _ReaderRefused(FileRefused):
    """The CSV reader could not split the file (worded by `safe_read.describe_csv_error`)."""


def _worded(exc: BaseException, path: Path, kind: str | None = None) -> BaseException:
    """A reader error as a refusal in this project's words (the CSV reader's own message, with its option dump and
    strict-mode hints, is never shown); a refusal, an out-of-memory error (the sandbox words it) and, outside a
    staging pass (`kind` None), any other error stay what they are."""
    if isinstance(exc, duckdb.Error) and not isinstance(exc, duckdb.OutOfMemoryException):
        if _is_csv_error(exc):
            return _ReaderRefused(path.name, describe_csv_error(str(exc)))
        if kind is not None:
            return FileRefused(path.name, f"a readable {kind} file ({_short(exc)})")
    return exc


def _is_csv_error(exc: BaseException) -> bool:
    return "CSV Error" in str(exc) or "csv" in str(exc).lower()


def _short(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:2])[:400]


def _summarise(con: duckdb.DuckDBPyConnection, plan: StagePlan, path: Path, seconds: float, *,
               grouped: bool = False) -> StageMeta:
    accepted, quarantined = con.sql(
        f"SELECT count(*) FILTER (WHERE __reason IS NULL), count(*) FILTER (WHERE __reason IS NOT NULL) "
        f"FROM {STAGED}"
    ).fetchall()[0]
    if grouped:   # STAGED holds only quarantined rows; the accepted ones are counted in their groups
        accepted = con.sql(f"SELECT coalesce(sum(__n), 0) FROM {AGG} WHERE __bad IS NULL").fetchall()[0][0]
    rejected = con.sql(f"SELECT count(*) FROM {REJECTED}").fetchall()[0][0]
    problems = [
        f"{path.name}: row {r}, column '{c}': {why}"
        for r, c, why in con.sql(
            f"(SELECT __row, __column, __reason FROM {STAGED} WHERE __reason IS NOT NULL ORDER BY __row LIMIT 5) "
            f"UNION ALL (SELECT row_number, coalesce(column_name, '*'), reason FROM {REJECTED} "
            f"ORDER BY row_number LIMIT 5) ORDER BY 1 LIMIT 5"
        ).fetchall()
    ]
    scope: list[dict[str, Any]] = []
    if plan.target_table == "cost_line":
        scope = [
            {"provider": p, "billing_account_id": a, "billing_period": bp, "rows": int(n),
             "billed_cost": str(b), "effective_cost": str(e)}
            for p, a, bp, n, b, e in con.sql(
                f"SELECT provider, coalesce(billing_account_id, ''), billing_period, sum(__n), "
                f"sum(billed_cost), sum(effective_cost) FROM {AGG} WHERE __bad IS NULL GROUP BY ALL ORDER BY ALL"
                if grouped else
                f"SELECT provider, coalesce(billing_account_id, ''), billing_period, count(*), "
                f"sum(billed_cost), sum(effective_cost) FROM {STAGED} WHERE __reason IS NULL "
                f"GROUP BY ALL ORDER BY ALL"
            ).fetchall()
        ]
    return StageMeta(kind=plan.kind, target_table=plan.target_table, rows_read=int(accepted + quarantined + rejected),
                     rows_accepted=int(accepted), rows_quarantined=int(quarantined + rejected),
                     warnings=list(plan.warnings), scope=scope, first_problems=problems, seconds=seconds)
