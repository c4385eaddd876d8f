"""How time and memory grow: 1M → 10M → 100M lines for the ingest, the month close, the what-if and the overview's
queries, each beside its hand-written DuckDB baseline in the same run (issue 18).

Every measurement runs in a fresh process with DuckDB's memory limit at `--limit-mb` (default 4096) on both sides:
the engine through its own setting (APPORTION_DUCKDB_MEMORY_LIMIT_MB; the ingest's load keeps its smaller budget),
the baseline through the same DuckDB option. Peak memory is each process's own max RSS.

- ingest: a FOCUS Parquet file of n lines (the real FOCUS 1.0 sample repeated, as bench_ingest, but written in the
  generator's order, unsorted: a sorted 100M-line file would cost a 100M-row sort to make) — `ingest_file` against
  DuckDB's `CREATE TABLE AS SELECT * FROM read_parquet(…)`. Parquet only: the CSV of 100M lines would be ~63 GB.
- close: bench_allocation's store of n lines (3-step cascade, 300 cost centres) — `run_allocation` against the
  hand-written allocation query; what-if: prepare once, median of 41 evaluations.
- overview: what the executive overview asks the engine for (pages/overview.py: the periods and their health, then
  ui/cache.overview_figures without Streamlit — KPIs, spend by month, two top-mover lists, untagged share — and
  its forecast panel: the default as-of day and the budget view, `forecast_s` of the engine's seconds)
  against one hand-written query computing the month's spend per business unit, service and tagging state with the
  same attribution joins.

Not collected by pytest; `python -m bench.bench_scale [--sizes 1000000 10000000 100000000]`. Needs ../shared (the
FOCUS sample) for the ingest part; skips it with a line when the sample is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from bench import bench_allocation, bench_ingest

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "data" / "bench" / "scale"
RESULTS = ROOT / "bench" / "results"
SIZES = (1_000_000, 10_000_000, 100_000_000)
LIMIT_MB = 4096

_OVERVIEW_BASELINE = """
SELECT l.billing_period, coalesce(b.name, 'Unattributed') AS bu, l.service_name,
       l.tag_cost_center IS NULL AS untagged, sum(l.effective_cost) AS cost
FROM cost_line l
LEFT JOIN org_unit tcc ON tcc.unit_id = l.tag_cost_center AND tcc.kind = 'cost_center'
LEFT JOIN account_owner ao ON ao.provider = l.provider AND ao.sub_account_id = l.sub_account_id
LEFT JOIN application app ON app.app_id = l.tag_application
LEFT JOIN org_unit c ON c.unit_id = coalesce(tcc.unit_id, app.cost_center_id, ao.cost_center_id)
LEFT JOIN org_unit b ON b.unit_id = c.parent_id
GROUP BY ALL
"""


def generate_focus(n: int, work: Path) -> Path:
    """The FOCUS sample repeated to n lines (bench_ingest's columns, ids, costs and tag sets), unsorted Parquet.
    Written through a file-backed scratch database so 100M lines spill instead of exhausting memory."""
    out = work / f"focus44u_{n}.parquet"
    if out.exists():
        return out
    work.mkdir(parents=True, exist_ok=True)
    scratch = work / "generate.duckdb"
    scratch.unlink(missing_ok=True)
    con = duckdb.connect(str(scratch), config={"memory_limit": f"{LIMIT_MB}MiB", "temp_directory": str(work / "tmp")})
    con.execute("SET preserve_insertion_order = false")
    select = bench_ingest.sample_select(con, n, materialise=False)
    con.execute(f"COPY ({select}) TO '{out}.part' (FORMAT parquet)")
    con.close()
    scratch.unlink(missing_ok=True)
    Path(f"{out}.part").rename(out)
    return out


def _limit_env(limit_mb: int) -> dict[str, str]:
    return {**os.environ, "APPORTION_DUCKDB_MEMORY_LIMIT_MB": str(limit_mb)}


def _child(module: str, args: list[str], limit_mb: int) -> dict[str, object]:
    res = subprocess.run([sys.executable, "-m", module, *args], cwd=str(ROOT), env=_limit_env(limit_mb),
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed: {res.stderr[-3000:]}")
    out: dict[str, object] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def _overview_one(kind: str, db: Path) -> dict[str, object]:
    """Inside a fresh process: the overview's figures (engine) or the hand-written query (baseline)."""
    from engine import store  # noqa: PLC0415
    from engine.access.users import User  # noqa: PLC0415
    from engine.insights import overview  # noqa: PLC0415
    from engine.insights.forecast import budget, series  # noqa: PLC0415
    from engine.insights.overview_figures import figures  # noqa: PLC0415

    con = store.connect(db, read_only=True)
    t0 = time.perf_counter()
    if kind == "baseline":
        rows = len(con.sql(_OVERVIEW_BASELINE).fetchall())
    else:
        # what the overview page asks the engine for (pages/overview.py, ui/cache.overview_figures)
        user = User("bench", "Bench", "finops", None)
        health = overview.period_health(con)
        period = list(health)[-1]
        rows = int(figures(con, user, period, stray={p for p, h in health.items() if h.stray}).kpis.total > 0)
        # and its forecast panel: the default as-of day, then budget / forecast / actual (the day rollup's reads)
        t1 = time.perf_counter()
        first, last = series.month_bounds(period)
        as_of = min(max(series.last_day_with_data(con, user, period) or first, first), last)
        forecast_rows = budget.view(con, user, period, as_of).by_cost_center.height
        forecast_s = time.perf_counter() - t1
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "rows": rows, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            **({"forecast_s": forecast_s, "forecast_rows": forecast_rows} if kind != "baseline" else {})}


def _ingest_one(kind: str, path: Path, db: Path) -> dict[str, object]:
    """Inside a fresh process: DuckDB's own load of the file under the memory limit, or the engine's ingest."""
    for suffix in ("", ".wal", ".audit-head"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    if kind == "baseline":
        limit = os.environ.get("APPORTION_DUCKDB_MEMORY_LIMIT_MB")
        con = duckdb.connect(str(db), config={"memory_limit": f"{limit}MiB"} if limit else {})
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{path}')")
        rows = int(con.sql("SELECT count(*) FROM t").fetchall()[0][0])
        con.close()
        child_mb = 0.0
    else:
        from engine import store  # noqa: PLC0415
        from engine.ingest.pipeline import ingest_file  # noqa: PLC0415

        con = store.connect(db)
        t0 = time.perf_counter()
        res = ingest_file(con, path, isolate=True)
        if res.status != "loaded":
            raise SystemExit(f"ingest failed: {res.messages}")
        rows = res.rows_loaded
        con.close()
        child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    seconds = time.perf_counter() - t0
    for suffix in ("", ".wal", ".audit-head"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return {"seconds": seconds, "rows": rows, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "child_mb": child_mb}


def _pair(rounds: int, base: list[str], eng: list[str], module: str, limit_mb: int,
          eng_module: str | None = None) -> dict[str, object]:
    """Baseline and engine alternating, `rounds` times; medians and the median of the per-round ratios."""
    b, e = [], []
    for _ in range(rounds):
        b.append(_child(module, base, limit_mb))
        e.append(_child(eng_module or module, eng, limit_mb))
    return {"baseline_s": statistics.median(_f(x["seconds"]) for x in b),
            "engine_s": statistics.median(_f(x["seconds"]) for x in e),
            "ratio": statistics.median(_f(y["seconds"]) / _f(x["seconds"]) for x, y in zip(b, e, strict=True)),
            "baseline_mb": max(_f(x["peak_mb"]) for x in b),
            "engine_mb": max(max(_f(x["peak_mb"]), _f(x.get("child_mb") or 0)) for x in e),
            "engine_rounds": e, "baseline_rounds": b}


def measure(n: int, rounds: int, limit_mb: int, parts: set[str]) -> dict[str, object]:
    WORK.mkdir(parents=True, exist_ok=True)
    out: dict[str, object] = {"n": n}
    me = "bench.bench_scale"
    if "ingest" in parts and bench_ingest.SAMPLE.exists():
        t0 = time.perf_counter()
        pq = Path(str(_child(me, ["--generate-focus", str(n)], limit_mb * 4)["path"]))
        out["focus_generated_s"] = time.perf_counter() - t0
        db = WORK / f"ingest_{n}.duckdb"
        out["ingest"] = _pair(rounds, ["--ingest-one", "baseline", str(pq), str(db)],
                              ["--ingest-one", "engine", str(pq), str(db)], me, limit_mb)
    elif "ingest" in parts:
        out["ingest_skipped"] = f"the FOCUS sample {bench_ingest.SAMPLE} is not here"
    if parts & {"close", "whatif", "overview"}:
        db = WORK / f"alloc_{n}.duckdb"
        t0 = time.perf_counter()
        _child(me, ["--generate-alloc", str(n), str(db)], limit_mb * 4)
        out["alloc_generated_s"] = time.perf_counter() - t0
        if "close" in parts:
            out["close"] = _pair(rounds, ["--one", "baseline", str(db)], ["--one", "engine", str(db)],
                                 "bench.bench_allocation", limit_mb)
        if "whatif" in parts:
            out["whatif"] = _child("bench.bench_allocation", ["--one", "whatif", str(db)], limit_mb)
        if "overview" in parts:
            out["overview"] = _pair(rounds, ["--overview-one", "baseline", str(db)],
                                    ["--overview-one", "engine", str(db)], me, limit_mb)
    return out


def _row(label: str, n: int, m: object) -> str:
    if not isinstance(m, dict):
        return f"| {label} | {n:,} | — | — | — | — | — |"
    return (f"| {label} | {n:,} | {_f(m['baseline_s']):.2f} | {_f(m['engine_s']):.2f} | {_f(m['ratio']):.2f}× |"
            f" {_f(m['baseline_mb']):.0f} | {_f(m['engine_mb']):.0f} |")


def _f(x: object) -> float:
    return float(x)  # type: ignore[arg-type]


def report(results: list[dict[str, object]], rounds: str, limit_mb: int) -> str:
    sizes = " → ".join(f"{int(_f(r['n'])):,}" for r in results)
    lines = [f"# Scale benchmark: {sizes} lines ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, DuckDB "
             f"{duckdb.__version__}; load average at the start {os.getloadavg()[0]:.2f}. DuckDB memory limit "
             f"{limit_mb} MiB on both sides; medians of {rounds} alternating round(s), each measurement a fresh "
             "process; peak MB = the process's max RSS (the ingest: the larger of the app-side process and its "
             "parser child).", "",
             "| what | lines | baseline s | engine s | ratio | baseline peak MB | engine peak MB |",
             "|---|---|---|---|---|---|---|"]
    for what in ("ingest", "close", "overview"):
        for r in results:
            lines.append(_row(what, int(_f(r["n"])), r.get(what)))
    lines += ["", "| lines | what-if prepare s | what-if evaluate median ms | what-if peak MB |", "|---|---|---|---|"]
    for r in results:
        w = r.get("whatif")
        if isinstance(w, dict):
            lines.append(f"| {int(_f(r['n'])):,} | {_f(w['prepare_s']):.2f} | {_f(w['median_ms']):.1f} | "
                         f"{_f(w['peak_mb']):.0f} |")
    lines += ["", "Growth from each size to the next (engine seconds ÷ engine seconds; 10.0 = linear for 10× the "
              "lines):", ""]
    for what in ("ingest", "close", "overview"):
        have = [(int(_f(r["n"])), m) for r in results if isinstance(m := r.get(what), dict)]
        steps = [f"{a:,} → {b:,}: {_f(mb['engine_s']) / _f(ma['engine_s']):.1f}×"
                 for (a, ma), (b, mb) in zip(have, have[1:], strict=False)]
        if steps:
            lines.append(f"- {what}: " + "; ".join(steps))
    skipped = [str(r["ingest_skipped"]) for r in results if "ingest_skipped" in r]
    if skipped:
        lines += ["", f"Ingest skipped: {skipped[0]}."]
    return "\n".join(lines) + "\n"


def run(sizes: tuple[int, ...] = SIZES, rounds: int = 3, limit_mb: int = LIMIT_MB,
        parts: tuple[str, ...] = ("ingest", "close", "whatif", "overview"), keep: bool = False,
        big_rounds: int = 1, out: str = "scale") -> str:
    """`rounds` alternating rounds per size below 100M lines, `big_rounds` from 100M up (one 100M ingest round
    takes several minutes)."""
    results = []
    for n in sizes:
        results.append(measure(n, rounds if n < 100_000_000 else big_rounds, limit_mb, set(parts)))
        (RESULTS / f"{out}.json").write_text(json.dumps(results, indent=2, default=str))
        if not keep and n >= 100_000_000:
            shutil.rmtree(WORK, ignore_errors=True)   # the 100M files and stores take ~15 GB
    text = report(results, f"{rounds} (below 100M lines; {big_rounds} from 100M)", limit_mb)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{out}.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--big-rounds", type=int, default=1, help="rounds from 100M lines up")
    p.add_argument("--limit-mb", type=int, default=LIMIT_MB)
    p.add_argument("--parts", nargs="+", default=["ingest", "close", "whatif", "overview"],
                   choices=["ingest", "close", "whatif", "overview"])
    p.add_argument("--out", default="scale", help="results file stem under bench/results (default scale)")
    p.add_argument("--keep", action="store_true", help="keep the 100M files and stores under data/bench/scale")
    p.add_argument("--generate-focus", type=int, help=argparse.SUPPRESS)
    p.add_argument("--generate-alloc", nargs=2, metavar=("ROWS", "DB"), help=argparse.SUPPRESS)
    p.add_argument("--ingest-one", nargs=3, metavar=("KIND", "FILE", "DB"), help=argparse.SUPPRESS)
    p.add_argument("--overview-one", nargs=2, metavar=("KIND", "DB"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.generate_focus:
        print(json.dumps({"path": str(generate_focus(args.generate_focus, WORK))}))
    elif args.generate_alloc:
        print(json.dumps({"seconds": bench_allocation.generate(int(args.generate_alloc[0]),
                                                               Path(args.generate_alloc[1]))}))
    elif args.ingest_one:
        print(json.dumps(_ingest_one(args.ingest_one[0], Path(args.ingest_one[1]), Path(args.ingest_one[2]))))
    elif args.overview_one:
        print(json.dumps(_overview_one(args.overview_one[0], Path(args.overview_one[1]))))
    else:
        print(run(tuple(args.sizes), args.rounds, args.limit_mb, tuple(args.parts), args.keep, args.big_rounds,
                  args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
