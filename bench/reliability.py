"""`python -m bench.reliability`: try to break the store and write what happened to docs/reliability.md.

Three parts (docs/reliability.md explains each and holds the last figures):

1. **Kill trials**: a worker process (`python -m bench.reliability --worker OP …`) ingests a bill, re-delivers a
   month or closes a month, and is sent SIGKILL after a random delay. After each kill: the worker's descendants
   (the sandboxed parser child) must be gone, the worker's temp folders must be removed by the next start's sweep,
   and the store must be consistent; then the same operation is run again to completion and must count every line
   once.
2. **Hostile corpus**: tests/unit/ingest/test_hostile_files.CORPUS through the real pipeline: crashes, partial
   writes and imprecise messages are counted.
3. **Concurrency** (bench/room.py): N Playwright browser contexts on a localhost server, each logged in as a demo
   user and working through its sidebar until the time is up: page latency (median, p95), errors, lost sessions
   and the CPU seconds each side used.

`--quick` is the small slice `make test` runs as ordinary tests (tests/unit/ingest/test_clean_kills.py,
tests/e2e/test_concurrent_sessions.py) — here it only shortens every part.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from bench.room import ARRIVE_S, PER_BROWSER, RELOAD_EVERY, THINK_S, RoomReport, room

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
DOC = ROOT / "docs" / "reliability.md"
PREFIXES = ("apportion-ingest-", "apportion-upload-", "apportion-parse-")
OPS = ("ingest", "redeliver", "close")


# ------------------------------------------------------------------------------------------------ store checks

def check_store(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Inconsistencies and double counts a kill could leave; empty when the store is whole."""
    problems: list[str] = []

    def one(sql: str) -> int:
        return int(con.sql(sql).fetchall()[0][0] or 0)

    n = one("SELECT count(*) FROM cost_line c LEFT JOIN ingest_batch b USING (batch_id) "
            "WHERE b.batch_id IS NULL OR b.status <> 'loaded'")
    if n:
        problems.append(f"inconsistency: {n} cost lines of a batch that is missing or not loaded")
    for batch, lines, scoped in con.sql(
            "SELECT b.batch_id, (SELECT count(*) FROM cost_line c WHERE c.batch_id = b.batch_id), "
            "(SELECT coalesce(sum(rows_loaded), 0) FROM ingest_batch_scope s WHERE s.batch_id = b.batch_id "
            "AND s.replaced_by IS NULL) FROM ingest_batch b WHERE b.status = 'loaded' AND b.target_table = "
            "'cost_line' AND b.source_kind <> 'demo'").fetchall():
        if int(lines) != int(scoped):
            problems.append(f"inconsistency: batch {batch} holds {lines} cost lines, its live scope says {scoped}")
    for p, a, bp, k in con.sql(
            "SELECT s.provider, s.billing_account_id, s.billing_period, count(DISTINCT s.batch_id) FROM "
            "ingest_batch_scope s JOIN ingest_batch b USING (batch_id) WHERE b.status = 'loaded' AND "
            "s.replaced_by IS NULL GROUP BY ALL HAVING count(DISTINCT s.batch_id) > 1").fetchall():
        problems.append(f"double count: {k} live batches for {p} / {a} / {bp}")
    n = one("SELECT count(*) FROM quarantine_row q LEFT JOIN ingest_batch b USING (batch_id) "
            "WHERE b.batch_id IS NULL")
    if n:
        problems.append(f"inconsistency: {n} quarantine rows without a batch")
    for run, total, posted, rows in con.sql(
            "SELECT r.run_key, r.total_out, coalesce(sum(a.posted_amount), 0), count(a.run_key) FROM allocation_run r "
            "LEFT JOIN allocation_result a USING (run_key) WHERE r.status = 'posted' GROUP BY ALL").fetchall():
        if rows == 0 or Decimal(posted) != Decimal(total):
            problems.append(f"inconsistency: posted run {run} has {rows} rows summing to {posted}, recorded {total}")
    n = one("SELECT count(*) FROM allocation_result a LEFT JOIN allocation_run r USING (run_key) "
            "WHERE r.run_key IS NULL OR r.status <> 'posted'")
    if n:
        problems.append(f"inconsistency: {n} allocation rows of a run that is not posted")
    return problems


# ------------------------------------------------------------------------------------------------ processes

def _ppid_and_state(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (scanning /proc)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            info = _ppid_and_state(int(d.name))
            if info:
                parents[int(d.name)] = info[0]
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        nxt = {c for c, p in parents.items() if p in frontier and c not in found}
        found |= nxt
        frontier = nxt
    return found


def alive(pid: int) -> bool:
    info = _ppid_and_state(pid)
    return info is not None and info[1] != "Z"


def temp_folders(base: Path) -> list[Path]:
    return [p for p in base.iterdir() if p.name.startswith(PREFIXES)] if base.exists() else []


# ------------------------------------------------------------------------------------------------ inputs

def focus_bill(path: Path, account: str, lines: int, scale: str = "1") -> Path:
    """The FOCUS sample's rows repeated to `lines` lines (distinct resources) for one billing account, billed in
    USD (the store's reporting currency): the sample bills in EUR, and a bill without a stored FX rate for its month
    is quarantined — the harness measures kills and load, not FX (tests/unit/fx/ does)."""
    rows = list(csv.reader(io.StringIO((FIXTURES / "focus_1.2_sample.csv").read_text())))
    head, body = rows[0], rows[1:]
    ri, ai, ci = head.index("ResourceId"), head.index("BillingAccountId"), head.index("BillingCurrency")
    bi, ei = head.index("BilledCost"), head.index("EffectiveCost")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for i in range(lines):
        r = list(body[i % len(body)])
        r[ri], r[ai], r[ci] = f"res-{i}", account, "USD"
        r[bi] = str(Decimal(r[bi]) * Decimal(scale))
        r[ei] = str(Decimal(r[ei]) * Decimal(scale))
        w.writerow(r)
    path.write_text(buf.getvalue())
    return path


def bill_total(path: Path) -> Decimal:
    with open(path) as f:
        return sum((Decimal(r["BilledCost"]) for r in csv.DictReader(f)), Decimal(0))


# ------------------------------------------------------------------------------------------------ the worker

def worker(op: str, db: Path, arg: str) -> int:
    """One operation, run to its end unless killed (the harness's child)."""
    from engine import store  # noqa: PLC0415

    con = store.connect(db)
    if op in ("ingest", "redeliver"):
        from engine.ingest.pipeline import ingest_file  # noqa: PLC0415

        res = ingest_file(con, Path(arg), user="bench", replace=op == "redeliver")   # a re-delivery is meant
        print(json.dumps({"status": res.status, "messages": res.messages[:2]}))
        return 0 if res.ok else 1
    from data.demo_close import ensure_rule_set  # noqa: PLC0415
    from engine.allocation.runs import run_allocation  # noqa: PLC0415

    name, _ = ensure_rule_set(con)
    s = run_allocation(con, arg, name, actor="bench")
    print(json.dumps({"status": s.status}))
    return 0


def _spawn(op: str, db: Path, arg: str, tmp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "bench.reliability", "--worker", op, str(db), arg], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@dataclass
class Trial:
    op: str
    delay: float
    killed: bool
    children_seen: int = 0
    orphans: int = 0
    folders_left: int = 0          # after the start-up sweep
    folders_swept: int = 0
    problems: list[str] = field(default_factory=list)
    rerun_problems: list[str] = field(default_factory=list)


@dataclass
class KillReport:
    trials: list[Trial]
    seconds: float

    def count(self, what: str) -> int:
        return sum(getattr(t, what) if isinstance(getattr(t, what), int) else len(getattr(t, what))
                   for t in self.trials)


def kill_trials(n: int, work: Path, lines: int = 20_000, seed: int = 19) -> KillReport:
    """`n` SIGKILLs spread over ingest, re-delivery and month close; see the module doc."""
    from data.demo_close import ensure_rule_set  # noqa: PLC0415
    from data.generate import generate  # noqa: PLC0415
    from engine import store  # noqa: PLC0415
    from engine.ingest import workdirs  # noqa: PLC0415

    rnd = random.Random(seed)
    t0 = time.perf_counter()
    tmp = work / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    template = work / "template.duckdb"
    con = store.connect(template)
    generate(con, lines=5_000)
    ensure_rule_set(con)
    periods = [r[0] for r in con.sql("SELECT DISTINCT billing_period FROM cost_line ORDER BY 1").fetchall()]
    con.close()
    shared = work / "ingest.duckdb"
    shutil.copy(template, shared)
    # how long each operation takes when left alone: kills land anywhere in that span
    span: dict[str, float] = {}
    for op in OPS:
        arg = (str(focus_bill(work / "calib.csv", "BA-CAL", lines)) if op != "close" else periods[-1])
        db = shared if op != "close" else work / "calib.duckdb"
        if op == "close":
            shutil.copy(template, db)
        s = time.perf_counter()
        p = _spawn(op, db, arg, tmp)
        p.wait()
        span[op] = time.perf_counter() - s
    trials: list[Trial] = []
    i = -1
    while sum(t.killed for t in trials) < n and len(trials) < 3 * n:   # `n` kills mid-way, not `n` attempts
        i += 1
        op = OPS[i % len(OPS)]
        if op == "ingest":
            db, arg = shared, str(focus_bill(work / f"bill_{i}.csv", f"BA-K{i}", lines))
        elif op == "redeliver":
            db, arg = shared, str(focus_bill(work / f"redeliver_{i}.csv", "BA-R", lines, scale=str(1 + i)))
        else:
            db = work / f"close_{i}.duckdb"
            shutil.copy(template, db)
            arg = periods[i % len(periods)]
        delay = rnd.uniform(0.3, span[op] * 0.8)
        proc = _spawn(op, db, arg, tmp)
        seen: set[int] = set()
        started = time.monotonic()
        end = started + delay
        while time.monotonic() < end and proc.poll() is None:
            seen |= descendants(proc.pid)
            time.sleep(0.05)
        killed = proc.poll() is None
        if not killed:   # it finished first: later delays fall within what it takes now (a warm store is faster)
            span[op] = max(0.5, time.monotonic() - started)
        if killed:
            seen |= descendants(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
        _, first_err = proc.communicate()
        trial = Trial(op, delay, killed, children_seen=len(seen))
        if not killed and proc.returncode != 0:
            trial.problems.append(f"the un-killed run failed: {first_err.decode(errors='replace')[-300:]}")
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and any(alive(c) for c in seen):
            time.sleep(0.05)
        trial.orphans = sum(1 for c in seen if alive(c))
        for c in seen:   # never leave one behind, even when counted
            if alive(c):
                os.kill(c, signal.SIGKILL)
        trial.folders_swept = workdirs.sweep(tmp)   # what the next start does
        trial.folders_left = len(temp_folders(tmp))
        c = store.connect(db)
        trial.problems += check_store(c)
        c.close()
        # run it again, to its end: it must count every line once
        again = _spawn(op, db, arg, tmp)
        out, err = again.communicate()
        c = store.connect(db)
        trial.rerun_problems = check_store(c)
        if op != "close":
            expected = bill_total(Path(arg))
            account = f"BA-K{i}" if op == "ingest" else "BA-R"
            got = c.sql("SELECT coalesce(sum(billed_cost), 0), count(*) FROM cost_line WHERE billing_account_id = ?",
                        params=[account]).fetchall()[0]
            if Decimal(got[0]) != expected or int(got[1]) != lines:
                trial.rerun_problems.append(f"double count: {account} holds {got[1]} lines / {got[0]}, the file "
                                            f"has {lines} / {expected}")
        else:
            runs = c.sql("SELECT count(*) FROM allocation_run WHERE period = ? AND status = 'posted' "
                         "AND started_by = 'bench'", params=[arg]).fetchall()[0][0]
            if runs != 1:
                trial.rerun_problems.append(f"double count: {runs} posted bench runs for {arg}")
        if again.returncode != 0:
            trial.rerun_problems.append(f"re-run failed: {err.decode()[-300:]}")
        c.close()
        if op == "close":
            db.unlink(missing_ok=True)
            db.with_name(db.name + ".wal").unlink(missing_ok=True)
        trials.append(trial)
        print(f"  trial {i + 1} (kills {sum(t.killed for t in trials)}/{n}) {op:9} after {delay:4.1f}s "
              f"killed={killed} children={len(seen)} "
              f"orphans={trial.orphans} swept={trial.folders_swept} left={trial.folders_left} "
              f"problems={len(trial.problems) + len(trial.rerun_problems)}", flush=True)
    return KillReport(trials, time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------------ hostile corpus

@dataclass
class CorpusReport:
    files: int
    crashes: list[str]
    failures: list[str]
    seconds: float


def hostile_corpus(work: Path) -> CorpusReport:
    from engine import store  # noqa: PLC0415
    from engine.ingest.pipeline import ingest_file  # noqa: PLC0415
    from tests.fx_rates import seed_test_rates  # noqa: PLC0415
    from tests.unit.ingest.test_hostile_files import CORPUS, check_case  # noqa: PLC0415

    t0 = time.perf_counter()
    d = work / "corpus"
    d.mkdir(parents=True, exist_ok=True)
    con = store.connect(d / "corpus.duckdb")
    seed_test_rates(con)   # the corpus holds EUR files
    crashes: list[str] = []
    failures: list[str] = []
    for case in CORPUS:
        path = d / case.name
        path.write_bytes(case.data)
        before = store.table_checksums(con)
        try:
            res = ingest_file(con, path)   # in the sandboxed child, as the app runs it
        except Exception as exc:  # noqa: BLE001 - a crash is what this counts
            crashes.append(f"{case.name}: {type(exc).__name__}: {exc}")
            continue
        try:
            check_case(con, case, res, before)
        except AssertionError as exc:
            failures.append(f"{case.name}: {exc}")
    con.close()
    return CorpusReport(len(CORPUS), crashes, failures, time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------------ concurrency

# ------------------------------------------------------------------------------------------------ report

def _q(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def room_lines(rm: RoomReport) -> list[str]:
    cpu, wall = rm.cpu, rm.cpu.get("wall", 0.0)
    wire = rm.sessions - rm.browsers
    kinds = f"{rm.browsers} in chromium (Playwright contexts, {PER_BROWSER} per chromium)" + (
        f" and {wire} speaking Streamlit's websocket protocol (bench/wire.py)" if wire else "")
    lines = ["### Concurrency", "",
             f"{rm.sessions} sessions on localhost — {kinds} — arriving "
             f"{ARRIVE_S:.0f} s apart, each logging in as a demo user and then working through its sidebar until "
             f"{rm.seconds:.0f} s after the last arrival (bench/room.py: pages in turn, {THINK_S[0]:.0f}–"
             f"{THINK_S[1]:.0f} s reading each, a slider move on the workshop, the statement CSV, a reload every "
             f"{RELOAD_EVERY}th step).", "",
             "| sessions | logins | login median s | page loads | load median s | load p95 s | slider moves | "
             "move median s | downloads | reloads | errors | lost sessions |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|",
             f"| {rm.sessions} | {len(rm.logins)} | {_q(rm.logins, 50):.1f} | {len(rm.loads)} | "
             f"{_q(rm.loads, 50):.2f} | {_q(rm.loads, 95):.2f} | {len(rm.moves)} | {_q(rm.moves, 50):.2f} | "
             f"{rm.downloads} | {rm.reloads} | {len(rm.errors)} | {rm.lost} |", ""]
    if len(rm.by_kind) > 1:
        lines += ["| kind | logins | login median s | page loads | load median s | load p95 s |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {kind} | {len(f['logins'])} | {_q(f['logins'], 50):.1f} | {len(f['loads'])} | "
                  f"{_q(f['loads'], 50):.2f} | {_q(f['loads'], 95):.2f} |"
                  for kind, f in sorted(rm.by_kind.items())]
        lines.append("")
    if wall:
        lines += [f"CPU seconds over the {wall:.0f} s the browser ran ({os.cpu_count()} cores: "
                  f"{wall * (os.cpu_count() or 1):.0f} available): server {cpu.get('server', 0):.0f} (its job runner "
                  f"included), browser {cpu.get('browser', 0):.0f}, harness {cpu.get('harness', 0):.0f}, CLI clients "
                  f"{cpu.get('jobs', 0):.0f}.", ""]
    if rm.jobs:
        lines += ["While the sessions ran, through `python -m engine` (the app's job runner took them):", ""]
        lines += [f"- {j.what}: exit {j.rc} after {j.seconds:.1f} s — {j.last_line}" for j in rm.jobs] + [""]
    return lines + [f"- {e}" for e in rm.errors[:20]] + [""]


def write_doc(kills: KillReport | None, corpus: CorpusReport | None, rm: RoomReport | None, note: str, *,
              write: bool = True) -> str:
    old = DOC.read_text() if DOC.exists() else ""
    marker = "<!-- figures: written by python -m bench.reliability -->"
    head = old.split(marker)[0] if marker in old else old
    lines = [marker, "", f"## Last run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "", note, ""]
    if kills:
        t = kills.trials
        killed = [x for x in t if x.killed]
        lines += ["### Kill trials", "",
                  "| operation | trials | killed mid-way | parser children seen | orphans | folders swept | "
                  "folders left | inconsistencies after kill | problems after re-run |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for op in OPS:
            s = [x for x in t if x.op == op]
            lines.append(f"| {op} | {len(s)} | {sum(x.killed for x in s)} | {sum(x.children_seen for x in s)} | "
                         f"{sum(x.orphans for x in s)} | {sum(x.folders_swept for x in s)} | "
                         f"{sum(x.folders_left for x in s)} | {sum(len(x.problems) for x in s)} | "
                         f"{sum(len(x.rerun_problems) for x in s)} |")
        lines += ["", f"{len(killed)} of {len(t)} workers were killed mid-way (the others had finished before their "
                  f"random delay); {kills.seconds:.0f} s in all."]
        found = [p for x in t for p in x.problems + x.rerun_problems]
        lines += [""] + ([f"- {p}" for p in found[:20]] or ["Nothing found: 0 inconsistencies, 0 double counts."])
        lines.append("")
    if corpus:
        lines += ["### Hostile corpus", "",
                  f"{corpus.files} files through the sandboxed pipeline in {corpus.seconds:.0f} s: "
                  f"{len(corpus.crashes)} crashes, {len(corpus.failures)} partial writes or imprecise messages."]
        lines += [f"- {x}" for x in (corpus.crashes + corpus.failures)[:20]] + [""]
    if rm:
        lines += room_lines(rm)
    # parts skipped in this run keep their last figures
    previous = old.split(marker, 1)[1] if marker in old else ""
    ran = {"### Kill trials": kills, "### Hostile corpus": corpus, "### Concurrency": rm}
    for title, part in ran.items():
        if part is None and title in previous:
            kept = previous.split(title, 1)[1].split("\n### ", 1)[0]
            lines += [title + kept.rstrip(), ""]
    text = head.rstrip() + "\n\n" + "\n".join(lines)
    if write:
        DOC.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reliability")
    ap.add_argument("--worker", nargs=3, metavar=("OP", "DB", "ARG"), help=argparse.SUPPRESS)
    ap.add_argument("--kills", type=int, default=51)
    ap.add_argument("--lines", type=int, default=20_000, help="lines per bill in the ingest trials")
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--browsers", type=int, default=None,
                    help="sessions in chromium (default: all); the rest speak the websocket (bench/wire.py)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["kills", "corpus", "room"])
    ap.add_argument("--room-db", type=Path, default=None, help="copy this demo store for the concurrency run")
    ap.add_argument("--no-jobs", action="store_true", help="no CLI ingest and month close during the room")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    ap.add_argument("--note", default="", help="how the machine was loaded, for the report")
    ap.add_argument("--no-doc", action="store_true", help="print, do not write docs/reliability.md")
    args = ap.parse_args(argv)
    if args.worker:
        op, db, arg = args.worker
        return worker(op, Path(db), arg)
    work = Path(tempfile.mkdtemp(prefix="reliability-"))
    try:
        kills = None if "kills" in args.skip else kill_trials(args.kills, work, args.lines)
        corpus = None if "corpus" in args.skip else hostile_corpus(work)
        rm = None if "room" in args.skip else room(args.sessions, args.seconds, work, args.room_db,
                                                   jobs=not args.no_jobs, browsers=args.browsers)
        if args.json:
            args.json.write_text(json.dumps({
                "kills": None if kills is None else {k: kills.count(k) for k in
                                                     ("orphans", "folders_left", "problems", "rerun_problems")}
                | {"trials": len(kills.trials), "killed": sum(t.killed for t in kills.trials)},
                "corpus": None if corpus is None else {"files": corpus.files, "crashes": corpus.crashes,
                                                       "failures": corpus.failures},
                "room": None if rm is None else {"sessions": rm.sessions, "logins": len(rm.logins),
                                                 "loads": len(rm.loads), "errors": rm.errors, "lost": rm.lost,
                                                 "median": _q(rm.loads, 50), "p95": _q(rm.loads, 95),
                                                 "moves": len(rm.moves), "downloads": rm.downloads,
                                                 "reloads": rm.reloads, "cpu": rm.cpu,
                                                 "browsers": rm.browsers,
                                                 "by_kind": {k: {"logins": len(f["logins"]), "loads": len(f["loads"]),
                                                                 "median": _q(f["loads"], 50),
                                                                 "p95": _q(f["loads"], 95)}
                                                             for k, f in rm.by_kind.items()}}}))
        note = args.note or f"{os.cpu_count()} cores; load average at the end {os.getloadavg()[0]:.1f}."
        text = write_doc(kills, corpus, rm, note, write=not args.no_doc)
        print(text.split("<!-- figures")[-1])
        bad = (kills and (kills.count("orphans") or kills.count("folders_left") or kills.count("problems")
                          or kills.count("rerun_problems"))) or (corpus and (corpus.crashes or corpus.failures)) \
            or (rm and (rm.errors or rm.lost))
        return 1 if bad else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
