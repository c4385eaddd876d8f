"""Two test-only CLI commands the runner is tested with (registered into engine.__main__.COMMANDS by the tests):
`boom` raises a plain exception, `chatty` prints numbered lines slowly so a writer on another thread interleaves."""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    if args.command == "boom":
        raise RuntimeError("the disk is on fire")
    for i in range(args.count):
        print(f"job line {i}")
        print(f"job warning {i}", file=sys.stderr)
        time.sleep(0.01)
    return 0
