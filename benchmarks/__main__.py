"""`make bench` (or `python -m benchmarks`): run the benchmarks, print a table, write JSON.

Example: python -m benchmarks --only openrosa --openrosa-per-level 300
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.common import Result

RESULTS = Path(__file__).resolve().parent / "results"


def _table(results: list[Result]) -> Table:
    table = Table(title="Cradle benchmarks (ratio = value / baseline measured in the same run)")
    table.add_column("name", no_wrap=True)
    for column in ("value", "unit", "baseline", "ratio", "n"):
        table.add_column(column, no_wrap=True)
    table.add_column("note")
    for r in results:
        table.add_row(
            r.name,
            f"{r.value:,.3g}",
            r.unit,
            "" if r.baseline is None else f"{r.baseline:,.3g}",
            "" if r.ratio is None else f"{r.ratio:.2f}",
            str(r.n),
            r.note,
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only", nargs="*", default=None, help="openrosa central coverage generation"
    )
    parser.add_argument("--openrosa-per-level", type=int, default=600)
    parser.add_argument("--central-n", type=int, default=20_000)
    parser.add_argument(
        "--coverage-sizes", type=int, nargs="+", default=[10_000, 100_000],
        help="submissions per coverage run, e.g. 10000 100000 1000000",
    )  # fmt: skip
    parser.add_argument(
        "--generation-scale", type=float, default=0.72, help="0.72 ≈ 1M submissions"
    )
    args = parser.parse_args()
    wanted = set(args.only or ["openrosa", "central", "coverage", "generation"])
    results: list[Result] = []
    if "openrosa" in wanted:
        from benchmarks import openrosa

        results += openrosa.run(per_level=args.openrosa_per_level)
    if "central" in wanted:
        from benchmarks import central

        results += central.run(n=args.central_n)
    if "coverage" in wanted:
        from benchmarks import coverage

        results += coverage.run(sizes=tuple(args.coverage_sizes))
    if "generation" in wanted:
        from benchmarks import generation

        results += generation.run(scale=args.generation_scale)
    Console(width=170).print(_table(results))
    RESULTS.mkdir(exist_ok=True)
    payload = json.dumps([r.as_dict() for r in results], indent=2)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"bench-{stamp}.json").write_text(payload)
    (RESULTS / "latest.json").write_text(payload)
    print(f"written: {RESULTS / f'bench-{stamp}.json'}")


if __name__ == "__main__":
    main()
