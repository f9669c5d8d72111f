"""Vectorized calendar arithmetic on `datetime64[D]` arrays, with ODK's rules.

Months are calendar months: a date plus one month keeps the day of the month, clipped to
the month's last day (31 Jan + 1 month = 28 or 29 Feb). Completed months are counted
as the forms count them (`format-date` on year, month and day).
"""

from __future__ import annotations

import numpy as np

DAY = np.dtype("datetime64[D]")
MS = np.dtype("datetime64[ms]")
#: Asia/Shanghai has kept UTC+8 without daylight saving since 1991.
UTC_OFFSET_MS = 8 * 3600 * 1000
OFFSET_SUFFIX = "+08:00"


def add_months(days: np.ndarray, months: int | np.ndarray) -> np.ndarray:
    """`days` plus whole calendar months, the day clipped to the end of the month.

    >>> str(add_months(np.array(["2025-01-31"], dtype=DAY), 1)[0])
    '2025-02-28'
    """
    days = np.asarray(days, dtype=DAY)
    month = days.astype("datetime64[M]")
    day0 = (days - month.astype(DAY)).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64).astype("timedelta64[M]")
    start = target.astype(DAY)
    length = ((target + np.timedelta64(1, "M")).astype(DAY) - start).astype(np.int64)
    return start + np.minimum(day0, length - 1).astype("timedelta64[D]")


def completed_months(dob: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Completed calendar months from `dob` to `on`, as the forms' `age_months` computes.

    >>> int(completed_months(np.array(["2025-01-31"], dtype=DAY),
    ...                      np.array(["2025-03-30"], dtype=DAY))[0])
    1
    """
    dob = np.asarray(dob, dtype=DAY)
    on = np.asarray(on, dtype=DAY)
    m_dob, m_on = dob.astype("datetime64[M]"), on.astype("datetime64[M]")
    d_dob = (dob - m_dob.astype(DAY)).astype(np.int64)
    d_on = (on - m_on.astype(DAY)).astype(np.int64)
    return (m_on - m_dob).astype(np.int64) - (d_on < d_dob)


def age_days(dob: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Days from `dob` to `on`."""
    return (np.asarray(on, dtype=DAY) - np.asarray(dob, dtype=DAY)).astype(np.int64)


def iso_dates(days: np.ndarray) -> list[str]:
    """`YYYY-MM-DD` strings; NaT gives an empty string."""
    text = np.datetime_as_string(np.asarray(days, dtype=DAY), unit="D")
    return ["" if t == "NaT" else t for t in text.tolist()]


def local_timestamps(local_ms: np.ndarray) -> list[str]:
    """ODK `dateTime` strings from Asia/Shanghai wall-clock milliseconds:
    `2026-11-20T09:12:00.000+08:00`."""
    text = np.datetime_as_string(np.asarray(local_ms, dtype=MS), unit="ms")
    return [t + OFFSET_SUFFIX for t in text.tolist()]


def utc_timestamps(utc_ms: np.ndarray) -> list[str]:
    """ISO UTC strings with milliseconds and `Z`: `2026-11-20T03:40:12.345Z`."""
    text = np.datetime_as_string(np.asarray(utc_ms, dtype=MS), unit="ms")
    return [t + "Z" for t in text.tolist()]


def day_start_ms(days: np.ndarray) -> np.ndarray:
    """Milliseconds since the epoch of the start of each day (same clock as the day)."""
    return np.asarray(days, dtype=DAY).astype(MS).astype(np.int64)
