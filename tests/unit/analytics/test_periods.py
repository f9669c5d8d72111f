"""Reporting periods and calendar ages."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from analytics.errors import AnalyticsError
from analytics.periods import Period, add_months, completed_months


@pytest.mark.parametrize(
    ("text", "label", "start", "end"),
    [
        ("2026-07", "2026-07", date(2026, 7, 1), date(2026, 7, 31)),
        ("2024-02", "2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-Q3", "2026-Q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("2026-q1", "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026", "2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-07-15..2026-08-14", "2026-07-15..2026-08-14", date(2026, 7, 15), date(2026, 8, 14)),
        ("2026-07-15/2026-08-14", "2026-07-15..2026-08-14", date(2026, 7, 15), date(2026, 8, 14)),
    ],
)
def test_periods_parse(text: str, label: str, start: date, end: date) -> None:
    assert Period.parse(text) == Period(label, start, end)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26", "2026-09-01..2026-08-01", "", "x"])
def test_bad_periods_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(AnalyticsError, match="period"):
        Period.parse(text)


def test_year_fractions_for_prorating() -> None:
    assert Period.parse("2024").year_fractions() == {2024: 1.0}
    fractions = Period.parse("2025-12-01..2026-01-31").year_fractions()
    assert fractions == {2025: 31 / 365, 2026: 31 / 365}


def test_completed_months_on_boundaries() -> None:
    dob = pd.Series(pd.to_datetime(["2025-12-31", "2026-01-01", "2024-02-29", "2026-01-31"]))
    assert completed_months(dob, date(2026, 7, 31)).tolist() == [7, 6, 29, 6]
    assert completed_months(dob, date(2026, 2, 28)).tolist() == [2, 1, 24, 1]
    on = pd.Series(pd.to_datetime(["2025-12-30", "2026-01-31", None, "2026-03-30"]))
    out = completed_months(dob, on)
    assert out[0] == -1  # the day before the first day: negative
    assert out[1] == 0 and out[2] != out[2] and out[3] == 1


def test_add_months_clips_to_month_end() -> None:
    dob = pd.Series(pd.to_datetime(["2024-02-29", "2025-01-31", None]))
    got = add_months(dob, 12)
    assert got[0] == pd.Timestamp("2025-02-28") and got[1] == pd.Timestamp("2026-01-31")
    assert pd.isna(got[2])
