"""Reads for the due lists: schedule work from the analytics cache, names from CouchDB.

The analytics cache holds no personal field, by design. Names and villages are read from
the `submissions` database only for the children of one list (a Mango query by township
with `fields`), used for that answer and never stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date

import pandas as pd

from analytics import columns as C
from analytics.children import children_table
from analytics.config import AnalyticsConfig, load_config
from analytics.due import due_children
from analytics.records import analysed_columns, explode_doses, prepare_records
from analytics.service import default_source
from analytics.source import Source
from forms.contract import FORM_IDS
from forms.registry import load_registry
from forms.schedule import Schedule, load_schedule
from server.core.couch import cradle_db

NAME = "child_name"
VILLAGE = "village"

_lock = threading.Lock()
_memo: dict[str, object] = {}


def _prepared(
    submissions: pd.DataFrame, config: AnalyticsConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records and doses of the cached frame, recomputed only when the cache changed (the
    cache hands out the same frame object until then)."""
    with _lock:
        if _memo.get("frame") is submissions and _memo.get("config") is config:
            return _memo["records"], _memo["doses"]  # type: ignore[return-value]
    records = prepare_records(
        submissions,
        event_dates=config.event_dates,
        timezone=config.settings.timezone,
        columns=[*analysed_columns(config), C.PACKS_GIVEN],
    )
    if C.DOSES_GIVEN in records:
        doses = explode_doses(records)
    else:
        doses = pd.DataFrame({C.CHILD_ID: [], C.EVENT_DATE: pd.to_datetime([]), C.DOSE: []})
    with _lock:
        _memo.update(frame=submissions, config=config, records=records, doses=doses)
    return records, doses


def due_work(
    *,
    on: date,
    townships: Iterable[str] | None,
    source: Source | None = None,
    schedule: Schedule | None = None,
) -> pd.DataFrame:
    """Every child placed in `townships` at `on` (all when None), with their schedule work
    (`analytics.due.due_children` columns). Children born after `on` are left out."""
    config = load_config()
    schedule = schedule or load_schedule()
    dataset = (source or default_source(config)).load()
    records, doses = _prepared(dataset.submissions, config)
    children = children_table(records, on=on, townships=load_registry().townships)
    if townships is not None:
        children = children.loc[children[C.TOWNSHIP].isin(set(townships))]
    children = children.loc[~(children[C.DOB] > pd.Timestamp(on))]
    mine = records[C.CHILD_ID].isin(set(children[C.CHILD_ID])).to_numpy()
    return due_children(
        children.reset_index(drop=True),
        records.loc[mine],
        doses.loc[doses[C.CHILD_ID].isin(set(children[C.CHILD_ID])).to_numpy()],
        on=on,
        schedule=schedule,
    )


def child_details(townships: Iterable[str], child_ids: Iterable[str]) -> pd.DataFrame:
    """`child_id`, `child_name`, `village` of these children, from their latest submission
    in `townships` that records each (deleted submissions left out)."""
    wanted = set(child_ids)
    latest: dict[str, dict[str, tuple[str, str]]] = {NAME: {}, VILLAGE: {}}
    if wanted:
        selector = {
            "form_id": {"$in": list(FORM_IDS)},
            "township_code": {"$in": sorted(set(townships))},
            "type": "submission",
        }
        fields = ["child_id", "village", "collected_at", "deleted", "_id", "data.child_name"]
        for doc in cradle_db("submissions").iter_find(selector, fields=fields):
            child = doc.get("child_id")
            if child not in wanted or doc.get("deleted"):
                continue
            stamp = (str(doc.get("collected_at") or ""), str(doc.get("_id")))
            for key, value in (
                (NAME, (doc.get("data") or {}).get(NAME)),
                (VILLAGE, doc.get(VILLAGE)),
            ):
                if value and stamp >= latest[key].get(child, (("", ""), ""))[0]:
                    latest[key][child] = (stamp, str(value).strip())
    ids = sorted(wanted)
    return pd.DataFrame(
        {
            C.CHILD_ID: pd.Series(ids, dtype=object),
            NAME: pd.Series([latest[NAME].get(i, (None, ""))[1] for i in ids], dtype=object),
            VILLAGE: pd.Series([latest[VILLAGE].get(i, (None, ""))[1] for i in ids], dtype=object),
        }
    )
