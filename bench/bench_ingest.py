"""Ingest of N FOCUS lines (default 10M) from Parquet and from CSV, against DuckDB's own
`CREATE TABLE AS SELECT * FROM read_parquet/read_csv` on the same file in the same run.

Each measurement runs in a fresh process so its peak memory is its own: the pipeline's parent (the app side, holding
the store) and its sandboxed child are reported separately (RUSAGE_SELF / RUSAGE_CHILDREN). Goal: ≤ 1.5× the
baseline, peak ≤ 2 GB. Not collected by pytest (no test_ prefix); run `python -m bench` or this module.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "data" / "bench"
RESULTS = ROOT / "bench" / "results"


SAMPLE = ROOT.parent / "shared" / "samples" / "focus_1.0_sample_1000rows.csv"


def generate(n: int, work: Path, shape: str = "sample") -> tuple[Path, Path]:
    """`sample` (default): the real FOCUS 1.0 sample (44 columns, every mandatory column, real tag sets and
    descriptions) repeated to n lines, each copy with its own ids, resources (ResourceId + suffix), scaled costs and
    a quarter of the tag sets extended with a team key (~5.7k distinct tag sets); CSV in the sample's row order.
    `narrow`: the earlier synthetic 23-column file (it lacks a dozen mandatory FOCUS columns)."""
    work.mkdir(parents=True, exist_ok=True)
    stem = "focus" if shape == "narrow" else "focus44"
    csv_path, pq_path = work / f"{stem}_{n}.csv", work / f"{stem}_{n}.parquet"
    if csv_path.exists() and pq_path.exists():
        return csv_path, pq_path
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    if shape == "narrow":
        select = _narrow_select(n)
    else:
        select = sample_select(con, n)
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"COPY ({select}) TO '{pq_path}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT * FROM read_parquet('{pq_path}')) TO '{csv_path}' (FORMAT csv, HEADER)")
    con.close()
    return csv_path, pq_path


def sample_select(con: duckdb.DuckDBPyConnection, n: int, materialise: bool = True) -> str:
    """The SELECT that yields n lines made from the FOCUS sample. `materialise`: build them as a table first and
    read them back in the sample's row order (the files of this bench); otherwise in whatever order DuckDB
    produces them, streamed (bench_scale's 100M-line file)."""
    con.execute(f"CREATE TABLE s AS SELECT row_number() OVER () - 1 AS r, * "
                f"FROM read_csv('{SAMPLE}', nullstr = 'NULL', all_varchar = true)")
    m = int(con.sql("SELECT count(*) FROM s").fetchall()[0][0])
    reps = -(-n // m)
    scaled = "CAST(CAST(s.{c} AS DECIMAL(38, 11)) * (1 + (k % 7) / 10) AS DECIMAL(38, 11))::VARCHAR AS {c}"
    body = f"""SELECT k * {m} + s.r AS __ord, s.* EXCLUDE (r) REPLACE (
        {scaled.format(c="BilledCost")}, {scaled.format(c="EffectiveCost")}, {scaled.format(c="ListCost")},
        (CAST(s.Id AS BIGINT) * {reps} + k)::VARCHAR AS Id,
        CASE WHEN s.ResourceId IS NULL THEN NULL ELSE s.ResourceId || '-' || (k % 500)::VARCHAR END AS ResourceId,
        CASE WHEN s.Tags IS NOT NULL AND k % 4 = 0
             THEN replace(s.Tags, '}}', ', "team": "T' || (k % 60)::VARCHAR || '"}}') ELSE s.Tags END AS Tags)
        FROM s, range({reps}) t(k) WHERE k * {m} + s.r < {n}"""
    # typed as a real Parquet export would be: the types DuckDB infers for the sample
    typed = con.sql(f"DESCRIBE SELECT * FROM read_csv('{SAMPLE}', nullstr = 'NULL')").fetchall()
    casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t, *_ in typed)
    if not materialise:
        return f"SELECT {casts} FROM ({body})"
    con.execute(f"CREATE TABLE big AS {body}")
    return f"SELECT {casts} FROM big ORDER BY __ord"


def _narrow_select(n: int) -> str:
    return f"""
        SELECT
          ['AWS', 'Microsoft', 'Google Cloud'][1 + (i % 3)::INT] AS ServiceProviderName,
          'BA-' || (i % 4)::VARCHAR AS BillingAccountId,
          'SUB-' || (i % 97)::VARCHAR AS SubAccountId,
          'USD' AS BillingCurrency,
          TIMESTAMP '2025-03-01' AS BillingPeriodStart,
          TIMESTAMP '2025-04-01' AS BillingPeriodEnd,
          TIMESTAMP '2025-03-01' + INTERVAL (i % 744) HOUR AS ChargePeriodStart,
          TIMESTAMP '2025-03-01' + INTERVAL (i % 744 + 1) HOUR AS ChargePeriodEnd,
          CASE WHEN i % 50 = 0 THEN 'Purchase' WHEN i % 97 = 0 THEN 'Tax' ELSE 'Usage' END AS ChargeCategory,
          CASE WHEN i % 50 = 0 THEN 'Recurring' WHEN i % 2 = 0 THEN 'Usage-Based' ELSE 'Usage-based' END
            AS ChargeFrequency,
          CASE WHEN i % 7 = 0 THEN 'Committed' ELSE 'Standard' END AS PricingCategory,
          round(((i * 7919) % 100000) / 10000.0, 6)::DECIMAL(18, 6) AS BilledCost,
          round(((i * 7919) % 100000) / 12500.0, 6)::DECIMAL(18, 6) AS EffectiveCost,
          round(((i * 7919) % 100000) / 9000.0, 6)::DECIMAL(18, 6) AS ListCost,
          'Service ' || (i % 40)::VARCHAR AS ServiceName,
          ['Compute', 'Storage', 'Networking', 'Databases'][1 + (i % 4)::INT] AS ServiceCategory,
          'arn:res:' || (i % 5000)::VARCHAR AS ResourceId,
          ['us-east-1', 'eu-west-1', 'westeurope', 'europe-west3'][1 + (i % 4)::INT] AS RegionId,
          'SKU' || (i % 300)::VARCHAR AS SkuId,
          ((i % 24) + 1)::DOUBLE AS ConsumedQuantity,
          'Hours' AS ConsumedUnit,
          CASE i % 4
            WHEN 0 THEN '{{"CostCenter": "CC' || (i % 60)::VARCHAR || '", "env": "prod", "app": "app' ||
                        (i % 80)::VARCHAR || '"}}'
            WHEN 1 THEN '{{"cost-center": "CC' || (i % 60)::VARCHAR || '", "Environment": "dev"}}'
            WHEN 2 THEN NULL
            ELSE '{{" org": "Finance", "Owner": "team' || (i % 30)::VARCHAR || '"}}' END AS Tags
        FROM range({n}) t(i)
    """


def _one(kind: str, path: Path, db: Path) -> dict[str, float]:
    """Runs inside its own process; prints JSON with seconds and peak RSS (self, children) in MB."""
    if db.exists():
        db.unlink()
    t0 = time.perf_counter()
    rows = 0
    parse_s = 0.0
    if kind == "baseline":
        con = duckdb.connect(str(db))
        reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}('{path}')")
        rows = con.sql("SELECT count(*) FROM t").fetchall()[0][0]
        con.close()
    else:
        from engine import store  # noqa: PLC0415
        from engine.ingest.pipeline import ingest_file  # noqa: PLC0415

        con = store.connect(db)
        t0 = time.perf_counter()
        res = ingest_file(con, path, isolate=True)
        if res.status != "loaded":
            raise SystemExit(f"ingest failed: {res.messages}")
        rows = res.rows_loaded
        parse_s = res.parse_seconds
        con.close()
    seconds = time.perf_counter() - t0
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "rows": rows, "self_mb": self_mb, "child_mb": child_mb, "parse_seconds": parse_s}


def _measure(kind: str, path: Path, work: Path) -> dict[str, float]:
    db = work / f"bench_{kind}_{path.suffix.strip('.')}.duckdb"
    out = subprocess.run([sys.executable, "-m", "bench.bench_ingest", "--one", kind, str(path), str(db)],
                         cwd=str(ROOT), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {path.name} failed: {out.stderr[-2000:]}")
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(values: list[float]) -> float:
    return statistics.median(values)


def run(n: int = 10_000_000, repeat: int = 3, shape: str = "sample") -> str:
    """Baseline and ingest alternate per round (same file, same run); the table shows medians over the rounds,
    the ratio is the median of the per-round ratios."""
    work = WORK
    t0 = time.perf_counter()
    # generated in a process of its own: DuckDB may take most of the RAM to write the files, and a process forked
    # from a parent that large starts with the parent's peak RSS, which would be reported as every later peak
    made = subprocess.run([sys.executable, "-m", "bench.bench_ingest", "--generate", str(n), shape],
                          cwd=str(ROOT), capture_output=True, text=True, check=True)
    csv_path, pq_path = (Path(x) for x in json.loads(made.stdout.strip().splitlines()[-1]))
    gen_s = time.perf_counter() - t0
    described = ("the FOCUS 1.0 sample's 44 columns, repeated (see `generate`)" if shape == "sample" else
                 "the narrow synthetic 23-column file")
    lines = [f"# Ingest benchmark: {n:,} FOCUS lines ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"File shape: {described}.",
             f"Generated in {gen_s:.1f} s: CSV {csv_path.stat().st_size / 1e9:.2f} GB, "
             f"Parquet {pq_path.stat().st_size / 1e9:.2f} GB. Medians of {repeat} rounds; each round runs the "
             "baseline then the ingest on the same file, each in a fresh process.", "",
             "| source | baseline CTAS s | ingest s (child parse s) | ratio | baseline peak MB | ingest parent MB | "
             "ingest child MB |", "|---|---|---|---|---|---|---|"]
    record: dict[str, object] = {"n": n, "repeat": repeat, "shape": shape}
    for label, path in (("parquet", pq_path), ("csv", csv_path)):
        rounds = []
        for _ in range(repeat):
            base = _measure("baseline", path, work)
            ing = _measure("ingest", path, work)
            rounds.append({"baseline": base, "ingest": ing, "ratio": ing["seconds"] / base["seconds"]})
        b_s = _median([r["baseline"]["seconds"] for r in rounds])  # type: ignore[index]
        i_s = _median([r["ingest"]["seconds"] for r in rounds])  # type: ignore[index]
        p_s = _median([r["ingest"]["parse_seconds"] for r in rounds])  # type: ignore[index]
        ratio = _median([float(r["ratio"]) for r in rounds])  # type: ignore[arg-type]
        b_mb = max(r["baseline"]["self_mb"] for r in rounds)  # type: ignore[index]
        p_mb = max(r["ingest"]["self_mb"] for r in rounds)  # type: ignore[index]
        c_mb = max(r["ingest"]["child_mb"] for r in rounds)  # type: ignore[index]
        record[label] = {"rounds": rounds, "median_ratio": ratio,
                         "median": {"baseline_s": b_s, "ingest_s": i_s, "child_parse_s": p_s}}
        lines.append(f"| {label} | {b_s:.2f} | {i_s:.2f} ({p_s:.2f}) | {ratio:.2f}× | {b_mb:.0f} | {p_mb:.0f} | "
                     f"{c_mb:.0f} |")
        per_round = ", ".join(f"{float(r['ratio']):.2f}×" for r in rounds)  # type: ignore[arg-type]
        lines.append(f"|   rounds | | | {per_round} | | | |")
    lines += ["", "Goal: ratio ≤ 1.5×, peak ≤ 2048 MB (parent and child each; peaks are the max over rounds)."]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "ingest" if shape == "sample" else f"ingest_{shape}"
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps(record, indent=2))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--shape", choices=("sample", "narrow"), default="sample")
    p.add_argument("--one", nargs=3, metavar=("KIND", "PATH", "DB"), help=argparse.SUPPRESS)
    p.add_argument("--generate", nargs=2, metavar=("ROWS", "SHAPE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.generate:
        paths = generate(int(args.generate[0]), WORK, args.generate[1])
        print(json.dumps([str(x) for x in paths]))
        return 0
    if args.one:
        kind, path, db = args.one
        print(json.dumps(_one(kind, Path(path), Path(db))))
        return 0
    print(run(args.rows, args.repeat, args.shape))
    return 0


if __name__ == "__main__":
    sys.exit(main())
