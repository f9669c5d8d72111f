"""One coverage computation in its own process, so its time and peak memory are its own.

python -m benchmarks.coverage_worker PREFIX CACHE_DIR  → prints {"seconds", "rss_mb", "rows"}
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from analytics.config import load_config
from analytics.service import coverage_report, needed_columns
from analytics.source import CouchSource
from benchmarks.common import couch_from_env, peak_rss_mb


class _Everyone:
    townships = None
    can_see_coverage = True


def main() -> None:
    prefix, cache = sys.argv[1], Path(sys.argv[2])
    start = time.perf_counter()
    # As the server's `default_source`: only the columns the indicators and quality read.
    source = CouchSource(couch_from_env(), prefix, cache, columns=needed_columns(load_config()))
    report = coverage_report(period="2026", scope=_Everyone(), source=source)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb(), "rows": len(report.table)}))


if __name__ == "__main__":
    main()
