"""From flattened submissions to the records the indicators count, and their doses.

Only accepted, current submissions count: soft-deleted ones (`deleted`, from Central) are
left out, and an edited submission is one document holding its latest version, so it counts
once. Each record is dated by its form's own date (`[event_dates]` of indicators.toml;
`collected_at` when that is missing) and records are put in event order once, so that
"latest" is always the last row of a child.

>>> import pandas as pd
>>> from analytics import columns as C

if TYPE_CHECKING:
    from analytics.config import AnalyticsConfig
>>> subs = pd.DataFrame({C.DOC_ID: ["a", "b"], C.FORM_ID: ["immunization"] * 2,
...     C.CHILD_ID: ["K1", "K1"], C.TOWNSHIP: ["450123101"] * 2, C.DELETED: [False, True],
...     C.COLLECTED_AT: pd.to_datetime(["2026-07-01T02:00Z"] * 2),
...     C.VACCINATION_DATE: pd.to_datetime(["2026-07-01"] * 2),
...     C.DOSES_GIVEN: ["bcg hepb1", "hepb2"]})
>>> records = prepare_records(subs, event_dates={"immunization": "vaccination_date"})
>>> len(records), explode_doses(records)[C.DOSE].tolist()
(1, ['bcg', 'hepb1'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics import columns as C
from analytics.periods import as_datetime64

if TYPE_CHECKING:
    from analytics.config import AnalyticsConfig

REQUIRED = (C.DOC_ID, C.FORM_ID, C.CHILD_ID, C.TOWNSHIP, C.COLLECTED_AT)


def prepare_records(
    submissions: pd.DataFrame,
    *,
    event_dates: Mapping[str, str],
    timezone: str = "Asia/Shanghai",
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Accepted current submissions with `event_date`, in event order, with a fresh index.

    Parameters
    ----------
    submissions
        Flattened submissions (`analytics.flatten`); not modified.
    event_dates
        Form id → name of the contract date field that dates its records.
    timezone
        Zone of the local collection date used when a record has no date of its own.
    columns
        Keep only these columns (and those this function needs); default: all.

    Examples
    --------
    See the module docstring.
    """
    C.require(submissions, REQUIRED, "submissions")
    keep = submissions[C.CHILD_ID].notna().to_numpy()
    if C.DELETED in submissions:
        keep &= ~submissions[C.DELETED].fillna(False).to_numpy(dtype=bool)
    if C.TOMBSTONE in submissions:
        keep &= ~submissions[C.TOMBSTONE].to_numpy(dtype=bool)
    rows = np.flatnonzero(keep)

    forms = submissions[C.FORM_ID].to_numpy(dtype=object)[rows]
    event = np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]")
    for form_id, name in event_dates.items():
        column = C.data(name)
        if column in submissions:
            mask = forms == form_id
            values = as_datetime64(submissions[column])
            event[mask] = values[rows[mask]]
    collected = instants_ns(submissions[C.COLLECTED_AT])[rows]
    missing = np.isnat(event)
    if missing.any():  # the local date of collection
        local = pd.to_datetime(collected[missing], utc=True).tz_convert(timezone)
        event[missing] = local.tz_localize(None).normalize().to_numpy(dtype="datetime64[ns]")

    ids = pa.array(submissions[C.DOC_ID].to_numpy(dtype=object)[rows], type=pa.string())
    keys = pa.table({"event": event.view(np.int64), "collected": collected, "id": ids})
    order = pc.sort_indices(
        keys, sort_keys=[("event", "ascending"), ("collected", "ascending"), ("id", "ascending")]
    ).to_numpy()
    names = (
        list(submissions.columns) if columns is None else list(dict.fromkeys([*REQUIRED, *columns]))
    )
    names = [n for n in names if n in submissions and n != C.EVENT_DATE]
    picked = rows[order]
    # Column by column, without consolidating: the records are the one copy made here.
    kept = {name: submissions[name].array.take(picked) for name in names}
    kept[C.EVENT_DATE] = event[order]
    return pd.DataFrame(kept, copy=False)


def instants_ns(values: pd.Series) -> np.ndarray:
    """UTC instants as int64 nanoseconds (NaT as the smallest int64)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(values).asi8
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True)).asi8


def analysed_columns(config: AnalyticsConfig) -> list[str]:
    """The submission columns the indicators of `config` read."""
    wanted = [
        C.DOC_ID,
        C.FORM_ID,
        C.CHILD_ID,
        C.COUNTY,
        C.TOWNSHIP,
        C.COLLECTED_AT,
        C.CHILD_SEX,
        C.CHILD_DOB,
        C.DOSES_GIVEN,
        C.LENGTH_CM,
        C.WEIGHT_KG,
        C.MEASURED_LYING,
        C.OEDEMA,
    ]
    wanted += [C.data(name) for name in config.event_dates.values()]
    for indicator in config.indicators:
        conditions = [*indicator.eligible]
        if indicator.evidence is not None:
            conditions += indicator.evidence.where
        if isinstance(indicator.numerator, tuple):
            conditions += indicator.numerator
        wanted += [c.column for c in conditions]
    return list(dict.fromkeys(wanted))


def explode_doses(records: pd.DataFrame) -> pd.DataFrame:
    """One row per dose given: `_rec` (the record's row in `records`), child, date, dose.

        >>> import pandas as pd
        >>> from analytics import columns as C

    if TYPE_CHECKING:
        from analytics.config import AnalyticsConfig
        >>> recs = pd.DataFrame({C.CHILD_ID: ["K1"], C.EVENT_DATE: pd.to_datetime(["2026-07-01"]),
        ...                      C.DOSES_GIVEN: ["bcg hepb1"]})
        >>> explode_doses(recs)[C.DOSE].tolist()
        ['bcg', 'hepb1']
    """
    C.require(records, (C.CHILD_ID, C.EVENT_DATE, C.DOSES_GIVEN), "records")
    given = pa.array(records[C.DOSES_GIVEN].astype(object).to_numpy(), type=pa.string())
    lists = pc.split_pattern(given, " ")
    rec = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    doses = pc.list_flatten(lists)
    keep = pc.not_equal(doses, "").to_numpy(zero_copy_only=False)
    rec = rec[keep].astype(np.int64)
    return pd.DataFrame(
        {
            C.REC: rec,
            C.CHILD_ID: records[C.CHILD_ID].to_numpy()[rec],
            C.EVENT_DATE: records[C.EVENT_DATE].to_numpy()[rec],
            C.DOSE: doses.filter(pa.array(keep)).dictionary_encode().to_pandas(),
        }
    )
