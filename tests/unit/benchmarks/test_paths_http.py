"""The paths benchmark's request timer and its process readings (no network)."""

from __future__ import annotations

import math
import os
from datetime import date

import httpx
import pytest

from benchmarks.paths_http import Samples, children_of, timed, vm_hwm_mb
from benchmarks.paths_rows import last_full_quarter


def answer(status: int):
    return lambda: httpx.Response(status)


def test_each_answer_is_checked_against_the_status_expected() -> None:
    samples = timed(answer(201), 3, expect=201)
    assert len(samples.ms) == 3 and samples.first_ms is not None
    assert samples.failures == [] and samples.note().startswith("first ")
    refused = timed(answer(503), 2, expect=200, warm=False)
    assert refused.first_ms is None
    assert refused.failures == ["HTTP 503", "HTTP 503"]
    assert refused.note() == "2 failed, e.g. HTTP 503"


def test_a_request_that_raises_is_a_failure_without_a_latency() -> None:
    def broken() -> httpx.Response:
        raise httpx.ConnectError("refused")

    samples = Samples()
    assert samples.take(broken, 200) is None
    assert samples.failures == ["ConnectError"]


def test_the_budget_bounds_a_slow_path() -> None:
    samples = timed(answer(200), 20, budget_s=0)
    assert len(samples.ms) == 1
    assert samples.stopped == "stopped after 1 of 20 (over 0 s)"


def test_peak_memory_and_children_come_from_proc() -> None:
    assert vm_hwm_mb(os.getpid()) > 1
    assert math.isnan(vm_hwm_mb(2**22 + 1))
    assert children_of(os.getppid()) and os.getpid() in children_of(os.getppid())


@pytest.mark.parametrize(
    ("until", "quarter"),
    [
        (date(2026, 11, 27), "2026-Q3"),
        (date(2026, 9, 30), "2026-Q3"),
        (date(2026, 9, 29), "2026-Q2"),
        (date(2026, 3, 31), "2026-Q1"),
        (date(2026, 2, 1), "2025-Q4"),
        (date(2026, 12, 31), "2026-Q4"),
    ],
)
def test_the_last_quarter_that_ended_by_a_date(until: date, quarter: str) -> None:
    assert last_full_quarter(until) == quarter
