"""What one submission tells the children register, derived with the analytics' own steps.

A page of `_changes` rows is flattened (`analytics.flatten`) and prepared
(`analytics.records.prepare_records`) exactly as the coverage does, so the register counts
the same submissions with the same dates: soft-deleted documents, tombstones and
submissions without a child id give no fact. Names are taken apart from the rest (the
flattened frame never holds them) and go to their own rows.

>>> from analytics.config import load_config
>>> doc = {"_id": "uuid:1", "type": "submission", "form_id": "immunization",
...        "child_id": "K1", "township_code": "450123101", "village": "弄岗村",
...        "collected_at": "2026-07-01T10:00:00.000+08:00",
...        "data": {"vaccination_date": "2026-07-01", "doses_given": ["hepb1", "bcg"],
...                 "child_name": "梁宇"}}
>>> found = submission_facts([{"id": "uuid:1", "doc": doc}], load_config())
>>> fact = dict(zip(FACT_COLUMNS, found.facts[0]))
>>> fact["doses"], fact["village"], found.names[0][-2]
('bcg hepb1', '弄岗村', '梁宇')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics.config import AnalyticsConfig
from analytics.flatten import flatten_submissions
from analytics.periods import as_datetime64
from analytics.records import instants_ns, prepare_records
from forms.contract import FORM_IDS

#: One row of the `facts` table per counted submission, in this order.
FACT_COLUMNS = (
    "doc_id",
    "child_id",
    "form_id",
    "township",
    "county",
    "event_ns",  # the record's event date (int64 ns; NaT as the smallest int64)
    "collected_ns",  # collected_at as a UTC instant, the second key of the event order
    "sex",
    "dob_ns",
    "doses",  # doses_given, space separated
    "packs",  # packs_given
    "village",  # top-level village (None for a form outside the contract)
    "collected",  # collected_at as the document writes it: "latest" for villages and names
)
#: One row of the `names` table per counted submission: the only personal fields kept.
NAME_COLUMNS = ("doc_id", "child_id", "township", "collected", "child_name", "mother_name")

_KEPT = [C.COUNTY, C.CHILD_SEX, C.CHILD_DOB, C.DOSES_GIVEN, C.PACKS_GIVEN]


@dataclass(frozen=True)
class Facts:
    """Rows for the `facts` and `names` tables, and every document id the page touched."""

    doc_ids: list[str]
    facts: list[tuple[Any, ...]]
    names: list[tuple[Any, ...]]


def _ns(values: np.ndarray) -> list[int]:
    return values.astype("datetime64[ns]").view(np.int64).tolist()


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def submission_facts(changes: Sequence[Mapping[str, Any]], config: AnalyticsConfig) -> Facts:
    """Facts and names of the submissions in a page of `_changes` rows (the last row of a
    document wins; a deleted or no longer counted document gives no row)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for change in changes:
        latest[str(change.get("id"))] = change
    rows = list(latest.values())
    if not rows:
        return Facts([], [], [])
    records = prepare_records(
        flatten_submissions(rows),
        event_dates=config.event_dates,
        timezone=config.settings.timezone,
        columns=_KEPT,
    )
    docs = {doc_id: row.get("doc") or {} for doc_id, row in latest.items()}
    columns = zip(
        records[C.DOC_ID].tolist(),
        records[C.CHILD_ID].tolist(),
        records[C.FORM_ID].astype(object).tolist(),
        records[C.TOWNSHIP].astype(object).tolist(),
        records[C.COUNTY].astype(object).tolist(),
        _ns(records[C.EVENT_DATE].to_numpy(dtype="datetime64[ns]")),
        instants_ns(records[C.COLLECTED_AT]).tolist(),
        records[C.CHILD_SEX].astype(object).tolist(),
        _ns(as_datetime64(records[C.CHILD_DOB])),
        records[C.DOSES_GIVEN].astype(object).tolist(),
        records[C.PACKS_GIVEN].to_numpy(dtype=float).tolist(),
        strict=True,
    )
    facts, names = [], []
    for doc_id, child, form, township, county, event, collected, sex, dob, doses, packs in columns:
        doc = docs[doc_id]
        known = doc.get("form_id") in FORM_IDS
        stamp = str(doc.get("collected_at") or "")
        township = _text(township)
        facts.append(
            (
                doc_id,
                child,
                _text(form),
                township,
                _text(county),
                event,
                collected,
                _text(sex),
                dob,
                _text(doses),
                None if np.isnan(packs) else packs,
                _text(doc.get("village")) if known else None,
                stamp,
            )
        )
        if known:
            data = doc.get("data") or {}
            names.append(
                (
                    doc_id,
                    child,
                    township,
                    stamp,
                    _text(data.get("child_name")),
                    _text(data.get("mother_name")),
                )
            )
    return Facts(list(latest), facts, names)


def facts_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """`facts` rows (in `FACT_COLUMNS` order, already in event order) as the records frame
    the analytics functions take: `child_id`, `form_id`, `township_code`, `county_code`,
    `data.child_sex`, `data.child_dob`, `event_date`, `data.doses_given`,
    `data.packs_given`, plus `_id`, `village` and `collected_at` (as written)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(FACT_COLUMNS)
    raw = dict(zip(FACT_COLUMNS, columns, strict=True))

    def times(name: str) -> np.ndarray:
        return np.array(raw[name], dtype=np.int64).view("datetime64[ns]")

    def text(name: str) -> np.ndarray:
        return np.array(raw[name], dtype=object)

    return pd.DataFrame(
        {
            C.DOC_ID: text("doc_id"),
            C.CHILD_ID: text("child_id"),
            C.FORM_ID: text("form_id"),
            C.TOWNSHIP: text("township"),
            C.COUNTY: text("county"),
            C.CHILD_SEX: text("sex"),
            C.CHILD_DOB: times("dob_ns"),
            C.EVENT_DATE: times("event_ns"),
            C.DOSES_GIVEN: text("doses"),
            C.PACKS_GIVEN: np.array(
                [np.nan if v is None else v for v in raw["packs"]], dtype=float
            ),
            "collected_ns": np.array(raw["collected_ns"], dtype=np.int64),
            "village": text("village"),
            "collected": text("collected"),
        }
    )
