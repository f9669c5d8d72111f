"""Reporting periods: a month, a quarter, a year or any date range; the last day is `E`.

>>> Period.parse("2026-Q3")
Period(label='2026-Q3', start=datetime.date(2026, 7, 1), end=datetime.date(2026, 9, 30))
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics.errors import AnalyticsError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/|~|\s+to\s+)\s*(\d{4}-\d{2}-\d{2})$")

PERIOD_HELP = "2026-07 (month), 2026-Q3 (quarter), 2026 (year) or 2026-07-01..2026-09-30"
#: The years a period may touch: the programme's data lie well inside them, and so do the
#: dates pandas can hold (1677-09-21..2262-04-11), so no later step can overflow.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


class PeriodOutOfRange(AnalyticsError):
    """A well-formed period that reaches outside `FIRST_DAY`..`LAST_DAY`."""


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period `P`, both ends inclusive; `end` is the evaluation date `E`."""

    label: str
    start: date
    end: date

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read `2026-07`, `2026-Q3`, `2026` or `2026-07-01..2026-09-30`.

        Raises `AnalyticsError` for anything else, a range that ends before it starts, or a
        period reaching outside `FIRST_DAY`..`LAST_DAY`.

        >>> Period.parse("2026-02").end
        datetime.date(2026, 2, 28)
        """
        period = cls._read((text or "").strip())
        if period.start < FIRST_DAY or period.end > LAST_DAY:
            raise PeriodOutOfRange(
                f"period {period.label!r} is outside the years {FIRST_DAY.year}-{LAST_DAY.year}"
            )
        return period

    @classmethod
    def _read(cls, text: str) -> Period:
        try:
            if m := _MONTH.match(text):
                year, month = int(m[1]), int(m[2])
                last = calendar.monthrange(year, month)[1]
                return cls(text, date(year, month, 1), date(year, month, last))
            if m := _QUARTER.match(text):
                year, quarter = int(m[1]), int(m[2])
                first = date(year, 3 * quarter - 2, 1)
                last_month = 3 * quarter
                last = date(year, last_month, calendar.monthrange(year, last_month)[1])
                return cls(f"{year}-Q{quarter}", first, last)
            if m := _YEAR.match(text):
                year = int(m[1])
                return cls(text, date(year, 1, 1), date(year, 12, 31))
            if m := _RANGE.match(text):
                start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
                if end < start:
                    raise AnalyticsError(f"period {text!r} ends before it starts")
                return cls(f"{start.isoformat()}..{end.isoformat()}", start, end)
        except ValueError as e:
            raise AnalyticsError(f"period {text!r} is not a valid date: {e}") from e
        raise AnalyticsError(f"period {text!r} not understood; use {PERIOD_HELP}")

    @property
    def days(self) -> int:
        """Length in days, both ends counted."""
        return (self.end - self.start).days + 1

    @property
    def start_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.start)

    @property
    def end_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.end)

    def year_fractions(self) -> dict[int, float]:
        """The share of each calendar year the period covers, for pro-rating yearly targets.

        >>> Period.parse("2026-Q3").year_fractions()
        {2026: 0.25205479452054796}
        """
        out: dict[int, float] = {}
        for year in range(self.start.year, self.end.year + 1):
            first = max(self.start, date(year, 1, 1))
            last = min(self.end, date(year, 12, 31))
            in_year = 366 if calendar.isleap(year) else 365
            out[year] = ((last - first).days + 1) / in_year
        return out

    def __str__(self) -> str:
        return self.label


def _ymd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Month index (year*12 + month-1), day of month and days in that month, as int64."""
    days = values.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    length = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(
        np.int64
    )
    return months.astype(np.int64), day, length


def as_datetime64(values: object) -> np.ndarray:
    """Naive dates as `datetime64[ns]` (NaT where missing), never through Python objects.

    >>> as_datetime64(pd.Series(["2026-07-01", None])).tolist()
    [1782864000000000000, None]
    """
    if isinstance(values, (pd.Series, pd.Index)) and values.dtype.kind == "M":
        return values.to_numpy(dtype="datetime64[ns]")
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return values.astype("datetime64[ns]")
    series = values if isinstance(values, (pd.Series, pd.Index)) else pd.Series(values)
    return pd.to_datetime(series).to_numpy(dtype="datetime64[ns]")


def _as_datetime64(values: object, size: int) -> np.ndarray:
    if isinstance(values, date):
        return np.full(size, np.datetime64(pd.Timestamp(values).date(), "D"))
    return as_datetime64(values).astype("datetime64[D]")


def completed_months(dob: pd.Series | np.ndarray, on: pd.Series | np.ndarray | date) -> np.ndarray:
    """Completed calendar months from `dob` to `on` (NaN where either is missing).

    A child is `k` months old from the day `dob + k months` (the day clipped to the end of a
    shorter month: born 31 January, one month old on 28 February).

    >>> completed_months(pd.Series(pd.to_datetime(["2026-01-31", "2026-01-15"])),
    ...                  date(2026, 2, 28)).tolist()
    [1.0, 1.0]
    """
    born = _as_datetime64(dob, 0)
    at = _as_datetime64(on, len(born))
    missing = np.isnat(born) | np.isnat(at)
    safe_born = np.where(missing, np.datetime64("2000-01-01"), born)
    safe_at = np.where(missing, np.datetime64("2000-01-01"), at)
    b_month, b_day, _ = _ymd(safe_born)
    a_month, a_day, a_length = _ymd(safe_at)
    # The anniversary day in the reached month, clipped to that month's length.
    anniversary = np.minimum(b_day, a_length)
    out = (a_month - b_month - (a_day < anniversary)).astype(float)
    out[missing] = np.nan
    return out


def add_months(dob: pd.Series, months: int | np.ndarray) -> pd.Series:
    """`dob + months` calendar months, the day clipped to the month's end (NaT stays NaT).

    >>> add_months(pd.Series(pd.to_datetime(["2025-01-31"])), 1).dt.date.tolist()
    [datetime.date(2025, 2, 28)]
    """
    born = as_datetime64(dob).astype("datetime64[D]")
    missing = np.isnat(born)
    safe = np.where(missing, np.datetime64("2000-01-01"), born)
    month, day, _ = _ymd(safe)
    target = (month + months).astype("datetime64[M]")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    out = target.astype("datetime64[D]") + (np.minimum(day, length) - 1)
    result = pd.Series(out.astype("datetime64[ns]"), index=getattr(dob, "index", None))
    result[missing] = pd.NaT
    return result


def days_between(earlier: pd.Series, later: pd.Series) -> pd.Series:
    """Whole days from `earlier` to `later` (float, NaN where either is missing)."""
    return (pd.to_datetime(later) - pd.to_datetime(earlier)) / timedelta(days=1)
