"""Benchmark figures: percentiles, goals and their JSON (pure, no network)."""

from __future__ import annotations

import math

from benchmarks.common import Result, percentile


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(20, 0, -1)]
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile(values, 100) == 20.0
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))


def test_a_goal_on_the_value_or_on_the_ratio() -> None:
    assert Result("a", 900.0, "ms", None, 20, goal=1000).met is True
    assert Result("a", 1001.0, "ms", None, 20, goal=1000).met is False
    assert Result("a", 12.0, "s", 100.0, 1, goal=0.1, goal_on="ratio").met is False
    assert Result("a", 9.0, "s", 100.0, 1, goal=0.1, goal_on="ratio").met is True
    assert Result("a", 9.0, "s", None, 1, goal=0.1, goal_on="ratio").met is None
    assert Result("a", 9.0, "s", None, 1).met is None


def test_what_was_not_measured_is_null_in_json() -> None:
    missing = Result("paths.cold.register", float("nan"), "s", 5.0, 0, "not available", goal=1)
    assert missing.ratio is None
    assert missing.met is None
    assert missing.as_dict() == {
        "name": "paths.cold.register",
        "value": None,
        "unit": "s",
        "baseline": 5.0,
        "n": 0,
        "note": "not available",
        "goal": 1,
        "goal_on": "value",
        "ratio": None,
        "met": None,
    }
    assert Result("x", 50.0, "ms", 25.0, 20, goal=300).as_dict()["ratio"] == 2.0
