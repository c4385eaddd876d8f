"""`python -m engine mapping` as a FinOps lead runs it: real subprocesses on a real store file. A YAML file saved,
listed, shown and shown again as YAML that saves back unchanged; a broken file refused with its line; exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine import store

ROOT = Path(__file__).resolve().parents[3]
OCI_YAML = ROOT / "tests" / "fixtures" / "mappings" / "oci.yaml"


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "mapping", *args, "--db", str(db)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def _store(tmp_path: Path) -> Path:
    db = tmp_path / "store.duckdb"
    con = store.connect(db)
    con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES "
                "('fiona', 'Fiona', 'finops', 'x'), ('eve', 'Eve', 'executive', 'x')")
    con.close()
    return db


def test_save_list_show_round_trip(tmp_path: Path) -> None:
    db = _store(tmp_path)
    saved = _cli(db, "save", str(OCI_YAML), "--user", "fiona", "--comment", "OCI without code")
    assert (saved.returncode, saved.stdout.strip()) == (0, "saved mapping 'oci cost report' as version 1"), saved.stderr

    listed = _cli(db, "list")
    assert listed.returncode == 0
    name, version, table, by, comment = listed.stdout.strip().split("\t")
    assert (name, version, table, comment) == ("oci cost report", "version 1", "cost_line", "OCI without code")
    assert by.startswith("saved by fiona at ")

    shown = _cli(db, "show", "oci cost report", "--yaml")
    assert shown.returncode == 0 and "billing_period_from: charge_period_start" in shown.stdout
    again = tmp_path / "again.yaml"
    again.write_text(shown.stdout, encoding="utf-8")
    same = _cli(db, "save", str(again), "--user", "fiona")
    assert (same.returncode, same.stdout.strip()) == (
        0, "mapping 'oci cost report' is unchanged (version 1 is in force); nothing saved")

    changed = tmp_path / "changed.yaml"
    changed.write_text(shown.stdout + "day_first: true\n", encoding="utf-8")
    assert _cli(db, "save", str(changed), "--user", "fiona", "--comment", "UK").stdout.startswith(
        "saved mapping 'oci cost report' as version 2")
    history = _cli(db, "show", "oci cost report", "--version", "1")
    assert history.returncode == 0 and "# mapping 'oci cost report', version 1 (cost_line)" in history.stdout
    assert "day_first" not in history.stdout.split("# versions:")[0]
    assert "#   2  saved by fiona" in history.stdout and ": UK" in history.stdout


def test_refusals_name_the_line_and_exit_codes(tmp_path: Path) -> None:
    db = _store(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ntarget_table: cost_line\ncolumns:\n  billed_cost: Amount\n   provider: P\n",
                      encoding="utf-8")
    bad = _cli(db, "save", str(broken), "--user", "fiona")
    assert bad.returncode == 1
    assert f"{broken}:5: expected valid YAML" in bad.stderr

    typo = tmp_path / "typo.yaml"
    typo.write_text(OCI_YAML.read_text() + "colums:\n  provider: P\n", encoding="utf-8")
    refused = _cli(db, "save", str(typo), "--user", "fiona")
    lines = OCI_YAML.read_text().count("\n")
    assert refused.returncode == 1
    assert f"{typo}:{lines + 1}: colums: expected one of the keys name, target_table, columns" in refused.stderr

    denied = _cli(db, "save", str(OCI_YAML), "--user", "eve")
    assert denied.returncode == 1 and "eve (executive) cannot save a column mapping" in denied.stderr
    missing = _cli(db, "show", "nope")
    assert missing.returncode == 1 and "no mapping profile named 'nope'" in missing.stderr
    usage = _cli(db, "show")
    assert usage.returncode == 2 and "required: name" in usage.stderr
