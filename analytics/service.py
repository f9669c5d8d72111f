"""The one entry point of the CLI and the API: coverage and data quality for a period and scope.

Results are aggregates only: no child id, name or other personal field ever appears in
them, whoever asks. A user sees the townships of their scope (and of the county asked for), and
county and programme rows summed over those townships only: the `programme` row is always
the total of the townships shown.

>>> from analytics.source import Dataset, FrameSource, empty_quarantine, empty_submissions
>>> from server.accounts.scope import Scope
>>> table = coverage_table(period="2026-Q3", indicators=["stunting"], county="450123",
...     scope=Scope("analyst", None),
...     source=FrameSource(Dataset(empty_submissions(), empty_quarantine())))
>>> table[["level", "no_data"]].drop_duplicates().values.tolist()
[['programme', True], ['county', True], ['township', True]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from analytics import columns as C
from analytics.config import AnalyticsConfig, Indicator, cache_dir, load_config
from analytics.errors import AnalyticsError
from analytics.per_township import (
    PeriodFigures,
    period_figures,
    quality_table_of,
    township_figures,
)
from analytics.periods import Period
from analytics.quality import COLUMNS as QUALITY_COLUMNS
from analytics.records import analysed_columns
from analytics.source import CouchSource, Dataset, Source, StageProgress
from forms.registry import Registry, load_registry

#: Never in any analytics output (see `forms.contract`: fields marked personal).
PERSONAL = frozenset({"child_name", "mother_name", C.data("child_name"), C.data("mother_name")})


class ScopeLike(Protocol):
    """What the analytics need of `server.accounts.scope.Scope`."""

    @property
    def townships(self) -> frozenset[str] | None: ...

    @property
    def can_see_coverage(self) -> bool: ...


@dataclass(frozen=True)
class CoverageReport:
    """Everything the outputs need: the tables, the definitions and the places shown."""

    period: Period
    table: pd.DataFrame
    quality: pd.DataFrame
    indicators: tuple[Indicator, ...]
    config: AnalyticsConfig
    registry: Registry
    townships: pd.DataFrame  # the registry townships shown (scope and county applied)
    county: str | None = None


def needed_columns(config: AnalyticsConfig) -> list[str]:
    """Submission columns the indicators and the data-quality table read."""
    return list(dict.fromkeys([*analysed_columns(config), *QUALITY_COLUMNS, C.DELETED]))


def default_source(config: AnalyticsConfig | None = None) -> CouchSource:
    """Cradle's CouchDB as configured in Django settings, cached under `DATA_DIR`."""
    from django.conf import settings

    from server.core.couch import get_couch

    prefix = settings.COUCHDB["DB_PREFIX"]
    return CouchSource(
        get_couch(),
        prefix,
        cache_dir(prefix, settings.DATA_DIR),
        columns=needed_columns(config or load_config()),
    )


def check_query(
    *,
    period: str | Period,
    indicators: Sequence[str] | None = None,
    county: str | None = None,
    registry: Registry | None = None,
    config: AnalyticsConfig | None = None,
) -> tuple[Period, tuple[Indicator, ...]]:
    """The period and indicators of a query, or `AnalyticsError` saying what is wrong with
    it (period, indicator, county). Reads no data: what fails here is the asker's to fix.
    """
    period = period if isinstance(period, Period) else Period.parse(period)
    chosen = tuple((config or load_config()).select(indicators))
    if county is not None and county not in set((registry or load_registry()).townships[C.COUNTY]):
        raise AnalyticsError(f"unknown county {county!r}")
    return period, chosen


def _shown_townships(registry: Registry, *, county: str | None, scope: ScopeLike) -> pd.DataFrame:
    towns = registry.townships
    if county is not None:  # known: see `check_query`
        towns = towns.loc[towns[C.COUNTY] == county]
    if scope.townships is not None:
        towns = towns.loc[towns[C.TOWNSHIP].isin(scope.townships)]
        if towns.empty:
            raise PermissionError("no township of this request is in your area")
    return towns.reset_index(drop=True)


@dataclass(frozen=True)
class _Request:
    """A checked request: what to compute, for which townships, from which data."""

    period: Period
    config: AnalyticsConfig
    indicators: tuple[Indicator, ...]
    registry: Registry
    townships: pd.DataFrame
    dataset: Dataset
    everything: bool

    def figures(self) -> PeriodFigures:
        return period_figures(self.dataset.submissions, self.config, self.registry, self.period)

    def figures_of(self, township: str) -> PeriodFigures:
        return township_figures(
            self.dataset.submissions,
            self.config,
            self.registry,
            self.period,
            township,
            self.indicators,
        )


def _loaded(
    *,
    scope: ScopeLike,
    county: str | None,
    source: Source | None,
    registry: Registry | None,
    config: AnalyticsConfig | None,
    progress: StageProgress | None = None,
    rebuild: bool = False,
) -> tuple[AnalyticsConfig, Registry, pd.DataFrame, Dataset]:
    """Configuration, registry, the townships shown and the current data, for `scope`."""
    config = config or load_config()
    registry = registry or load_registry()
    towns = _shown_townships(registry, county=county, scope=scope)
    dataset = (source or default_source(config)).load(progress=progress, rebuild=rebuild)
    return config, registry, towns, dataset


def _request(
    *,
    period: str | Period,
    indicators: Sequence[str] | None,
    county: str | None,
    scope: ScopeLike,
    source: Source | None,
    registry: Registry | None,
    config: AnalyticsConfig | None,
    progress: StageProgress | None = None,
    rebuild: bool = False,
) -> _Request:
    if not scope.can_see_coverage:
        raise PermissionError("this role may not see coverage")
    period, chosen = check_query(
        period=period, indicators=indicators, county=county, registry=registry, config=config
    )
    config, registry, towns, dataset = _loaded(
        scope=scope,
        county=county,
        source=source,
        registry=registry,
        config=config,
        progress=progress,
        rebuild=rebuild,
    )
    everything = scope.townships is None and county is None
    return _Request(period, config, chosen, registry, towns, dataset, everything)


def _table(
    request: _Request, *, overdue: bool = True, figures: PeriodFigures | None = None
) -> pd.DataFrame:
    """The coverage table of the request's townships, rolled up from the shared counts.

    Without `overdue`, `overdue_children` stays empty (NA): it is the costliest column,
    and the pages do not show it.
    """
    figures = figures or request.figures()
    return _checked(figures.table(request.indicators, request.townships, overdue=overdue))


def _quality(request: _Request) -> pd.DataFrame:
    """The data-quality table of the request's townships, rolled up from the shared parts."""
    table = quality_table_of(
        request.dataset.submissions,
        request.dataset.quarantine,
        request.config,
        request.registry,
        request.period,
        townships=request.townships,
        include_unplaced=request.everything,
    )
    return _checked(table)


def _checked(frame: pd.DataFrame) -> pd.DataFrame:
    leaked = PERSONAL.intersection(frame.columns) | ({C.CHILD_ID} & set(frame.columns))
    if leaked:  # a programming error, never user input
        raise AnalyticsError(f"personal columns in an analytics result: {sorted(leaked)}")
    return frame


def coverage_report(
    *,
    period: str | Period,
    indicators: Sequence[str] | None = None,
    county: str | None = None,
    scope: ScopeLike,
    source: Source | None = None,
    registry: Registry | None = None,
    config: AnalyticsConfig | None = None,
    progress: StageProgress | None = None,
    rebuild: bool = False,
) -> CoverageReport:
    """Coverage table and data-quality table for `period`, restricted to `scope` and `county`.

    The counting is shared: done once per period for every township and kept until the
    data change (`analytics.per_township`); this call filters and rolls it up.

    Raises `PermissionError` when the scope may not see coverage (or nothing of the request
    is in it) and `AnalyticsError` for a bad period, indicator or county.
    """
    request = _request(
        period=period,
        indicators=indicators,
        county=county,
        scope=scope,
        source=source,
        registry=registry,
        config=config,
        progress=progress,
        rebuild=rebuild,
    )
    return CoverageReport(
        request.period,
        _table(request),
        _quality(request),
        request.indicators,
        request.config,
        request.registry,
        request.townships,
        county,
    )


def coverage_table(
    *,
    period: str | Period,
    indicators: Sequence[str] | None = None,
    county: str | None = None,
    scope: ScopeLike,
    source: Source | None = None,
    overdue: bool = True,
) -> pd.DataFrame:
    """The coverage result table (`analytics.columns.RESULT_COLUMNS`) for the CLI and the API.

    Parameters
    ----------
    period
        `2026-07`, `2026-Q3`, `2026`, `2026-07-01..2026-09-30` or a `Period`.
    indicators
        Indicator ids (all when None).
    county
        A county code: its townships only.
    scope
        Who asks (`server.accounts.scope.Scope`): supervisors see their townships only.
    source
        Where the data come from (default: Cradle's CouchDB through the local cache).
    overdue
        Fill `overdue_children` (False leaves it empty, and costs less).

    Examples
    --------
    See the module docstring.
    """
    request = _request(
        period=period,
        indicators=indicators,
        county=county,
        scope=scope,
        source=source,
        registry=None,
        config=None,
    )
    return _table(request, overdue=overdue)


def quality_report(
    *,
    period: str | Period,
    county: str | None = None,
    scope: ScopeLike,
    source: Source | None = None,
) -> pd.DataFrame:
    """The data-quality table alone (`analytics.quality`), as `coverage_report` has it."""
    request = _request(
        period=period,
        indicators=None,
        county=county,
        scope=scope,
        source=source,
        registry=None,
        config=None,
    )
    return _quality(request)


def township_trend(
    *,
    township: str,
    periods: Sequence[str | Period],
    scope: ScopeLike,
    source: Source | None = None,
) -> pd.DataFrame:
    """The rows of one township, every indicator, for each of `periods` in order: the same
    rows as each period's coverage table (`overdue_children` left empty), from one read of
    the data and only that township's children unless the period's shared counts exist.

    Raises `PermissionError` when the township is not in the scope.
    """
    if not scope.can_see_coverage:
        raise PermissionError("this role may not see coverage")
    parsed = [p if isinstance(p, Period) else Period.parse(p) for p in periods]
    config, registry, towns, dataset = _loaded(
        scope=scope, county=None, source=source, registry=None, config=None
    )
    mine = towns.loc[(towns[C.TOWNSHIP] == township).to_numpy()].reset_index(drop=True)
    if mine.empty:
        raise PermissionError("this township is not in your area")
    tables = []
    for period in parsed:
        request = _Request(period, config, config.indicators, registry, mine, dataset, False)
        table = _table(request, overdue=False, figures=request.figures_of(township))
        tables.append(table.loc[(table[C.LEVEL] == "township").to_numpy()])
    if not tables:
        return pd.DataFrame(columns=list(C.RESULT_COLUMNS))
    return pd.concat(tables, ignore_index=True)
