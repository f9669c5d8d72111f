"""The data-quality table: what arrived in a period, what was refused and why, how late.

Per township (where the submission says it was collected), county and programme, for
submissions *received* in the period (local dates in the configured time zone):
accepted and rejected counts (rejected per first, deciding, reason: `rejected_<code>`),
soft-deleted submissions, duplicates (a second accepted record of the same child, form and
date), edited submissions and edits, the median and 90th-percentile lag in hours from
collection (`end`) to arrival, and the children at `E` whose records disagree on sex or
date of birth. County and programme rows are computed from the pooled rows, never from
township figures (a median of medians is not a median).

>>> import pandas as pd
>>> from analytics.flatten import empty_quarantine, empty_submissions
>>> from analytics.periods import Period
>>> towns = pd.DataFrame({"township_code": ["450123101"], "county_code": ["450123"]})
>>> table = quality_table(empty_submissions(), empty_quarantine(),
...                       period=Period.parse("2026-Q3"), townships=towns)
>>> table[["level", "accepted", "rejected"]].values.tolist()
[['programme', 0, 0], ['county', 0, 0], ['township', 0, 0]]
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics.periods import Period, as_datetime64
from analytics.records import instants_ns

NAT = np.iinfo(np.int64).min

ACCEPTED = "accepted"
REJECTED = "rejected"
ACCEPTANCE_RATE = "acceptance_rate"
DELETED_COUNT = "deleted"
DUPLICATES = "duplicates"
EDITED = "edited"
EDIT_COUNT = "edits"
LAG_MEDIAN = "lag_median_hours"
LAG_P90 = "lag_p90_hours"
CHILDREN = "children"
CHILDREN_SEX_CONFLICT = "children_sex_conflict"
CHILDREN_DOB_CONFLICT = "children_dob_conflict"
REJECTED_PREFIX = "rejected_"

COUNTS = (
    ACCEPTED,
    REJECTED,
    DELETED_COUNT,
    DUPLICATES,
    EDITED,
    EDIT_COUNT,
    CHILDREN,
    CHILDREN_SEX_CONFLICT,
    CHILDREN_DOB_CONFLICT,
)
_LAG = "_lag_hours"
#: The submission columns this table reads.
COLUMNS = (
    C.DOC_ID,
    C.FORM_ID,
    C.CHILD_ID,
    C.TOWNSHIP,
    C.RECEIVED_AT,
    C.COLLECTED_AT,
    C.DELETED,
    C.EDITS,
    C.TOMBSTONE,
    C.VISIT_DATE,
    C.DISTRIBUTION_DATE,
    C.VACCINATION_DATE,
)


def _in_period(instants: pd.Series, period: Period, timezone: str) -> np.ndarray:
    """Instants whose local date (in `timezone`) falls in the period."""
    zone = ZoneInfo(timezone)
    first = pd.Timestamp(period.start, tz=zone).value
    after = pd.Timestamp(period.end + timedelta(days=1), tz=zone).value
    ns = instants_ns(instants)
    return (ns >= first) & (ns < after)


class QualityParts:
    """One period's data-quality figures for every township at once, ready to be rolled up
    for any set of townships (`quality_rollup`): counts summed per township, arrival lags
    kept one per submission (a median of medians is not a median), grouped by township."""

    def __init__(
        self,
        period: Period,
        pooled: pd.DataFrame,
        reason_columns: Sequence[str],
    ) -> None:
        self.period = period
        self.reason_columns = tuple(reason_columns)
        count_columns = self.count_columns
        township = pooled[C.TOWNSHIP].astype(object)
        #: Per township (None: rows without one): the count columns summed.
        self.sums = (
            pooled[count_columns].groupby(township, sort=False, dropna=False).sum().reset_index()
        )
        #: Per registry or other township: the sums, lag median and p90 (`_aggregate`).
        self.townships = _aggregate(pooled, C.TOWNSHIP, "township", count_columns).set_index(
            C.TOWNSHIP
        )
        timed = pooled[_LAG].notna().to_numpy()
        places = township.to_numpy()[timed]
        codes, uniques = pd.factorize(places, use_na_sentinel=False)
        order = np.argsort(codes, kind="stable")
        self._lags = pooled[_LAG].to_numpy(dtype=float)[timed][order]
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        self._slices = {
            (None if pd.isna(place) else place): (int(bounds[k]), int(bounds[k + 1]))
            for k, place in enumerate(uniques)
        }
        self._stats: dict[tuple[bool, frozenset | None], tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def count_columns(self) -> list[str]:
        return [*COUNTS, *self.reason_columns]

    @property
    def nbytes(self) -> int:
        """About how much memory the parts hold."""
        frames = (self.sums, self.townships)
        held = sum(f.memory_usage(index=True, deep=False).sum() for f in frames)
        return int(held + self._lags.nbytes)

    def lag_stats(self, townships: frozenset[str] | None, *, grouped: bool) -> tuple[float, float]:
        """Median and 90th percentile of the lags of `townships` (None: every row), as
        `Series.median`/`quantile` compute them, or as a `groupby` does when `grouped`
        (their interpolations differ in the last bit: each level keeps its own)."""
        key = (grouped, townships)
        with self._lock:
            if key in self._stats:
                return self._stats[key]
        if townships is None:
            values = self._lags
        else:
            spans = [self._slices[t] for t in townships if t in self._slices]
            values = np.concatenate([self._lags[a:b] for a, b in sorted(spans)] or [[]])
        lags = pd.Series(values, dtype=float)
        if not len(lags):
            stats = (np.nan, np.nan)
        elif grouped:
            groups = lags.groupby(np.zeros(len(lags), dtype=np.int8))
            stats = (float(groups.median().iloc[0]), float(groups.quantile(0.9).iloc[0]))
        else:
            stats = (float(lags.median()), float(lags.quantile(0.9)))
        with self._lock:
            if len(self._stats) >= 4096:  # every distinct set of townships ever asked for
                self._stats.clear()
            self._stats[key] = stats
        return stats


def quality_table(
    submissions: pd.DataFrame,
    quarantine: pd.DataFrame,
    *,
    period: Period,
    townships: pd.DataFrame,
    children: pd.DataFrame | None = None,
    timezone: str = "Asia/Shanghai",
    include_unplaced: bool = True,
) -> pd.DataFrame:
    """Data-quality figures per township, county and programme for submissions received in P.

    Parameters
    ----------
    submissions, quarantine
        Flattened documents (`analytics.flatten`); not modified.
    townships
        Registry townships to report (`township_code`, `county_code`, names if any).
    children
        The children table at `E` (`analytics.children.children_table`), for the conflicts.
    include_unplaced
        Count rows whose township is not among `townships` in the programme row (off for a
        user who may see only some townships).

    Examples
    --------
    See the module docstring.
    """
    parts = quality_parts(
        submissions, quarantine, period=period, children=children, timezone=timezone
    )
    return quality_rollup(parts, townships=townships, include_unplaced=include_unplaced)


def quality_parts(
    submissions: pd.DataFrame,
    quarantine: pd.DataFrame,
    *,
    period: Period,
    children: pd.DataFrame | None = None,
    timezone: str = "Asia/Shanghai",
) -> QualityParts:
    """The costly half of `quality_table`: every township's figures for `period`, once."""
    C.require(
        submissions, (C.DOC_ID, C.FORM_ID, C.CHILD_ID, C.TOWNSHIP, C.RECEIVED_AT), "submissions"
    )
    C.require(quarantine, (C.DOC_ID, C.TOWNSHIP, C.RECEIVED_AT, C.Q_REASON), "quarantine")

    gone = (
        submissions[C.TOMBSTONE].to_numpy(dtype=bool)
        if C.TOMBSTONE in submissions
        else np.zeros(len(submissions), dtype=bool)
    )
    deleted = (
        submissions[C.DELETED].fillna(False).to_numpy(dtype=bool)
        if C.DELETED in submissions
        else np.zeros(len(submissions), dtype=bool)
    )
    received = _in_period(submissions[C.RECEIVED_AT], period, timezone) & ~gone
    accepted = np.flatnonzero(~deleted & ~gone)
    # Duplicates look at every accepted row (the first copy may be older than P) ...
    repeated = np.zeros(len(submissions), dtype=bool)
    repeated[accepted] = _duplicates(submissions, accepted)
    # ... everything else only at the rows received in P.
    here = np.flatnonzero(received)
    live = ~deleted[here]
    rows = pd.DataFrame(
        {
            C.TOWNSHIP: submissions[C.TOWNSHIP].to_numpy(dtype=object)[here],
            ACCEPTED: live.astype(np.int64),
            DELETED_COUNT: (~live).astype(np.int64),
            DUPLICATES: (repeated[here] & live).astype(np.int64),
            EDITED: 0,
            EDIT_COUNT: 0,
            _LAG: np.nan,
        }
    )
    if C.EDITS in submissions:
        edits = submissions[C.EDITS].to_numpy()[here]
        edits = np.where(pd.isna(edits), 0, edits).astype(np.int64)
        rows[EDITED] = ((edits > 0) & live).astype(np.int64)
        rows[EDIT_COUNT] = np.where(live, edits, 0)
    if C.COLLECTED_AT in submissions:
        got = instants_ns(submissions[C.RECEIVED_AT])[here]
        sent = instants_ns(submissions[C.COLLECTED_AT])[here]
        timed = live & (got != NAT) & (sent != NAT)
        rows[_LAG] = np.where(timed, (got - sent) / 3.6e12, np.nan)

    q = quarantine
    if C.TOMBSTONE in q:
        q = q.loc[~q[C.TOMBSTONE].to_numpy(dtype=bool)]
    if C.Q_STATUS in q:
        q = q.loc[(q[C.Q_STATUS].astype(object) != "reprocessed").to_numpy()]
    q = q.loc[_in_period(q[C.RECEIVED_AT], period, timezone)]
    reasons = q[C.Q_REASON].astype(object).fillna("unknown")
    codes = reasons.value_counts().index
    reason_columns = [f"{REJECTED_PREFIX}{code}" for code in codes]
    rejected = pd.DataFrame({C.TOWNSHIP: q[C.TOWNSHIP].astype(object).to_numpy(), REJECTED: 1})
    for code, column in zip(codes, reason_columns, strict=True):
        rejected[column] = (reasons == code).to_numpy().astype(np.int64)

    kids = pd.DataFrame({C.TOWNSHIP: []})
    if children is not None and len(children):
        kids = (
            pd.DataFrame(
                {
                    C.TOWNSHIP: children[C.TOWNSHIP].to_numpy(dtype=object),
                    CHILDREN: 1,
                    CHILDREN_SEX_CONFLICT: children[C.SEX_CONFLICT].to_numpy(dtype=np.int64),
                    CHILDREN_DOB_CONFLICT: children[C.DOB_CONFLICT].to_numpy(dtype=np.int64),
                }
            )
            .groupby(C.TOWNSHIP, sort=False)
            .sum()
            .reset_index()
        )
    pooled = pd.concat([rows, rejected, kids], ignore_index=True)
    count_columns = [*COUNTS, *reason_columns]
    for column in count_columns:
        pooled[column] = pooled[column].fillna(0).astype(np.int64) if column in pooled else 0
    return QualityParts(period, pooled, reason_columns)


def quality_rollup(
    parts: QualityParts, *, townships: pd.DataFrame, include_unplaced: bool = True
) -> pd.DataFrame:
    """The data-quality table of `townships` from `parts`: cheap, for any scope or county.

    `include_unplaced` counts rows of townships not in `townships` in the programme row.
    """
    C.require(townships, (C.TOWNSHIP, C.COUNTY), "townships")
    period = parts.period
    count_columns = parts.count_columns
    shown = set(townships[C.TOWNSHIP])
    county_of = dict(zip(townships[C.TOWNSHIP], townships[C.COUNTY], strict=True))
    sums = parts.sums.assign(**{C.COUNTY: parts.sums[C.TOWNSHIP].map(county_of)})
    if not include_unplaced:
        sums = sums.loc[sums[C.TOWNSHIP].isin(shown)]
    # The same figures as `_aggregate` over the submissions: counts summed, lags pooled.
    programme = sums[count_columns].sum().to_frame().T.astype(np.int64)
    programme[LAG_MEDIAN], programme[LAG_P90] = parts.lag_stats(
        None if include_unplaced else frozenset(shown), grouped=False
    )
    programme[C.LEVEL] = "programme"
    placed = sums.loc[sums[C.COUNTY].notna()]
    county = placed.groupby(C.COUNTY, sort=True)[count_columns].sum()
    members = placed.groupby(C.COUNTY, sort=True)[C.TOWNSHIP].agg(frozenset)
    stats = [parts.lag_stats(members[c], grouped=True) for c in county.index]
    county[LAG_MEDIAN] = np.array([m for m, _ in stats], dtype=float)
    county[LAG_P90] = np.array([p for _, p in stats], dtype=float)
    county = county.reset_index()
    county[C.LEVEL] = "county"
    township = (
        parts.townships.reindex(townships[C.TOWNSHIP].astype(object))
        .rename_axis(C.TOWNSHIP)
        .reset_index()
    )
    township[count_columns] = township[count_columns].fillna(0).astype(np.int64)
    township[C.LEVEL] = "township"
    township[C.COUNTY] = township[C.TOWNSHIP].map(county_of)
    counties = townships[C.COUNTY].drop_duplicates().astype(object)
    county = county.set_index(C.COUNTY).reindex(counties).rename_axis(C.COUNTY).reset_index()
    county[count_columns] = county[count_columns].fillna(0).astype(np.int64)
    county[C.LEVEL] = "county"
    table = pd.concat([programme, county, township], ignore_index=True)
    total = table[ACCEPTED] + table[REJECTED]
    table[ACCEPTANCE_RATE] = np.where(
        total > 0, table[ACCEPTED] / total.where(total > 0, 1), np.nan
    )
    for column in (C.TOWNSHIP_NAME_ZH, C.TOWNSHIP_NAME_EN):
        names = townships.drop_duplicates(C.TOWNSHIP).set_index(C.TOWNSHIP)
        table[column] = table[C.TOWNSHIP].map(names[column]) if column in names else None
    for column in (C.COUNTY_NAME_ZH, C.COUNTY_NAME_EN):
        names = townships.drop_duplicates(C.COUNTY).set_index(C.COUNTY)
        table[column] = table[C.COUNTY].map(names[column]) if column in names else None
    table[C.PERIOD] = period.label
    table[C.PERIOD_START] = period.start.isoformat()
    table[C.PERIOD_END] = period.end.isoformat()
    leading = [
        C.LEVEL,
        C.COUNTY,
        C.COUNTY_NAME_ZH,
        C.COUNTY_NAME_EN,
        C.TOWNSHIP,
        C.TOWNSHIP_NAME_ZH,
        C.TOWNSHIP_NAME_EN,
        C.PERIOD,
        C.PERIOD_START,
        C.PERIOD_END,
        ACCEPTED,
        REJECTED,
        ACCEPTANCE_RATE,
        DELETED_COUNT,
        DUPLICATES,
        EDITED,
        EDIT_COUNT,
        LAG_MEDIAN,
        LAG_P90,
        CHILDREN,
        CHILDREN_SEX_CONFLICT,
        CHILDREN_DOB_CONFLICT,
    ]
    return table.loc[:, leading + count_columns[len(COUNTS) :]].reset_index(drop=True)


def _aggregate(
    pooled: pd.DataFrame, key: str | None, level: str, count_columns: list[str]
) -> pd.DataFrame:
    if key is None:
        sums = pooled[count_columns].sum().to_frame().T.astype(np.int64)
        lag = pooled[_LAG].dropna()
        sums[LAG_MEDIAN] = float(lag.median()) if len(lag) else np.nan
        sums[LAG_P90] = float(lag.quantile(0.9)) if len(lag) else np.nan
        sums[C.LEVEL] = level
        return sums
    placed = pooled.loc[pooled[key].notna()]
    grouped = placed.groupby(key, sort=True)
    out = grouped[count_columns].sum()
    out[LAG_MEDIAN] = grouped[_LAG].median()
    out[LAG_P90] = grouped[_LAG].quantile(0.9)
    out = out.reset_index()
    out[C.LEVEL] = level
    return out


def _duplicates(submissions: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Of `rows`, those that repeat an earlier-received row of the same child, form and date.

    Which copy is "the repeat" does not change the counts: ties in arrival time fall in
    the same period together.
    """
    if not len(rows):
        return np.zeros(0, dtype=bool)
    dates = [c for c in (C.VISIT_DATE, C.DISTRIBUTION_DATE, C.VACCINATION_DATE) if c in submissions]
    day = np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]")
    for column in dates:
        values = as_datetime64(submissions[column])[rows]
        day = np.where(np.isnat(day), values, day)
    child = pd.factorize(submissions[C.CHILD_ID].to_numpy(dtype=object)[rows])[0]
    form = pd.factorize(submissions[C.FORM_ID].to_numpy(dtype=object)[rows])[0]
    received = instants_ns(submissions[C.RECEIVED_AT])[rows]
    day_ns = day.view(np.int64)
    order = np.lexsort((received, day_ns, form, child))
    c, f, d = child[order], form[order], day_ns[order]
    same = np.zeros(len(order), dtype=bool)
    same[1:] = (c[1:] == c[:-1]) & (f[1:] == f[:-1]) & (d[1:] == d[:-1])
    flags = np.zeros(len(order), dtype=bool)
    flags[order] = same & ~np.isnat(day[order])
    return flags
