"""`python -m engine backup PATH` / `python -m engine restore PATH`: the whole store to a folder and back
(engine/store/backup.py). Exit codes as every command (docs/cli.md): 0 done; 1 refused (a non-empty folder, not a
backup); 2 the store cannot be opened or is in use; 3 the restored tables do not match the backup's checksums
(nothing was restored). The reason is on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli import exits, open_store, resolve_db
from engine.errors import ApportionError
from engine.store import backup as backups


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="backup folder (backup: a new or empty folder; restore: a backup folder)")
    parser.add_argument("--user", default="system", help="who is recorded in the audit trail")


def run(args: argparse.Namespace) -> int:
    db = resolve_db(getattr(args, "db", None))
    path = Path(args.path)
    try:
        if args.command == "restore":
            info, kept = backups.restore(path, db, user=args.user)
            print(f"restored {info.tables} tables ({info.rows:,} rows, backup of {info.taken_at}, schema "
                  f"{info.schema_version}) into {db}; every table matched the backup's checksums")
            if kept:
                print(f"the replaced store is kept as {kept}")
            return 0
        found = open_store(getattr(args, "db", None))   # inside the app: the job's cursor (engine/jobs/)
        if found is None:
            return exits.USAGE
        con = found
        try:
            info = backups.backup(con, path, user=args.user)
        finally:
            con.close()
        print(f"backed up {info.tables} tables ({info.rows:,} rows, schema {info.schema_version}) to {path} "
              f"at {info.taken_at}")
        return 0
    except ApportionError as exc:
        print(str(exc), file=sys.stderr)
        return exits.code_for(exc)   # 3: the checksums differ; 2: the store is in use
