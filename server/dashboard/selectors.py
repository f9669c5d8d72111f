"""What the pages show, read through the same services as the API: the analytics
`coverage_report` for coverage and data quality, the submissions selectors for the
quarantine. Rows come out as plain dataclasses with both Chinese and English names; the
templates pick the language."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analytics import columns as C
from analytics import quality as Q
from analytics.config import Indicator, Programme, load_config
from analytics.service import coverage_table, quality_report, township_trend
from server.accounts.scope import Scope
from server.dashboard.periods import previous_quarters
from sync.ingest.problems import CATALOG


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _flag(value: Any) -> bool | None:
    return None if value is None or value is pd.NA or pd.isna(value) else bool(value)


# -- coverage ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageRow:
    """One township, county or programme row of one indicator in one period."""

    level: str
    code: str
    name_zh: str
    name_en: str
    county_code: str
    period: str
    numerator: int
    denominator: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    target_denominator: float | None
    target_rate: float | None
    target: float | None
    direction: str
    met: bool | None
    small_denominator: bool
    no_data: bool
    numerator_exceeds_denominator: bool

    @property
    def below_target(self) -> bool:
        return self.met is False


def _place(r: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Code, Chinese and English name of a table row's township, county or total."""
    if r[C.LEVEL] == "township":
        return r[C.TOWNSHIP], r[C.TOWNSHIP_NAME_ZH], r[C.TOWNSHIP_NAME_EN]
    if r[C.LEVEL] == "county":
        return r[C.COUNTY], r[C.COUNTY_NAME_ZH], r[C.COUNTY_NAME_EN]
    return "", "合计", "Total"


def _row(r: dict[str, Any]) -> CoverageRow:
    level = r[C.LEVEL]
    code, zh, en = _place(r)
    return CoverageRow(
        level=level,
        code=str(code or ""),
        name_zh=str(zh or code or ""),
        name_en=str(en or code or ""),
        county_code=str(r.get(C.COUNTY) or ""),
        period=str(r[C.PERIOD]),
        numerator=int(r[C.NUMERATOR]),
        denominator=int(r[C.DENOMINATOR]),
        rate=_num(r[C.RATE]),
        ci_low=_num(r[C.CI_LOW]),
        ci_high=_num(r[C.CI_HIGH]),
        target_denominator=_num(r[C.TARGET_DENOMINATOR]),
        target_rate=_num(r[C.TARGET_RATE]),
        target=_num(r[C.TARGET]),
        direction=str(r[C.DIRECTION] or ">="),
        met=_flag(r[C.MET]),
        small_denominator=bool(r[C.SMALL_DENOMINATOR]),
        no_data=bool(r[C.NO_DATA]),
        numerator_exceeds_denominator=bool(r[C.NUMERATOR_EXCEEDS_DENOMINATOR]),
    )


@dataclass(frozen=True)
class CoverageView:
    indicator: Indicator
    programme: Programme
    townships: list[CoverageRow]
    counties: list[CoverageRow]
    total: CoverageRow | None

    @property
    def below_target_count(self) -> int:
        return sum(1 for r in self.townships if r.below_target)


def programmes() -> tuple[Programme, ...]:
    return load_config().programmes


def indicators() -> tuple[Indicator, ...]:
    return load_config().indicators


def coverage_view(*, scope: Scope, period: str, indicator: str, county: str | None) -> CoverageView:
    """One indicator for every township shown (the scope's, within `county` if given),
    with the county and programme roll-ups the analytics computed.

    Raises `PermissionError` (nothing of it in the scope) and `AnalyticsError` (bad input).
    """
    config = load_config()
    chosen = config.indicator(indicator)
    table = coverage_table(
        period=period, indicators=[chosen.id], county=county, scope=scope, overdue=False
    )
    rows = [_row(r) for r in table.to_dict("records")]
    total = next((r for r in rows if r.level == "programme"), None)
    return CoverageView(
        indicator=chosen,
        programme=config.programme(chosen.programme),
        townships=[r for r in rows if r.level == "township"],
        counties=[r for r in rows if r.level == "county"],
        total=total,
    )


# -- one township over time ---------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    indicator: Indicator
    points: list[CoverageRow]

    @property
    def latest(self) -> CoverageRow | None:
        return self.points[-1] if self.points else None


@dataclass(frozen=True)
class ProgrammeTrends:
    programme: Programme
    trends: list[Trend] = field(default_factory=list)


def township_trends(
    *, scope: Scope, township: str, until: str, quarters: int = 8
) -> list[ProgrammeTrends]:
    """Every indicator of one township for the `quarters` quarters ending with `until`.

    The same rows as the coverage page and the API for each quarter, read from the
    quarter's shared counts when they exist, else counted for this township's children
    only (`analytics.service.township_trend`).
    """
    config = load_config()
    by_indicator: dict[str, list[CoverageRow]] = {i.id: [] for i in config.indicators}
    rows = township_trend(
        township=township, periods=previous_quarters(until, quarters), scope=scope
    )
    for r in rows.to_dict("records"):
        by_indicator.setdefault(r[C.INDICATOR], []).append(_row(r))
    out = []
    for programme in config.programmes:
        trends = [
            Trend(i, by_indicator.get(i.id, []))
            for i in config.indicators
            if i.programme == programme.id
        ]
        if trends:
            out.append(ProgrammeTrends(programme, trends))
    return out


# -- data quality -------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityRow:
    level: str
    code: str
    name_zh: str
    name_en: str
    accepted: int
    rejected: int
    acceptance_rate: float | None
    deleted: int
    duplicates: int
    edited: int
    lag_median_hours: float | None
    lag_p90_hours: float | None
    children: int
    sex_conflicts: int
    dob_conflicts: int
    rejected_by_reason: dict[str, int]


@dataclass(frozen=True)
class Reason:
    code: str
    count: int
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class QualityView:
    townships: list[QualityRow]
    counties: list[QualityRow]
    total: QualityRow | None
    reasons: list[Reason]  # of the total row, most frequent first


def reason_messages(code: str) -> tuple[str, str]:
    """The catalogue's messages of a refusal code, placeholders shown as an ellipsis."""
    if code not in CATALOG:
        return code, code
    _, zh, en = CATALOG[code]
    return zh.format(field="…", detail="…"), en.format(field="…", detail="…")


def _quality_row(r: dict[str, Any]) -> QualityRow:
    level = r[C.LEVEL]
    code, zh, en = _place(r)
    reasons = {
        k.removeprefix(Q.REJECTED_PREFIX): int(v)
        for k, v in r.items()
        if k.startswith(Q.REJECTED_PREFIX) and int(v)
    }
    return QualityRow(
        level=level,
        code=str(code or ""),
        name_zh=str(zh or code or ""),
        name_en=str(en or code or ""),
        accepted=int(r[Q.ACCEPTED]),
        rejected=int(r[Q.REJECTED]),
        acceptance_rate=_num(r[Q.ACCEPTANCE_RATE]),
        deleted=int(r[Q.DELETED_COUNT]),
        duplicates=int(r[Q.DUPLICATES]),
        edited=int(r[Q.EDITED]),
        lag_median_hours=_num(r[Q.LAG_MEDIAN]),
        lag_p90_hours=_num(r[Q.LAG_P90]),
        children=int(r[Q.CHILDREN]),
        sex_conflicts=int(r[Q.CHILDREN_SEX_CONFLICT]),
        dob_conflicts=int(r[Q.CHILDREN_DOB_CONFLICT]),
        rejected_by_reason=reasons,
    )


def quality_view(*, scope: Scope, period: str, county: str | None) -> QualityView:
    """The analytics data-quality table for the townships shown."""
    table = quality_report(period=period, county=county, scope=scope)
    rows = [_quality_row(r) for r in table.to_dict("records")]
    total = next((r for r in rows if r.level == "programme"), None)
    reasons = []
    if total is not None:
        for code, count in sorted(total.rejected_by_reason.items(), key=lambda kv: -kv[1]):
            zh, en = reason_messages(code)
            reasons.append(Reason(code, count, zh, en))
    return QualityView(
        townships=[r for r in rows if r.level == "township"],
        counties=[r for r in rows if r.level == "county"],
        total=total,
        reasons=reasons,
    )
