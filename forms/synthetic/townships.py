"""Which townships to simulate, and how each performs: pure functions of the registry and seed.

Each township draws its own propensities (immunization coverage, hospital delivery,
newborn visits, screening, breastfeeding, nutrition pack coverage and compliance,
stunting, underweight, anaemia) from a stream seeded by the seed and its code, so a
township behaves the same whichever other townships are generated with it. Coverage
propensities are centred near the programme's targets with enough spread that some
townships fall short and some exceed them.
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd

from forms.synthetic.options import Options, SyntheticError
from forms.synthetic.people import village_names

_DEVICE_CHARS = np.array(list(string.ascii_letters + string.digits))

#: Parameter columns of `township_params`, with what each means.
PARAMS: dict[str, str] = {
    "imm_coverage": "share of children who get a routine dose (before per-dose offsets)",
    "imm_delay_days": "median delay of a vaccination after its due date, days",
    "hepb1_24h": "share of hepb1 doses given within 24 hours that are recorded as such",
    "facility_births": "share of births in a health facility",
    "newborn_missing": "share of children never visited after birth",
    "newborn_on_time": "share of first newborn visits on day 3-7",
    "disease_screening": "share screened for CH/PKU",
    "hearing_pass": "share passing hearing screening",
    "exclusive_bf": "share exclusively breastfed in the first month",
    "nutrition_coverage": "share of 6-24-month-olds enrolled for nutrition packs",
    "nutrition_compliance": "mean share of days a pack is eaten",
    "nutrition_skip": "share of monthly distributions missed",
    "nutrition_dropout": "chance per distribution that a child leaves the programme",
    "laz_mean": "mean length-for-age z-score",
    "waz_mean": "mean weight-for-age z-score",
    "hb_mean": "mean haemoglobin, g/L",
    "hb_tested": "share of distributions with a haemoglobin test",
    "counselling": "share of distributions with feeding counselling",
    "gps": "share of submissions with a GPS point",
    "next_visit": "share of vaccination visits that set the next appointment",
    "birth_weight_mean": "mean birth weight, g",
}


def select_townships(townships: pd.DataFrame, options: Options) -> pd.DataFrame:
    """The registry rows to simulate, sorted by township code.

    `--townships` names them; `--counties N` keeps every township of the first N counties
    by code; otherwise all.
    """
    frame = townships.sort_values("township_code").reset_index(drop=True)
    if options.townships:
        wanted = list(dict.fromkeys(options.townships))
        unknown = sorted(set(wanted) - set(frame["township_code"]))
        if unknown:
            raise SyntheticError(f"--townships: not in the registry: {', '.join(unknown)}")
        frame = frame[frame["township_code"].isin(wanted)]
    elif options.counties is not None:
        counties = sorted(frame["county_code"].unique())[: options.counties]
        frame = frame[frame["county_code"].isin(counties)]
    return frame.reset_index(drop=True)


def township_params(selected: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One row per township: `township_code`, `county_code`, `deviceid`, `villages` (a tuple)
    and the `PARAMS` columns."""
    rows = []
    for code, county in zip(selected["township_code"], selected["county_code"], strict=True):
        rng = np.random.default_rng([seed, 7, int(code)])
        laz = rng.uniform(-1.1, -0.1)
        rows.append(
            {
                "township_code": code,
                "county_code": county,
                "deviceid": "collect:" + "".join(rng.choice(_DEVICE_CHARS, 16)),
                "villages": tuple(village_names(rng)),
                "imm_coverage": _beta_mean(rng, 0.945, 55),
                "imm_delay_days": rng.uniform(4, 18),
                "hepb1_24h": _beta_mean(rng, 0.93, 30),
                "facility_births": 1 - rng.beta(1.3, 70),
                "newborn_missing": rng.beta(2, 40),
                "newborn_on_time": _beta_mean(rng, 0.85, 20),
                "disease_screening": _beta_mean(rng, 0.93, 20),
                "hearing_pass": _beta_mean(rng, 0.91, 20),
                "exclusive_bf": _beta_mean(rng, 0.75, 20),
                "nutrition_coverage": _beta_mean(rng, 0.86, 14),
                "nutrition_compliance": _beta_mean(rng, 0.74, 12),
                "nutrition_skip": rng.beta(2, 20),
                "nutrition_dropout": rng.beta(1.5, 60),
                "laz_mean": laz,
                "waz_mean": 0.55 * laz + rng.uniform(-0.35, 0.05),
                "hb_mean": rng.uniform(114, 128),
                "hb_tested": rng.uniform(0.3, 0.7),
                "counselling": _beta_mean(rng, 0.86, 12),
                "gps": rng.uniform(0.3, 0.9),
                "next_visit": rng.uniform(0.2, 0.7),
                "birth_weight_mean": rng.normal(3200, 60),
            }
        )
    columns = ["township_code", "county_code", "deviceid", "villages", *PARAMS]
    return pd.DataFrame(rows, columns=columns)


def _beta_mean(rng: np.random.Generator, mean: float, concentration: float) -> float:
    return float(rng.beta(mean * concentration, (1 - mean) * concentration))


def monthly_births(
    selected: pd.DataFrame, targets: pd.DataFrame, options: Options
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected births per township and calendar month of `options.years` up to `until`.

    Returns the month starts (`datetime64[D]`), the number of days of each month that are
    not after `until`, and the expected births (townships × months). A year without a
    target takes the nearest year's. Births are slightly seasonal (more in winter).
    """
    months = np.array(
        [f"{y}-{m:02d}-01" for y in sorted(set(options.years)) for m in range(1, 13)],
        dtype="datetime64[D]",
    )
    until = np.datetime64(options.until, "D")
    months = months[months <= until]
    ends = (months.astype("datetime64[M]") + 1).astype("datetime64[D]")
    days_in = (np.minimum(ends, until + 1) - months).astype(np.int64)
    full = (ends - months).astype(np.int64)
    month_no = months.astype("datetime64[M]").astype(np.int64) % 12
    season = 1 + 0.08 * np.cos(2 * np.pi * month_no / 12)
    years = months.astype("datetime64[Y]").astype(np.int64) + 1970
    births = np.zeros((len(selected), len(months)))
    by_code = {code: frame for code, frame in targets.groupby("township_code")}
    for i, code in enumerate(selected["township_code"]):
        known = by_code.get(code)
        if known is None or known["expected_births"].isna().all():
            continue
        known = known.dropna(subset=["expected_births"])
        years_known = known["year"].astype(int)
        per_year = dict(zip(years_known, known["expected_births"].astype(float), strict=True))
        available = np.array(sorted(per_year))
        for j, year in enumerate(years):
            nearest = available[np.argmin(np.abs(available - year))]
            births[i, j] = per_year[nearest] / 12 * season[j] * days_in[j] / full[j]
    return months, days_in, births
