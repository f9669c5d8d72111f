"""`make bench` (or `python -m benchmarks`): run the benchmarks, print a table, write JSON.

Example: python -m benchmarks --only openrosa --openrosa-per-level 300
Example: python -m benchmarks --only paths --paths-size 20000   (a quick try of the 1M run)
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.common import Result

RESULTS = Path(__file__).resolve().parent / "results"


def _number(value: float | None, fmt: str = ".3g") -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "n/a"
    return format(value, ",.0f" if abs(value) >= 1000 and fmt == ".3g" else fmt)


def _goal(r: Result) -> str:
    if r.goal is None:
        return ""
    return f"{'ratio ' if r.goal_on == 'ratio' else ''}<= {r.goal:g}"


def _table(results: list[Result]) -> Table:
    table = Table(title="Cradle benchmarks (ratio = value / baseline measured in the same run)")
    table.add_column("name", no_wrap=True)
    for column in ("value", "unit", "baseline", "ratio", "n", "goal", "met"):
        table.add_column(column, no_wrap=True)
    table.add_column("note")
    for r in results:
        table.add_row(
            r.name,
            _number(r.value),
            r.unit,
            _number(r.baseline),
            _number(r.ratio, ".2f"),
            str(r.n),
            _goal(r),
            {None: "", True: "met", False: "NOT met"}[r.met],
            r.note,
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only", nargs="*", default=None, help="openrosa central coverage generation paths"
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
    parser.add_argument(
        "--paths-size", type=int, default=1_000_000,
        help="submissions in the data set of the paths benchmark (loaded once, then reused)",
    )  # fmt: skip
    parser.add_argument(
        "--paths-requests", type=int, default=20, help="timed requests per path (at least 20)"
    )
    args = parser.parse_args()
    if args.paths_size < 1_000 or args.paths_requests < 20:
        parser.error("--paths-size must be at least 1000 and --paths-requests at least 20")
    wanted = set(args.only or ["openrosa", "central", "coverage", "generation", "paths"])
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
    if "paths" in wanted:
        from benchmarks import paths

        results += paths.run(size=args.paths_size, requests=args.paths_requests)
    Console(width=170).print(_table(results))
    RESULTS.mkdir(exist_ok=True)
    payload = json.dumps([r.as_dict() for r in results], indent=2)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"bench-{stamp}.json").write_text(payload)
    (RESULTS / "latest.json").write_text(payload)
    print(f"written: {RESULTS / f'bench-{stamp}.json'}")


if __name__ == "__main__":
    main()
