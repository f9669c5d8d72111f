"""Shared pieces: results, percentiles, growth exponents, the CouchDB under test."""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from sync.couch import CouchClient, CouchSettings


@dataclass(frozen=True)
class Result:
    """One figure: `value` against `baseline` measured in the same run; ratio = value/baseline
    (for rates, higher is better; for times, lower).

    A `goal` is an upper bound on the value (or on the ratio, with `goal_on="ratio"`); `met`
    says whether it was kept. A value that could not be measured is NaN (null in JSON).
    """

    name: str
    value: float
    unit: str
    baseline: float | None
    n: int
    note: str = ""
    goal: float | None = None
    goal_on: str = "value"

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not math.isfinite(self.value):
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        measured = self.ratio if self.goal_on == "ratio" else self.value
        if measured is None or not math.isfinite(measured):
            return None
        return measured <= self.goal

    def as_dict(self) -> dict:
        data = {**asdict(self), "ratio": self.ratio, "met": self.met}
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in data.items()
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def growth_exponent(sizes: Sequence[float], costs: Sequence[float]) -> float:
    """k in cost ∝ size^k, by least squares on the logs (1.0 = linear)."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(c, 1e-9)) for c in costs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mx) ** 2 for x in xs)
    return num / den if den else math.nan


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    On Linux this is the process's own high-water mark (`VmHWM`): `ru_maxrss` of a child
    started by `subprocess` also counts its parent's peak, inherited through exec.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def couch_from_env() -> CouchClient:
    url = os.environ.get("COUCHDB_URL")
    if not url:
        raise SystemExit("COUCHDB_URL is not set: run benchmarks with `make bench`")
    return CouchClient(
        CouchSettings.from_url(
            url,
            username=os.environ.get("COUCHDB_USER", ""),
            password=os.environ.get("COUCHDB_PASSWORD", ""),
            timeout=120,
        )
    )
