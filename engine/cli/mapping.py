"""`python -m engine mapping save|list|show|delete`: column mapping profiles as YAML files, without the UI.

- `save FILE.yaml [--user U] [--comment C]` validates the file (refusals name the file, the line and what was
  expected) and saves it as a new version unless the profile in force is already the same;
- `list` prints each profile in force with its version, who saved it and when;
- `show NAME [--version N] [--yaml]` prints a profile (or an earlier version) and its history; `--yaml` prints only
  the YAML, which `save` accepts as it is (round trip);
- `delete NAME [--user U] [--comment C]` takes a profile out of force (its versions stay readable).
Saving and deleting need a finops or admin user of the store (`--user`, default the OS user). Exit codes: 0 done,
1 refused (bad file, unknown profile, not allowed), 2 usage or the store could not be opened.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

import duckdb

from engine.cli import open_store
from engine.errors import ApportionError
from engine.ingest import mapping_profiles as profiles
from engine.ingest.mapping_yaml import from_yaml, to_yaml


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="mapping_command", required=True, metavar="{save,list,show,delete}")
    s = sub.add_parser("save", help="save a YAML mapping file as the profile's next version")
    s.add_argument("file", type=Path)
    d = sub.add_parser("delete", help="take a profile out of force (its versions stay readable)")
    d.add_argument("name")
    for p in (s, d):
        p.add_argument("--user", default=None, help="who saves it: a finops or admin user (default: the OS user)")
        p.add_argument("--comment", default="", help="why: recorded with the version and in the audit trail")
    sub.add_parser("list", help="the profiles in force")
    sh = sub.add_parser("show", help="one profile (or an earlier version) and its history")
    sh.add_argument("name")
    sh.add_argument("--version", type=int, default=None, help="an earlier version (default: the one in force)")
    sh.add_argument("--yaml", action="store_true", help="print only the YAML (what `mapping save` reads)")
    for p in sub.choices.values():
        p.add_argument("--db", default=argparse.SUPPRESS,
                       help="DuckDB file (default: APPORTION_DB_PATH or data/apportion.duckdb)")


def _save(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"refused: {args.file}: expected a readable UTF-8 YAML file ({exc})", file=sys.stderr)
        return 1
    profile = from_yaml(text, str(args.file))
    res = profiles.save_profile(con, profile, user=args.user or getpass.getuser(),
                                comment=args.comment)
    if res.changed:
        print(f"saved mapping '{profile.name}' as version {res.version}")
    else:
        print(f"mapping '{profile.name}' is unchanged (version {res.version} is in force); nothing saved")
    return 0


def _show(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> int:
    profile = profiles.load_profile(con, args.name, args.version)
    if args.yaml:
        sys.stdout.write(to_yaml(profile))
        return 0
    history = profiles.profile_versions(con, args.name)
    shown = args.version or max((v.version for v in history if not v.deleted), default=0)
    print(f"# mapping '{profile.name}', version {shown} ({profile.target_table})")
    sys.stdout.write(to_yaml(profile))
    print("# versions:")
    for v in history:
        what = "deleted" if v.deleted else "saved"
        note = f": {v.comment}" if v.comment else ""
        print(f"#   {v.version}  {what} by {v.saved_by} at {v.saved_at:%Y-%m-%d %H:%M}{note}")
    return 0


def run(args: argparse.Namespace) -> int:
    con = open_store(getattr(args, "db", None), read_only=args.mapping_command in ("list", "show"))
    if con is None:
        return 2
    try:
        if args.mapping_command == "save":
            return _save(con, args)
        if args.mapping_command == "show":
            return _show(con, args)
        if args.mapping_command == "delete":
            gone = profiles.delete_profile(con, args.name, user=args.user or getpass.getuser(),
                                           comment=args.comment)
            print(f"deleted mapping '{args.name}'" if gone else f"no mapping named '{args.name}'; nothing deleted")
            return 0 if gone else 1
        rows = profiles.profiles_in_force(con)
        if not rows:
            print("no mapping profiles saved yet")
        for v in rows:
            print(f"{v.name}\tversion {v.version}\t{v.target_table}\tsaved by {v.saved_by} at "
                  f"{v.saved_at:%Y-%m-%d %H:%M}" + (f"\t{v.comment}" if v.comment else ""))
        return 0
    except ApportionError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
