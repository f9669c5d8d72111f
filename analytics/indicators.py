"""Every indicator of INDICATORS.md, per township, for one reporting period.

Each indicator is data (`analytics/indicators.toml`, read by `analytics.config`): a cohort
of children, the evidence among their records, a denominator and a numerator. This module
evaluates any such definition with array operations over the whole records table: children
are counted once each, in their township at the evaluation date `E`, and the counts are then
summed per township, county and programme before any division (`summarise`).

>>> import pandas as pd
>>> from analytics import columns as C
>>> from analytics.config import load_config
>>> from analytics.periods import Period
>>> records = pd.DataFrame({C.DOC_ID: ["a"], C.FORM_ID: ["immunization"],
...     C.CHILD_ID: ["K1"], C.TOWNSHIP: ["450123101"], C.CHILD_SEX: ["male"],
...     C.CHILD_DOB: pd.to_datetime(["2026-01-10"]), C.DOSES_GIVEN: ["bcg hepb1"],
...     C.EVENT_DATE: pd.to_datetime(["2026-01-10"])})
>>> counts = count_indicators(records, period=Period.parse("2026-Q3"),
...                           indicators=load_config().select(["imm_bcg"]))
>>> counts[[C.TOWNSHIP, C.NUMERATOR, C.DENOMINATOR]].values.tolist()
[['450123101', 1, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics.children import children_table
from analytics.config import AllDoses, Condition, Indicator, Settings
from analytics.growth import zscores
from analytics.periods import Period, add_months, as_datetime64, completed_months
from analytics.records import explode_doses
from analytics.stats import target_met, wilson_interval

COUNT_COLUMNS = (C.TOWNSHIP, C.INDICATOR, C.NUMERATOR, C.DENOMINATOR)
REQUIRED = (C.DOC_ID, C.FORM_ID, C.CHILD_ID, C.TOWNSHIP, C.CHILD_SEX, C.CHILD_DOB, C.EVENT_DATE)


class _Frame:
    """The records, doses and children of one evaluation, with lookups by position."""

    def __init__(
        self,
        records: pd.DataFrame,
        doses: pd.DataFrame | None,
        children: pd.DataFrame,
        period: Period,
        settings: Settings,
    ) -> None:
        self.records = records
        self._doses = doses
        self.children = children
        self.period = period
        self.settings = settings
        self.child_of_record = pd.Index(children[C.CHILD_ID]).get_indexer(records[C.CHILD_ID])
        self.dob = as_datetime64(children[C.DOB])
        self.sex = children[C.SEX].to_numpy(dtype=object)
        self.event = as_datetime64(records[C.EVENT_DATE])
        end = np.datetime64(period.end, "ns")
        self.known = children[C.TOWNSHIP].notna().to_numpy() & (self.dob <= end)
        self.age_at_end = completed_months(children[C.DOB], period.end)
        self._columns: dict[str, np.ndarray] = {}

    @property
    def doses(self) -> pd.DataFrame:
        if self._doses is None:
            self._doses = explode_doses(self.records)
        return self._doses

    def column(self, name: str) -> np.ndarray:
        """A records column as an array (categoricals as objects), computed once."""
        if name not in self._columns:
            if name not in self.records:
                raise ValueError(f"records has no column {name!r}")
            series = self.records[name]
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.astype(object)
            self._columns[name] = series.to_numpy()
        return self._columns[name]

    def values(self, name: str, rec: np.ndarray, child: np.ndarray) -> np.ndarray:
        """Values of a records column or a derived column for records at `rec`."""
        if name == C.AGE_DAYS:
            return (self.event[rec] - self.dob[child]) / np.timedelta64(1, "D")
        if name == C.AGE_MONTHS:
            return completed_months(self.dob[child], self.event[rec])
        if name in (C.LAZ, C.WAZ):
            z = zscores(
                pd.DataFrame(
                    {
                        "sex": self.sex[child],
                        "age_days": (self.event[rec] - self.dob[child]) / np.timedelta64(1, "D"),
                        "length_cm": self._optional(C.LENGTH_CM, rec),
                        "weight_kg": self._optional(C.WEIGHT_KG, rec),
                        "lying": _yes(self._optional(C.MEASURED_LYING, rec)),
                        "oedema": _yes(self._optional(C.OEDEMA, rec)),
                    }
                ),
                exclude_weight_when_oedema=self.settings.exclude_weight_when_oedema,
            )
            return z[name].to_numpy()
        return self.column(name)[rec]

    def _optional(self, name: str, rec: np.ndarray) -> np.ndarray:
        if name not in self.records:
            return np.full(len(rec), np.nan, dtype=object)
        return self.column(name)[rec]


def _yes(values: np.ndarray) -> np.ndarray:
    out = np.full(len(values), np.nan, dtype=object)
    out[values == "yes"] = True
    out[values == "no"] = False
    return out


def _condition(values: np.ndarray, condition: Condition) -> np.ndarray:
    """Rows meeting `column op value`; a missing value meets nothing but `isna`."""
    op, target = condition.op, condition.value
    series = pd.Series(values)
    if op == "notna":
        return series.notna().to_numpy()
    if op == "isna":
        return series.isna().to_numpy()
    if op == "in":
        return series.isin(list(target)).to_numpy()
    if op == "not_in":
        return (series.notna() & ~series.isin(list(target))).to_numpy()
    if op == "==":
        return (series == target).fillna(False).to_numpy(dtype=bool)
    if op == "!=":
        return (series.notna() & (series != target)).to_numpy(dtype=bool)
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        if op == "between":
            low, high = target
            return (numbers >= low) & (numbers <= high)
        return {
            "<": numbers < target,
            "<=": numbers <= target,
            ">": numbers > target,
            ">=": numbers >= target,
        }[op]


def _cohort(indicator: Indicator, frame: _Frame) -> np.ndarray:
    """Children (by position in the children table) who can count."""
    mask = frame.known.copy()
    cohort = indicator.cohort
    if cohort.born_in_period:
        mask &= frame.dob >= np.datetime64(frame.period.start, "ns")
    with np.errstate(invalid="ignore"):
        if cohort.min_months is not None:
            mask &= frame.age_at_end >= cohort.min_months
        if cohort.max_months is not None:
            mask &= frame.age_at_end < cohort.max_months
    return mask


def _evidence(
    indicator: Indicator, frame: _Frame, cohort: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (`rec` in records, `child` in children) of the evidence rows, in event order."""
    ev = indicator.evidence
    assert ev is not None
    if ev.table == "doses":
        doses = frame.doses
        keep = (doses[C.DOSE] == ev.dose).to_numpy()
        rec = doses[C.REC].to_numpy()[keep]
    else:
        rec = np.arange(len(frame.records))
    if ev.forms:
        rec = rec[np.isin(frame.column(C.FORM_ID)[rec], list(ev.forms))]
    child = frame.child_of_record[rec]
    keep = (child >= 0) & cohort[np.maximum(child, 0)]
    event = frame.event[rec]
    if ev.window == "period":
        keep &= (event >= np.datetime64(frame.period.start, "ns")) & (
            event <= np.datetime64(frame.period.end, "ns")
        )
    elif ev.window == "until_E":
        keep &= event <= np.datetime64(frame.period.end, "ns")
    rec, child = rec[keep], child[keep]
    for condition in ev.where:
        keep = _condition(frame.values(condition.column, rec, child), condition)
        rec, child = rec[keep], child[keep]
    if ev.pick == "latest" and len(rec):
        order = np.argsort(rec, kind="stable")  # records are in event order
        rec, child = rec[order], child[order]
        last = len(child) - 1 - np.unique(child[::-1], return_index=True)[1]
        last.sort()
        rec, child = rec[last], child[last]
    return rec, child


def _all_doses(numerator: AllDoses, frame: _Frame, cohort: np.ndarray) -> np.ndarray:
    """Cohort children with every dose recorded before the given age."""
    doses = frame.doses
    wanted = doses[C.DOSE].isin(list(numerator.doses)).to_numpy()
    rec = doses[C.REC].to_numpy()[wanted]
    dose = doses[C.DOSE].to_numpy()[wanted]
    child = frame.child_of_record[rec]
    ok = (child >= 0) & cohort[np.maximum(child, 0)]
    rec, dose, child = rec[ok], dose[ok], child[ok]
    limit = add_months(pd.Series(frame.dob[child]), numerator.before_age_months).to_numpy()
    early = frame.event[rec] < limit
    pairs = pd.DataFrame({"child": child[early], "dose": dose[early]}).drop_duplicates()
    have = np.bincount(pairs["child"].to_numpy(dtype=np.int64), minlength=len(cohort))
    return cohort & (have >= len(set(numerator.doses)))


def child_results(indicator: Indicator, frame: _Frame) -> tuple[np.ndarray, np.ndarray]:
    """Per child of the children table: in the denominator, in the numerator."""
    cohort = _cohort(indicator, frame)
    numerator = indicator.numerator
    if isinstance(numerator, AllDoses):
        return cohort, _all_doses(numerator, frame, cohort)
    rec, child = _evidence(indicator, frame, cohort)
    denominator = cohort
    if indicator.denominator == "evidence":
        for condition in indicator.eligible:
            keep = _condition(frame.values(condition.column, rec, child), condition)
            rec, child = rec[keep], child[keep]
        denominator = np.zeros(len(cohort), dtype=bool)
        denominator[child] = True
    if numerator != "has_evidence":
        for condition in numerator:
            keep = _condition(frame.values(condition.column, rec, child), condition)
            rec, child = rec[keep], child[keep]
    counted = np.zeros(len(cohort), dtype=bool)
    counted[child] = True
    return denominator, counted & denominator


def count_indicators(
    records: pd.DataFrame,
    *,
    period: Period,
    indicators: Sequence[Indicator],
    townships: pd.DataFrame | None = None,
    doses: pd.DataFrame | None = None,
    children: pd.DataFrame | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Numerator and registered denominator per township and indicator.

    Parameters
    ----------
    records
        Accepted records in event order (`analytics.records.prepare_records`); not modified.
    period
        The reporting period `P`; its last day is `E`.
    indicators
        Definitions from `analytics.config`.
    townships
        Registry townships: when given, children are placed in their county from it.
    doses, children
        Precomputed `explode_doses(records)` and `children_table(records, on=E)`.

    Returns
    -------
    pandas.DataFrame
        `township_code`, `indicator`, `numerator`, `denominator` for every township that
        has children at `E`, in indicator order.

    Examples
    --------
    See the module docstring.
    """
    C.require(records, REQUIRED, "records")
    settings = settings or Settings()
    if children is None:
        children = children_table(records, on=period.end, townships=townships)
    frame = _Frame(records, doses, children, period, settings)
    codes, places = pd.factorize(children[C.TOWNSHIP])
    valid = codes >= 0
    parts = []
    for indicator in indicators:
        den, num = child_results(indicator, frame)
        parts.append(
            pd.DataFrame(
                {
                    C.TOWNSHIP: np.asarray(places, dtype=object),
                    C.INDICATOR: indicator.id,
                    C.NUMERATOR: np.bincount(codes[valid & num], minlength=len(places)),
                    C.DENOMINATOR: np.bincount(codes[valid & den], minlength=len(places)),
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: [] for c in COUNT_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    return out.astype({C.NUMERATOR: "int64", C.DENOMINATOR: "int64"})


def target_denominators(
    targets: pd.DataFrame, *, indicators: Sequence[Indicator], period: Period
) -> pd.DataFrame:
    """The registry's target population per township and indicator, for `P`.

    Birth-based populations (`prorate`) are pro-rated to the share of each year the period
    covers; the others are the population of the year of `E`. NaN where the registry has
    no figure for a year the period needs.

    Examples
    --------
    >>> from analytics.config import load_config
    >>> targets = pd.DataFrame({"township_code": ["450123101"], "year": [2026],
    ...     "expected_births": [365], "children_under_1": [400],
    ...     "children_6_24m": [600], "children_under_5": [2000]})
    >>> out = target_denominators(targets, indicators=load_config().select(
    ...     ["newborn_visit_7d"]), period=Period.parse("2026-07"))
    >>> out["target_denominator"].tolist()
    [31.0]
    """
    C.require(targets, (C.TOWNSHIP, "year"), "targets")
    parts = []
    fractions = period.year_fractions()
    wides: dict[str, pd.DataFrame] = {}  # many indicators share a target population
    for indicator in indicators:
        column = indicator.target_population
        if column is None:
            continue
        if column not in wides:
            C.require(targets, (column,), "targets")
            wides[column] = targets.pivot_table(
                index=C.TOWNSHIP, columns="year", values=column, aggfunc="sum"
            )
        wide = wides[column]
        if indicator.prorate:
            value = pd.Series(0.0, index=wide.index)
            for year, share in fractions.items():
                year_values = wide[year] if year in wide else pd.Series(np.nan, index=wide.index)
                value = value + pd.to_numeric(year_values, errors="coerce").astype(float) * share
        else:
            year = period.end.year
            value = pd.to_numeric(
                wide[year] if year in wide else pd.Series(np.nan, index=wide.index),
                errors="coerce",
            ).astype(float)
        parts.append(
            pd.DataFrame(
                {
                    C.TOWNSHIP: wide.index.astype(object),
                    C.INDICATOR: indicator.id,
                    C.TARGET_DENOMINATOR: value.to_numpy(dtype=float),
                }
            )
        )
    if not parts:
        return pd.DataFrame({C.TOWNSHIP: [], C.INDICATOR: [], C.TARGET_DENOMINATOR: []})
    return pd.concat(parts, ignore_index=True)


def summarise(
    counts: pd.DataFrame,
    *,
    period: Period,
    indicators: Sequence[Indicator],
    townships: pd.DataFrame,
    target_counts: pd.DataFrame | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The result table: every township of `townships` × indicator, then county and
    programme roll-ups (counts summed, then divided), with rates, Wilson intervals,
    targets, `met` and flags. Columns: `analytics.columns.RESULT_COLUMNS`.

    Examples
    --------
    >>> from analytics.config import load_config
    >>> towns = pd.DataFrame({C.TOWNSHIP: ["450123101", "450123102"],
    ...     C.TOWNSHIP_NAME_ZH: ["甲", "乙"], C.TOWNSHIP_NAME_EN: ["A", "B"],
    ...     C.COUNTY: ["450123"] * 2, C.COUNTY_NAME_ZH: ["县"] * 2, C.COUNTY_NAME_EN: ["C"] * 2})
    >>> counts = pd.DataFrame({C.TOWNSHIP: ["450123101"], C.INDICATOR: ["stunting"],
    ...                        C.NUMERATOR: [3], C.DENOMINATOR: [30]})
    >>> table = summarise(counts, period=Period.parse("2026-Q3"),
    ...                   indicators=load_config().select(["stunting"]), townships=towns)
    >>> for row in table[[C.LEVEL, C.NUMERATOR, C.DENOMINATOR, C.NO_DATA]].values.tolist():
    ...     print(row)
    ['programme', 3, 30, False]
    ['county', 3, 30, False]
    ['township', 3, 30, False]
    ['township', 0, 0, True]
    """
    settings = settings or Settings()
    C.require(counts, COUNT_COLUMNS, "counts")
    C.require(townships, (C.TOWNSHIP, C.COUNTY), "townships")
    ids = [i.id for i in indicators]
    grid = pd.MultiIndex.from_product(
        [townships[C.TOWNSHIP].astype(object).tolist(), ids], names=[C.TOWNSHIP, C.INDICATOR]
    )
    base = (
        counts.astype({C.TOWNSHIP: object})
        .groupby([C.TOWNSHIP, C.INDICATOR], observed=True)[[C.NUMERATOR, C.DENOMINATOR]]
        .sum()
        .reindex(grid, fill_value=0)
    )
    if target_counts is not None and len(target_counts):
        tc = target_counts.astype({C.TOWNSHIP: object}).set_index([C.TOWNSHIP, C.INDICATOR])
        base[C.TARGET_DENOMINATOR] = tc[C.TARGET_DENOMINATOR].reindex(grid)
    else:
        base[C.TARGET_DENOMINATOR] = np.nan
    base = base.reset_index()
    county_of = dict(zip(townships[C.TOWNSHIP], townships[C.COUNTY], strict=True))
    base[C.COUNTY] = base[C.TOWNSHIP].map(county_of)
    base[C.LEVEL] = "township"
    county = _rolled_up(base, [C.COUNTY, C.INDICATOR], "county")
    programme = _rolled_up(base, [C.INDICATOR], "programme")
    table = pd.concat([programme, county, base], ignore_index=True)

    names = townships.drop_duplicates(C.TOWNSHIP).set_index(C.TOWNSHIP)
    for column in (C.TOWNSHIP_NAME_ZH, C.TOWNSHIP_NAME_EN):
        table[column] = table[C.TOWNSHIP].map(names[column]) if column in names else None
    county_names = townships.drop_duplicates(C.COUNTY).set_index(C.COUNTY)
    for column in (C.COUNTY_NAME_ZH, C.COUNTY_NAME_EN):
        table[column] = (
            table[C.COUNTY].map(county_names[column]) if column in county_names else None
        )
    by_id = {i.id: i for i in indicators}
    table[C.PROGRAMME] = table[C.INDICATOR].map({k: v.programme for k, v in by_id.items()})
    table[C.TARGET] = table[C.INDICATOR].map({k: v.target for k, v in by_id.items()}).astype(float)
    table[C.DIRECTION] = table[C.INDICATOR].map({k: v.direction for k, v in by_id.items()})
    num = table[C.NUMERATOR].to_numpy(dtype=float)
    den = table[C.DENOMINATOR].to_numpy(dtype=float)
    tden = table[C.TARGET_DENOMINATOR].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        table[C.RATE] = np.where(den > 0, num / den, np.nan)
        table[C.TARGET_RATE] = np.where(tden > 0, num / tden, np.nan)
    table[C.CI_LOW], table[C.CI_HIGH] = wilson_interval(num, den, settings.confidence)
    table[C.MET] = target_met(table[C.RATE], table[C.TARGET], table[C.DIRECTION]).to_numpy()
    table[C.SMALL_DENOMINATOR] = den < settings.small_denominator
    table[C.NUMERATOR_EXCEEDS_DENOMINATOR] = (num > den) | (np.isfinite(tden) & (num > tden))
    table[C.NO_DATA] = den == 0
    table[C.OVERDUE_CHILDREN] = pd.array([pd.NA] * len(table), dtype="Int64")
    table[C.PERIOD] = period.label
    table[C.PERIOD_START] = period.start.isoformat()
    table[C.PERIOD_END] = period.end.isoformat()
    level_rank = table[C.LEVEL].map({"programme": 0, "county": 1, "township": 2})
    table["_indicator_rank"] = table[C.INDICATOR].map({k: v.order for k, v in by_id.items()})
    table["_level_rank"] = level_rank
    table = table.sort_values(
        ["_indicator_rank", "_level_rank", C.COUNTY, C.TOWNSHIP], na_position="first"
    )
    table = table.drop(columns=["_indicator_rank", "_level_rank"]).reset_index(drop=True)
    table = table.astype({C.NUMERATOR: "int64", C.DENOMINATOR: "int64"})
    table[C.MET] = table[C.MET].astype("boolean")
    return table.loc[:, list(C.RESULT_COLUMNS)]


def _rolled_up(base: pd.DataFrame, keys: list[str], level: str) -> pd.DataFrame:
    """Counts summed per group of `keys`; the target population summed too, or NaN when no
    township of the group has one (a missing target is not a target of zero)."""
    grouped = base.groupby(keys, sort=False)
    out = grouped[[C.NUMERATOR, C.DENOMINATOR]].sum()
    # Group by group as `Series.sum` adds (pairwise, missing as 0): the same bits as ever.
    group = grouped.ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    values = base[C.TARGET_DENOMINATOR].to_numpy(dtype=float)[order]
    bounds = np.searchsorted(group[order], np.arange(len(out) + 1))
    known = ~np.isnan(values)
    filled = np.where(known, values, 0.0)
    out[C.TARGET_DENOMINATOR] = [
        float(filled[a:b].sum()) if known[a:b].any() else np.nan for a, b in pairwise(bounds)
    ]
    out = out.reset_index()
    out[C.LEVEL] = level
    return out
