"""Periods stay within 2000-2100: what pandas and the data can hold (issue 15, item 3)."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.errors import AnalyticsError
from analytics.periods import FIRST_DAY, LAST_DAY, Period, PeriodOutOfRange


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("9999", "9999"),
        ("3000", "3000"),
        ("2262", "2262"),
        ("0001", "0001"),
        ("1600", "1600"),
        ("9999-Q4", "9999-Q4"),
        ("1999-12", "1999-12"),
        ("2101-01", "2101-01"),
        ("1999-12-31..2000-01-31", "1999-12-31..2000-01-31"),
        ("2100-12-01..2101-01-01", "2100-12-01..2101-01-01"),
    ],
)
def test_periods_outside_the_years_are_refused_with_the_reason(text: str, label: str) -> None:
    with pytest.raises(PeriodOutOfRange) as refused:
        Period.parse(text)
    assert str(refused.value) == f"period {label!r} is outside the years 2000-2100"
    assert isinstance(refused.value, AnalyticsError)  # the CLI and the API handle it as such


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2000", date(2000, 1, 1), date(2000, 12, 31)),
        ("2000-Q1", date(2000, 1, 1), date(2000, 3, 31)),
        ("2100-12", date(2100, 12, 1), date(2100, 12, 31)),
        ("2000-01-01..2100-12-31", date(2000, 1, 1), date(2100, 12, 31)),
    ],
)
def test_both_ends_are_included(text: str, start: date, end: date) -> None:
    period = Period.parse(text)
    assert (period.start, period.end) == (start, end)
    assert (FIRST_DAY, LAST_DAY) == (date(2000, 1, 1), date(2100, 12, 31))


def test_a_year_zero_is_not_a_date() -> None:
    with pytest.raises(AnalyticsError, match="not a valid date"):
        Period.parse("0000-Q1")
