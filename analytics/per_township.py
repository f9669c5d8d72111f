"""Per-township figures of one period, computed once per data generation and shared.

What a coverage report costs is counting: every indicator over every record, the overdue
doses of every child, the data-quality pass over every submission. None of it depends on
who asks, so it is done once per period for all townships and kept (`analytics.memo`)
until the data change (the columnar cache hands out new frames); a scope or county then
only filters these small tables and rolls them up (`analytics.indicators.summarise`,
`analytics.quality.quality_rollup`).

>>> from analytics.config import load_config
>>> from analytics.flatten import empty_submissions
>>> from analytics.periods import Period
>>> from forms.registry import load_registry
>>> figures = period_figures(empty_submissions(), load_config(), load_registry(),
...                          Period.parse("2026-Q3"))
>>> figures.counts(load_config().select(["imm_bcg"])).empty
True
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics.children import children_table
from analytics.config import AnalyticsConfig, Indicator
from analytics.indicators import (
    COUNT_COLUMNS,
    count_indicators,
    summarise,
    target_denominators,
)
from analytics.memo import Memo, generation
from analytics.periods import Period
from analytics.quality import QualityParts, quality_parts, quality_rollup
from analytics.records import analysed_columns, explode_doses, prepare_records
from forms.registry import Registry

#: Periods kept (a dashboard asks for a handful: this quarter, the last eight, a year).
MAX_PERIODS = 64
#: Data-quality parts hold one arrival lag per submission of the period: bounded by size.
MAX_QUALITY_PERIODS = 32
MAX_QUALITY_BYTES = 256 * 2**20
#: Rolled-up tables kept (coverage and data quality), bounded by size too.
MAX_TABLES = 256
MAX_TABLE_BYTES = 128 * 2**20
#: Townships whose own figures are kept (a township page asks for eight quarters of one).
MAX_TOWNSHIPS = 64


class Prepared:
    """Records (`analytics.records.prepare_records`), their doses and per-date children."""

    def __init__(self, records: pd.DataFrame) -> None:
        self.records = records
        self.doses = explode_doses(records) if C.DOSES_GIVEN in records else None
        self._children: dict[tuple[date, int], pd.DataFrame] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, submissions: pd.DataFrame, config: AnalyticsConfig) -> Prepared:
        return cls(
            prepare_records(
                submissions,
                event_dates=config.event_dates,
                timezone=config.settings.timezone,
                columns=analysed_columns(config),
            )
        )

    def of_township(self, township: str) -> Prepared:
        """Every record of the children ever recorded in `township`. A child's township at
        any date is that of one of its records, and every figure of a child comes from its
        own records only: so the township's figures from these equal those from all."""
        here = (self.records[C.TOWNSHIP] == township).to_numpy(dtype=bool)
        ids = pd.unique(self.records[C.CHILD_ID].to_numpy()[here])
        rows = np.flatnonzero(self.records[C.CHILD_ID].isin(ids).to_numpy())
        return Prepared(self.records.take(rows).reset_index(drop=True))

    def children(self, on: date, registry: Registry) -> pd.DataFrame:
        """The children table at `on` (`analytics.children.children_table`), kept."""
        key = (on, generation(registry))
        with self._lock:
            if key not in self._children:
                if len(self._children) >= 16:  # a dashboard's trend asks for a few dates
                    self._children.pop(next(iter(self._children)))
                self._children[key] = children_table(
                    self.records, on=on, townships=registry.townships
                )
            return self._children[key]


class PeriodFigures:
    """Every township's figures for one period: indicator counts and target populations
    (per indicator, each computed the first time it is asked for) and overdue children."""

    def __init__(
        self, prepared: Prepared, config: AnalyticsConfig, registry: Registry, period: Period
    ) -> None:
        self.prepared = prepared
        self.config = config
        self.registry = registry
        self.period = period
        self._counts: dict[str, pd.DataFrame] = {}
        self._targets: dict[str, pd.DataFrame] = {}
        self._overdue: pd.DataFrame | None = None
        self._lock = threading.Lock()

    @property
    def children(self) -> pd.DataFrame:
        return self.prepared.children(self.period.end, self.registry)

    def has_counts(self, indicators: Sequence[Indicator]) -> bool:
        """Whether `counts(indicators)` is already known (costs nothing)."""
        with self._lock:
            return all(i.id in self._counts for i in indicators)

    def counts(self, indicators: Sequence[Indicator]) -> pd.DataFrame:
        """`count_indicators` for every township, in the order of `indicators`."""
        with self._lock:
            missing = [i for i in indicators if i.id not in self._counts]
            if missing:
                counted = count_indicators(
                    self.prepared.records,
                    period=self.period,
                    indicators=missing,
                    doses=self.prepared.doses,
                    children=self.children,
                    settings=self.config.settings,
                )
                for indicator in missing:
                    self._counts[indicator.id] = counted.loc[
                        (counted[C.INDICATOR] == indicator.id).to_numpy()
                    ]
            parts = [self._counts[i.id] for i in indicators]
        if not parts:
            return pd.DataFrame({c: [] for c in COUNT_COLUMNS})
        return pd.concat(parts, ignore_index=True)

    def targets(self, indicators: Sequence[Indicator]) -> pd.DataFrame:
        """The registry's target populations for the period (`target_denominators`)."""
        with self._lock:
            missing = [i for i in indicators if i.id not in self._targets]
            if missing:
                found = target_denominators(
                    self.registry.targets, indicators=missing, period=self.period
                )
                for indicator in missing:
                    self._targets[indicator.id] = found.loc[
                        (found[C.INDICATOR] == indicator.id).to_numpy()
                    ]
            parts = [self._targets[i.id] for i in indicators]
        if not parts:
            return target_denominators(self.registry.targets, indicators=[], period=self.period)
        return pd.concat(parts, ignore_index=True)

    def table(
        self, indicators: Sequence[Indicator], townships: pd.DataFrame, *, overdue: bool
    ) -> pd.DataFrame:
        """The coverage table of `townships` (`summarise`), with `overdue_children` if
        `overdue`; kept, and handed out as a copy."""
        key = (generation(self), tuple(i.id for i in indicators), _codes(townships), overdue)

        def compute() -> pd.DataFrame:
            shown = set(townships[C.TOWNSHIP])
            counts = self.counts(indicators)
            table = summarise(
                counts.loc[counts[C.TOWNSHIP].isin(shown).to_numpy()],
                period=self.period,
                indicators=indicators,
                townships=townships,
                target_counts=self.targets(indicators),
                settings=self.config.settings,
            )
            return with_overdue(table, self.overdue(), shown) if overdue else table

        return _tables.get(key, compute).copy()

    def overdue(self) -> pd.DataFrame:
        """Per township with children: its county (from the children table) and
        `overdue_children`, children with at least one overdue dose at the period's end."""
        with self._lock:
            if self._overdue is None:
                self._overdue = _overdue(self.children, self.prepared.doses, self.period)
            return self._overdue


def with_overdue(table: pd.DataFrame, overdue: pd.DataFrame, shown: set[str]) -> pd.DataFrame:
    """Fill `overdue_children`: children with at least one overdue dose at the period's end,
    per township, summed for the counties and the programme (the work behind the rate)."""
    mine = overdue.loc[overdue.index.isin(shown)]
    per_town = mine[C.OVERDUE_CHILDREN]
    per_county = per_town.groupby(mine[C.COUNTY].to_numpy()).sum()
    out = table.copy()
    level = out[C.LEVEL]
    values = pd.Series(pd.NA, index=out.index, dtype="Int64")
    towns = level == "township"
    values[towns] = out.loc[towns, C.TOWNSHIP].map(per_town).fillna(0).astype("int64")
    counties = level == "county"
    values[counties] = out.loc[counties, C.COUNTY].map(per_county).fillna(0).astype("int64")
    values[level == "programme"] = int(per_town.sum())
    out[C.OVERDUE_CHILDREN] = values
    return out


def _codes(townships: pd.DataFrame) -> frozenset[str]:
    return frozenset(townships[C.TOWNSHIP])


def _frame_bytes(frame: pd.DataFrame) -> int:
    return int(frame.memory_usage(index=True, deep=True).sum())


def _overdue(children: pd.DataFrame, doses: pd.DataFrame | None, period: Period) -> pd.DataFrame:
    from analytics.due import N_OVERDUE, OVERDUE, STATUS, dose_status, overdue_per_township
    from forms.schedule import load_schedule

    if doses is None:
        doses = pd.DataFrame({C.CHILD_ID: [], C.EVENT_DATE: pd.to_datetime([]), C.DOSE: []})
    # Only whether a child has an overdue dose: the dose status, without the rest of each
    # child's work list (`due_children`), which the coverage table does not show.
    status = dose_status(children, doses, on=period.end, schedule=load_schedule())
    late = status.loc[(status[STATUS] == OVERDUE).to_numpy(), C.CHILD_ID].unique()
    work = pd.DataFrame(
        {
            C.TOWNSHIP: children[C.TOWNSHIP].to_numpy(),
            N_OVERDUE: children[C.CHILD_ID].isin(late).to_numpy(dtype=np.int64),
        }
    )
    per_town = overdue_per_township(work).set_index(C.TOWNSHIP)[C.OVERDUE_CHILDREN]
    county_of = children.drop_duplicates(C.TOWNSHIP).set_index(C.TOWNSHIP)[C.COUNTY]
    return pd.DataFrame(
        {C.COUNTY: per_town.index.map(county_of), C.OVERDUE_CHILDREN: per_town.to_numpy()},
        index=per_town.index,
    )


_prepared: Memo[Prepared] = Memo(max_entries=2)
_figures: Memo[PeriodFigures] = Memo(max_entries=MAX_PERIODS)
_quality: Memo[QualityParts] = Memo(
    max_entries=MAX_QUALITY_PERIODS,
    max_bytes=MAX_QUALITY_BYTES,
    size=lambda parts: parts.nbytes,
)
#: Rolled-up tables, per figures, indicators and townships shown: a repeated request.
_tables: Memo[pd.DataFrame] = Memo(
    max_entries=MAX_TABLES, max_bytes=MAX_TABLE_BYTES, size=_frame_bytes
)
_township_records: Memo[Prepared] = Memo(max_entries=MAX_TOWNSHIPS)
_township_figures: Memo[PeriodFigures] = Memo(max_entries=8 * MAX_TOWNSHIPS)


def prepared(submissions: pd.DataFrame, config: AnalyticsConfig) -> Prepared:
    """The records of `submissions`, prepared once per frame (that is, per generation)."""
    key = (generation(submissions), generation(config))
    return _prepared.get(key, lambda: Prepared.of(submissions, config))


def _figures_key(
    submissions: pd.DataFrame, config: AnalyticsConfig, registry: Registry, period: Period
) -> tuple:
    return (generation(submissions), generation(config), generation(registry), period)


def period_figures(
    submissions: pd.DataFrame, config: AnalyticsConfig, registry: Registry, period: Period
) -> PeriodFigures:
    """The shared figures of `period` for this submissions frame, configuration and registry."""
    key = _figures_key(submissions, config, registry, period)
    ready = prepared(submissions, config)
    return _figures.get(key, lambda: PeriodFigures(ready, config, registry, period))


def township_figures(
    submissions: pd.DataFrame,
    config: AnalyticsConfig,
    registry: Registry,
    period: Period,
    township: str,
    indicators: Sequence[Indicator],
) -> PeriodFigures:
    """Figures that are right for `township` (and only for it) for `period`: the period's
    shared figures when they already hold these indicators, else figures of that
    township's children alone, a small fraction of the work."""
    shared = _figures.peek(_figures_key(submissions, config, registry, period))
    if shared is not None and shared.has_counts(indicators):
        return shared
    base = (generation(submissions), generation(config))
    mine = _township_records.get(
        (*base, township), lambda: prepared(submissions, config).of_township(township)
    )
    key = (*base, generation(registry), period, township)
    return _township_figures.get(key, lambda: PeriodFigures(mine, config, registry, period))


def period_quality(
    submissions: pd.DataFrame,
    quarantine: pd.DataFrame,
    config: AnalyticsConfig,
    registry: Registry,
    period: Period,
) -> QualityParts:
    """The data-quality parts of `period`, for every registry township, once per data."""
    key = (
        generation(submissions),
        generation(quarantine),
        generation(config),
        generation(registry),
        period,
    )

    def compute() -> QualityParts:
        children = period_figures(submissions, config, registry, period).children
        # Children count in the township they live in, and only in registry townships.
        placed = children.loc[children[C.TOWNSHIP].isin(registry.township_codes()).to_numpy()]
        return quality_parts(
            submissions,
            quarantine,
            period=period,
            children=placed,
            timezone=config.settings.timezone,
        )

    return _quality.get(key, compute)


def quality_table_of(
    submissions: pd.DataFrame,
    quarantine: pd.DataFrame,
    config: AnalyticsConfig,
    registry: Registry,
    period: Period,
    *,
    townships: pd.DataFrame,
    include_unplaced: bool,
) -> pd.DataFrame:
    """The data-quality table of `townships` (`quality_rollup` of the shared parts); kept,
    and handed out as a copy."""
    parts = period_quality(submissions, quarantine, config, registry, period)
    key = (generation(parts), _codes(townships), include_unplaced)

    def compute() -> pd.DataFrame:
        return quality_rollup(parts, townships=townships, include_unplaced=include_unplaced)

    return _tables.get(key, compute).copy()


def forget() -> None:
    """Drop everything kept (tests; the data would otherwise be reused until it changes)."""
    for memo in (_prepared, _figures, _quality, _tables, _township_records, _township_figures):
        memo.clear()
