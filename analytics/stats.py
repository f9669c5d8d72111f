"""Proportions: the Wilson score interval and the comparison with a target.

>>> low, high = wilson_interval(np.array([81]), np.array([263]))
>>> round(float(low[0]), 4), round(float(high[0]), 4)
(0.2553, 0.3662)
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd


def wilson_interval(
    numerator: np.ndarray | pd.Series,
    denominator: np.ndarray | pd.Series,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of `numerator / denominator` (NaN where the denominator is 0).

    Parameters
    ----------
    numerator, denominator
        Counts, element by element; a numerator above its denominator is clipped to it.
    confidence
        Two-sided level, 0.95 for the 95% interval.

    Examples
    --------
    >>> [round(float(v[0]), 4) for v in wilson_interval(np.array([0]), np.array([10]))]
    [0.0, 0.2775]
    """
    x = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.minimum(x, n) / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    empty = ~(n > 0)
    low[empty] = np.nan
    high[empty] = np.nan
    return low, high


def target_met(
    rate: np.ndarray | pd.Series, target: np.ndarray | pd.Series, direction: np.ndarray | pd.Series
) -> pd.Series:
    """True/False where rate and target exist (`>=` a floor, `<=` a ceiling), else `<NA>`.

    >>> target_met(np.array([0.96, 0.5, np.nan]), np.array([0.95, 0.95, 0.95]),
    ...            np.array([">=", ">=", ">="])).tolist()
    [True, False, <NA>]
    """
    r = np.asarray(rate, dtype=float)
    t = np.asarray(target, dtype=float)
    d = np.asarray(direction, dtype=object)
    with np.errstate(invalid="ignore"):
        met = np.where(d == "<=", r <= t + 1e-12, r >= t - 1e-12)
    known = np.isfinite(r) & np.isfinite(t)
    return pd.Series(pd.array(np.where(known, met, False), dtype="boolean")).where(known)
