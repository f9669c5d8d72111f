"""The reporting periods the pages offer: recent months, quarters and years."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from analytics.periods import FIRST_DAY, Period


@dataclass(frozen=True)
class PeriodGroup:
    kind: str  # "quarter" | "month" | "year"
    labels: tuple[str, ...]  # newest first


def quarter_label(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def previous_quarters(label: str, count: int) -> list[str]:
    """`count` quarters ending with `label`, oldest first (none before `FIRST_DAY`).

    >>> previous_quarters("2026-Q2", 3)
    ['2025-Q4', '2026-Q1', '2026-Q2']
    >>> previous_quarters("2000-Q2", 8)
    ['2000-Q1', '2000-Q2']
    """
    period = Period.parse(label)
    index = period.start.year * 4 + (period.start.month - 1) // 3
    first = FIRST_DAY.year * 4 + (FIRST_DAY.month - 1) // 3
    out = []
    for i in range(max(index - count + 1, first), index + 1):
        out.append(f"{i // 4}-Q{i % 4 + 1}")
    return out


def period_groups(today: date, *, months: int = 12, quarters: int = 8, years: int = 3) -> list:
    """Choices for the period selector, newest first in each group."""
    month_index = today.year * 12 + today.month - 1
    month_labels = tuple(
        f"{i // 12}-{i % 12 + 1:02d}" for i in range(month_index, month_index - months, -1)
    )
    quarter_labels = tuple(reversed(previous_quarters(quarter_label(today), quarters)))
    year_labels = tuple(str(today.year - i) for i in range(years))
    return [
        PeriodGroup("quarter", quarter_labels),
        PeriodGroup("month", month_labels),
        PeriodGroup("year", year_labels),
    ]


def default_period(today: date) -> str:
    """The current quarter: what supervisors follow while it happens."""
    return quarter_label(today)
