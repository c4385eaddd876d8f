"""`python -m bench`: run every bench/bench_*.py module's `run()` and print one summary table.

Each module writes its own detailed table to bench/results/<name>.md; this runner only collects them.
Not part of pytest: benchmarks take minutes and generate multi-GB data under data/bench/.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    wanted = set(argv if argv is not None else sys.argv[1:])
    rows: list[tuple[str, str, float]] = []
    for name in names:
        if wanted and name not in wanted and name.removeprefix("bench_") not in wanted:
            continue
        module = importlib.import_module(f"bench.{name}")
        t0 = time.perf_counter()
        try:
            text = module.run()
            status = "ok"
        except Exception as exc:  # noqa: BLE001 - one failing bench must not hide the others
            text, status = f"{type(exc).__name__}: {exc}", "FAILED"
        rows.append((name, status, time.perf_counter() - t0))
        print(text)
    print("| bench | status | seconds |\n|---|---|---|")
    for name, status, seconds in rows:
        print(f"| {name} | {status} | {seconds:.1f} |")
    return 0 if all(s == "ok" for _, s, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
