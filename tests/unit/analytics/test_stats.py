"""The Wilson interval against published values, and target comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.stats import target_met, wilson_interval

# Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score).
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("x", "n", "low", "high"), NEWCOMBE)
def test_wilson_interval_matches_newcombe(x: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(np.array([x]), np.array([n]))
    assert (round(float(lo[0]), 4), round(float(hi[0]), 4)) == (low, high)


def test_wilson_interval_of_an_empty_denominator_is_missing() -> None:
    lo, hi = wilson_interval(np.array([0, 20]), np.array([0, 20]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert hi[1] == 1.0 and round(float(lo[1]), 4) == 0.8389


def test_met_depends_on_direction_and_is_unknown_without_rate_or_target() -> None:
    met = target_met(
        np.array([0.95, 0.949, 0.07, 0.071, np.nan, 0.5]),
        np.array([0.95, 0.95, 0.07, 0.07, 0.95, np.nan]),
        np.array([">=", ">=", "<=", "<=", ">=", ">="]),
    )
    assert [None if pd.isna(v) else bool(v) for v in met] == [True, False, True, False, None, None]
