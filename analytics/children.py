"""The children table: one row per `child_id`, with the facts every indicator relies on.

Sex and date of birth come from the child's records: the value recorded at newborn visits
first, then the most frequent value, then the value of the latest record. A child whose
records disagree keeps the chosen value and is flagged (`sex_conflict`, `dob_conflict`):
a data-quality finding, never a crash. The child's township at `E` is that of the latest
record dated on or before `E`; a child known only from later records is placed by the
earliest of them (the child existed at `E`, only the record came later).

>>> import pandas as pd
>>> from analytics import columns as C
>>> records = pd.DataFrame({C.CHILD_ID: ["K1", "K1", "K1"], C.FORM_ID: ["newborn_visit",
...     "immunization", "immunization"], C.TOWNSHIP: ["450123101", "450123101", "450123102"],
...     C.COUNTY: ["450123"] * 3, C.CHILD_SEX: ["female"] * 3,
...     C.CHILD_DOB: pd.to_datetime(["2026-01-02", "2026-01-03", "2026-01-03"]),
...     C.EVENT_DATE: pd.to_datetime(["2026-01-05", "2026-03-01", "2026-08-01"])})
>>> table = children_table(records, on="2026-06-30")
>>> row = table.iloc[0]
>>> str(row[C.DOB].date()), bool(row[C.DOB_CONFLICT]), row[C.TOWNSHIP]
('2026-01-02', True, '450123101')
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics.periods import as_datetime64

NEWBORN = "newborn_visit"
REQUIRED = (C.CHILD_ID, C.FORM_ID, C.TOWNSHIP, C.CHILD_SEX, C.CHILD_DOB, C.EVENT_DATE)


def _resolve(
    codes: np.ndarray, n: int, newborn: np.ndarray, values: pd.Series
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Per child code `0..n-1`: the position in `uniques` of the chosen value (-1: none),
    whether the child's records disagree, and the distinct values (sorted)."""
    present = values.notna().to_numpy()
    value_codes, uniques = pd.factorize(values, sort=True)
    rows = np.flatnonzero(present)
    width = max(len(uniques), 1)
    key = codes[rows].astype(np.int64) * width + value_codes[rows]
    pairs, inverse = np.unique(key, return_inverse=True)
    count = np.bincount(inverse, minlength=len(pairs))
    at_newborn = np.bincount(inverse, weights=newborn[rows], minlength=len(pairs))
    last = np.full(len(pairs), -1, dtype=np.int64)
    np.maximum.at(last, inverse, rows)
    child, value = pairs // width, pairs % width
    # Newborn-visit values first, then the most frequent, then the latest record's.
    ranked = np.lexsort((-last, -count, -at_newborn, child))
    first = np.unique(child[ranked], return_index=True)[1]
    chosen = np.full(n, -1, dtype=np.int64)
    chosen[child[ranked][first]] = value[ranked][first]
    conflict = np.bincount(child, minlength=n) > 1
    return chosen, conflict, uniques


def children_table(
    records: pd.DataFrame,
    *,
    on: date | str | pd.Timestamp,
    townships: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per child: `child_id`, `dob`, `sex`, conflicts, township and county at `on`.

    Parameters
    ----------
    records
        Accepted records in event order (`analytics.records.prepare_records`); not modified.
    on
        The evaluation date `E`.
    townships
        Registry townships (`township_code`, `county_code`); the county of the township at
        `E` comes from here when given, else from the record.

    Examples
    --------
    >>> import pandas as pd
    >>> from analytics import columns as C
    >>> one = pd.DataFrame({C.CHILD_ID: ["K9"], C.FORM_ID: ["immunization"],
    ...     C.TOWNSHIP: ["450123101"], C.COUNTY: ["450123"], C.CHILD_SEX: ["male"],
    ...     C.CHILD_DOB: pd.to_datetime(["2026-01-02"]),
    ...     C.EVENT_DATE: pd.to_datetime(["2026-02-01"])})
    >>> children_table(one, on="2026-03-31")[[C.CHILD_ID, C.SEX]].values.tolist()
    [['K9', 'male']]
    """
    C.require(records, REQUIRED, "records")
    cut = pd.Timestamp(on)
    codes, ids = pd.factorize(records[C.CHILD_ID])
    n = len(ids)
    newborn = (records[C.FORM_ID] == NEWBORN).to_numpy(dtype=float)
    dob_pick, dob_conflict, dobs = _resolve(codes, n, newborn, records[C.CHILD_DOB])
    sex_pick, sex_conflict, sexes = _resolve(codes, n, newborn, records[C.CHILD_SEX])

    # Records are in event order: the last one on or before E, else the first one after.
    event = as_datetime64(records[C.EVENT_DATE])
    before = event <= cut.to_datetime64()
    position = np.full(n, -1, dtype=np.int64)
    rows = np.arange(len(codes))
    after_rows = rows[~before][::-1]  # reversed: the earliest write wins below
    position[codes[after_rows]] = after_rows
    before_rows = rows[before]  # in order: the latest write wins
    position[codes[before_rows]] = before_rows
    township = np.asarray(records[C.TOWNSHIP].astype(object).to_numpy()[position], dtype=object)

    table = pd.DataFrame(
        {
            C.CHILD_ID: np.asarray(ids, dtype=object),
            C.DOB: _take(pd.DatetimeIndex(dobs), dob_pick),
            C.SEX: _take(pd.Index(sexes, dtype=object), sex_pick),
            C.DOB_CONFLICT: dob_conflict,
            C.SEX_CONFLICT: sex_conflict,
            C.TOWNSHIP: township,
        }
    )
    if townships is not None:
        county_of = dict(zip(townships[C.TOWNSHIP], townships[C.COUNTY], strict=True))
        table[C.COUNTY] = table[C.TOWNSHIP].map(county_of)
    elif C.COUNTY in records:
        table[C.COUNTY] = records[C.COUNTY].astype(object).to_numpy()[position]
    else:
        table[C.COUNTY] = None
    return table


def _take(uniques: pd.Index, picks: np.ndarray) -> np.ndarray:
    """`uniques[picks]` with -1 (no value) as missing."""
    if len(uniques) == 0:
        return pd.Series(
            [None] * len(picks), dtype=object if uniques.dtype == object else "datetime64[ns]"
        ).to_numpy()
    values = uniques.take(np.maximum(picks, 0)).to_numpy(copy=True)
    missing = picks < 0
    if missing.any():
        values = values.astype(object) if values.dtype == object else values
        values[missing] = None if values.dtype == object else np.datetime64("NaT")
    return values
