"""CouchDB `_changes` rows → typed flat DataFrames: where documents become columns, once.

Only the columns of `analytics.columns` are kept; personal fields never leave the document.
Dates become `datetime64`, instants UTC `datetime64`, numbers `float64`, choices strings,
`select_multiple` a space-separated string as in ODK's own exports. A row whose document is
gone (a tombstone, or no longer a submission) is kept with `_tombstone = True` so that the
cache can drop the older copy.

>>> rows = [{"id": "uuid:1", "doc": {"_id": "uuid:1", "type": "submission",
...          "form_id": "immunization", "child_id": "C123456",
...          "data": {"child_dob": "2026-01-02", "doses_given": ["bcg", "hepb1"],
...                   "child_name": "never kept"}}}]
>>> frame = flatten_submissions(rows)
>>> frame.loc[0, "data.doses_given"], "data.child_name" in frame
('bcg hepb1', False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analytics import columns as C

_DATES = tuple(C.data(n) for n, kind in C.DATA_FIELDS.items() if kind == "date")
_NUMBERS = tuple(C.data(n) for n, kind in C.DATA_FIELDS.items() if kind in ("integer", "decimal"))
_CHOICES = tuple(C.data(n) for n, kind in C.DATA_FIELDS.items() if kind == "select_one")
_MULTIPLE = tuple(C.data(n) for n, kind in C.DATA_FIELDS.items() if kind == "select_multiple")

#: Every column of a flattened submission frame, in order.
SUBMISSION_COLUMNS: tuple[str, ...] = (
    *C.SUBMISSION_TEXT,
    *C.SUBMISSION_CATEGORIES,
    *C.SUBMISSION_INSTANTS,
    C.EDITS,
    C.DELETED,
    C.TOMBSTONE,
    *(C.data(n) for n in C.DATA_FIELDS),
)
#: Low-cardinality string columns, categorical in memory.
SUBMISSION_CATEGORICAL: tuple[str, ...] = (*C.SUBMISSION_CATEGORIES, *_CHOICES)

QUARANTINE_COLUMNS: tuple[str, ...] = (
    C.DOC_ID,
    C.FORM_ID,
    C.COUNTY,
    C.TOWNSHIP,
    C.SOURCE,
    C.Q_STATUS,
    C.Q_REASON,
    C.Q_REASONS,
    C.RECEIVED_AT,
    C.TOMBSTONE,
)
QUARANTINE_CATEGORICAL: tuple[str, ...] = (
    C.FORM_ID,
    C.COUNTY,
    C.TOWNSHIP,
    C.SOURCE,
    C.Q_STATUS,
    C.Q_REASON,
)


def _doc(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return row.get("doc") or {}


def _gone(row: Mapping[str, Any], doc_type: str) -> bool:
    doc = _doc(row)
    return bool(row.get("deleted") or doc.get("_deleted")) or doc.get("type") != doc_type


def _multiple(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return " ".join(sorted(value.split())) or None
    return " ".join(sorted(str(v) for v in value)) or None


def flatten_submissions(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One typed row per `_changes` row of the submissions database (see module docstring)."""
    docs = [_doc(r) for r in rows]
    datas = [d.get("data") or {} for d in docs]
    raw: dict[str, list[Any]] = {
        C.DOC_ID: [r.get("id") or _doc(r).get("_id") for r in rows],
        C.TOMBSTONE: [_gone(r, "submission") for r in rows],
    }
    for name in (
        C.FORM_VERSION,
        C.INSTANCE_ID,
        C.CHILD_ID,
        *C.SUBMISSION_CATEGORIES,
        *C.SUBMISSION_INSTANTS,
        C.EDITS,
        C.DELETED,
    ):
        raw[name] = [d.get(name) for d in docs]
    for name in C.DATA_FIELDS:
        raw[C.data(name)] = [x.get(name) for x in datas]
    for name in _MULTIPLE:
        raw[name] = [_multiple(v) for v in raw[name]]
    return typed_submissions(raw)


def typed_submissions(raw: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Columns of plain values → the typed submission frame (strings stay `object`)."""
    n = len(raw[C.DOC_ID])
    out: dict[str, Any] = {}
    for name in SUBMISSION_COLUMNS:
        values = raw.get(name, [None] * n)
        if name in C.SUBMISSION_INSTANTS:
            out[name] = _instants(values)
        elif name in _DATES:
            out[name] = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce")
        elif name in _NUMBERS:
            out[name] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(
                "float64"
            )
        elif name == C.EDITS:
            out[name] = pd.Series([int(v or 0) for v in values], dtype="int32")
        elif name in (C.DELETED, C.TOMBSTONE):
            out[name] = pd.Series([bool(v) for v in values], dtype=bool)
        else:
            out[name] = pd.Series([None if v is None else str(v) for v in values], dtype=object)
    return pd.DataFrame(out)


def _instants(values: Sequence[Any]) -> pd.Series:
    """ISO 8601 with any offset → UTC instants (NaT where missing or unreadable)."""
    return pd.to_datetime(
        pd.Series(values, dtype=object), utc=True, errors="coerce", format="ISO8601"
    )


def flatten_quarantine(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One typed row per `_changes` row of the quarantine database."""
    docs = [_doc(r) for r in rows]
    reasons = [
        [str(p.get("code")) for p in (d.get("reasons") or []) if isinstance(p, Mapping)]
        for d in docs
    ]
    out = {
        C.DOC_ID: pd.Series([r.get("id") or _doc(r).get("_id") for r in rows], dtype=object),
        C.FORM_ID: _strings(d.get("form_id") for d in docs),
        C.COUNTY: _strings(d.get("county_code") for d in docs),
        C.TOWNSHIP: _strings(d.get("township_code") for d in docs),
        C.SOURCE: _strings(d.get("source") for d in docs),
        C.Q_STATUS: _strings(d.get("status") for d in docs),
        C.Q_REASON: _strings(r[0] if r else None for r in reasons),
        C.Q_REASONS: _strings(" ".join(r) or None for r in reasons),
        C.RECEIVED_AT: _instants([d.get("received_at") for d in docs]),
        C.TOMBSTONE: pd.Series([_gone(r, "quarantine") for r in rows], dtype=bool),
    }
    return pd.DataFrame(out)


def _strings(values: Any) -> pd.Series:
    return pd.Series([None if v is None else str(v) for v in values], dtype=object)


def empty_submissions() -> pd.DataFrame:
    """A typed submission frame with no rows."""
    return typed_submissions({C.DOC_ID: []})


def empty_quarantine() -> pd.DataFrame:
    """A typed quarantine frame with no rows."""
    return flatten_quarantine([])


def categorise(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """A copy with the named string columns as categoricals (cheap to group and compare)."""
    return frame.assign(
        **{n: frame[n].astype("category") for n in names if n in frame and frame[n].dtype == object}
    )


def live(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of current documents only: tombstones dropped (soft-deleted rows are kept)."""
    if C.TOMBSTONE not in frame:
        return frame
    return frame.loc[~frame[C.TOMBSTONE].to_numpy(dtype=bool)]


__all__ = [
    "QUARANTINE_COLUMNS",
    "SUBMISSION_COLUMNS",
    "categorise",
    "empty_quarantine",
    "empty_submissions",
    "flatten_quarantine",
    "flatten_submissions",
    "live",
    "np",
]
