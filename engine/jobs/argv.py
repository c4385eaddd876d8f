"""A command line made fit to run in another process: every path argument made absolute against the client's
folder (the app runs in its own working directory), and `--db` naming the store explicitly.

A path argument is one whose dest is in PATH_DESTS, whose `type` is `Path`, or whose metavar says PATH/FILE/DIR;
a new CLI option that names a file follows one of those conventions.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

PATH_DESTS = frozenset({"db", "out", "lines", "paths", "path", "file", "files", "folder", "dir"})
PATH_METAVARS = frozenset({"PATH", "FILE", "DIR", "FOLDER"})


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:   # noqa: SLF001 - argparse has no public walk of its tree
        if isinstance(action, argparse._SubParsersAction):   # noqa: SLF001
            for sub in action.choices.values():
                yield from _parsers(sub)


def _is_path(action: argparse.Action) -> bool:
    return (action.dest in PATH_DESTS or action.type is Path
            or (isinstance(action.metavar, str) and action.metavar.upper() in PATH_METAVARS))


def absolute(argv: list[str], parser: argparse.ArgumentParser, args: argparse.Namespace, cwd: Path,
             db: Path) -> list[str]:
    """`argv` with path values absolute against `cwd` and `--db` set to `db` (inserted after the command name when
    the client relied on the setting)."""
    options: dict[str, argparse.Action] = {}
    positional_values: set[str] = set()
    for p in _parsers(parser):
        for action in p._actions:   # noqa: SLF001
            if action.option_strings:
                for s in action.option_strings:
                    options.setdefault(s, action)
            elif _is_path(action):
                value = getattr(args, action.dest, None)
                values = value if isinstance(value, list) else [value]
                positional_values |= {str(v) for v in values if v is not None}

    def fix(value: str) -> str:
        return value if value == "-" else str((cwd / Path(value).expanduser()).resolve())

    out: list[str] = []
    saw_db = False
    i = 0
    while i < len(argv):
        token = argv[i]
        name, eq, inline = token.partition("=")
        opt = options.get(name) if token.startswith("-") else None
        if opt is not None and opt.nargs != 0:
            action = opt
            is_db = action.dest == "db"
            saw_db = saw_db or is_db
            if eq:
                out.append(f"{name}={str(db) if is_db else fix(inline) if _is_path(action) else inline}")
            elif i + 1 < len(argv):
                out += [token, str(db) if is_db else fix(argv[i + 1]) if _is_path(action) else argv[i + 1]]
                i += 1
            else:
                out.append(token)
        elif not token.startswith("-") and token in positional_values:
            out.append(fix(token))
        else:
            out.append(token)
        i += 1
    if not saw_db:
        command = getattr(args, "command", None)
        at = out.index(command) + 1 if command in out else 0
        out[at:at] = ["--db", str(db)]
    return out
