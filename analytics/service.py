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

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics.children import children_table
from analytics.config import AnalyticsConfig, Indicator, cache_dir, load_config
from analytics.errors import AnalyticsError
from analytics.indicators import count_indicators, summarise, target_denominators
from analytics.periods import Period
from analytics.quality import COLUMNS as QUALITY_COLUMNS
from analytics.quality import quality_table
from analytics.records import analysed_columns, explode_doses, prepare_records
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


class _Prepared:
    """Records, doses and per-date children of one dataset, kept while the dataset is."""

    def __init__(self, submissions: pd.DataFrame, config: AnalyticsConfig) -> None:
        self.submissions = submissions
        self.records = prepare_records(
            submissions,
            event_dates=config.event_dates,
            timezone=config.settings.timezone,
            columns=analysed_columns(config),
        )
        self.doses = explode_doses(self.records) if C.DOSES_GIVEN in self.records else None
        self._children: dict[date, pd.DataFrame] = {}

    def children(self, on: date, townships: pd.DataFrame) -> pd.DataFrame:
        if on not in self._children:
            if len(self._children) >= 16:  # a dashboard's trend asks for a few dates
                self._children.pop(next(iter(self._children)))
            self._children[on] = children_table(self.records, on=on, townships=townships)
        return self._children[on]


_prepared: OrderedDict[tuple[int, int], _Prepared] = OrderedDict()
_prepared_lock = threading.Lock()


def _prepare(submissions: pd.DataFrame, config: AnalyticsConfig) -> _Prepared:
    key = (id(submissions), id(config))
    with _prepared_lock:
        hit = _prepared.get(key)
        if hit is not None and hit.submissions is submissions:
            _prepared.move_to_end(key)
            return hit
    prepared = _Prepared(submissions, config)
    with _prepared_lock:
        _prepared[key] = prepared
        while len(_prepared) > 2:
            _prepared.popitem(last=False)
    return prepared


def needed_columns(config: AnalyticsConfig) -> list[str]:
    """Submission columns the indicators and the data-quality table read."""
    return list(dict.fromkeys([*analysed_columns(config), *QUALITY_COLUMNS, C.DELETED]))


def _with_overdue(
    table: pd.DataFrame, prepared: _Prepared, children: pd.DataFrame, period: Period
) -> pd.DataFrame:
    """Fill `overdue_children`: children with at least one overdue dose at the period's end,
    per township, summed for the counties and the programme (the work behind the rate)."""
    from analytics.due import N_OVERDUE, OVERDUE, STATUS, dose_status, overdue_per_township
    from forms.schedule import load_schedule

    doses = prepared.doses
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
    per_county = per_town.groupby(per_town.index.map(county_of)).sum()
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


def _shown_townships(registry: Registry, *, county: str | None, scope: ScopeLike) -> pd.DataFrame:
    towns = registry.townships
    if county is not None:
        if county not in set(towns[C.COUNTY]):
            raise AnalyticsError(f"unknown county {county!r}")
        towns = towns.loc[towns[C.COUNTY] == county]
    if scope.townships is not None:
        towns = towns.loc[towns[C.TOWNSHIP].isin(scope.townships)]
        if towns.empty:
            raise PermissionError("no township of this request is in your area")
    return towns.reset_index(drop=True)


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

    Raises `PermissionError` when the scope may not see coverage (or nothing of the request
    is in it) and `AnalyticsError` for a bad period, indicator or county.
    """
    if not scope.can_see_coverage:
        raise PermissionError("this role may not see coverage")
    period = period if isinstance(period, Period) else Period.parse(period)
    config = config or load_config()
    chosen = config.select(indicators)
    registry = registry or load_registry()
    towns = _shown_townships(registry, county=county, scope=scope)
    dataset: Dataset = (source or default_source(config)).load(progress=progress, rebuild=rebuild)
    prepared = _prepare(dataset.submissions, config)
    children = prepared.children(period.end, registry.townships)
    shown = set(towns[C.TOWNSHIP])
    counts = count_indicators(
        prepared.records,
        period=period,
        indicators=chosen,
        doses=prepared.doses,
        children=children,
        settings=config.settings,
    )
    counts = counts.loc[counts[C.TOWNSHIP].isin(shown)]
    targets = target_denominators(registry.targets, indicators=chosen, period=period)
    table = summarise(
        counts,
        period=period,
        indicators=chosen,
        townships=towns,
        target_counts=targets,
        settings=config.settings,
    )
    table = _with_overdue(table, prepared, children.loc[children[C.TOWNSHIP].isin(shown)], period)
    everything = scope.townships is None and county is None
    quality = quality_table(
        dataset.submissions,
        dataset.quarantine,
        period=period,
        townships=towns,
        children=children.loc[children[C.TOWNSHIP].isin(shown)],
        timezone=config.settings.timezone,
        include_unplaced=everything,
    )
    for frame in (table, quality):
        leaked = PERSONAL.intersection(frame.columns) | ({C.CHILD_ID} & set(frame.columns))
        if leaked:  # a programming error, never user input
            raise AnalyticsError(f"personal columns in an analytics result: {sorted(leaked)}")
    return CoverageReport(period, table, quality, chosen, config, registry, towns, county)


def coverage_table(
    *,
    period: str | Period,
    indicators: Sequence[str] | None = None,
    county: str | None = None,
    scope: ScopeLike,
    source: Source | None = None,
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

    Examples
    --------
    See the module docstring.
    """
    return coverage_report(
        period=period, indicators=indicators, county=county, scope=scope, source=source
    ).table
