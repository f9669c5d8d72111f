"""Reads for the due lists, from the children register (`analytics.register`).

A township's schedule work at a date is made once from the register and reused until one
of its children's records changes (the township's stamp moves) or the date does. Villages
and names are read for the children of one list only; names only through
`child_details`, for users who may see them, and never kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from datetime import date

import pandas as pd

from analytics import columns as C
from analytics.register import read
from forms.schedule import Schedule, load_schedule
from server.due.register import Memo, View, snapshot

NAME = "child_name"
VILLAGE = "village"

_work: Memo[tuple, pd.DataFrame] = Memo(64)


def _township_work(
    conn: sqlite3.Connection, key: tuple, township: str, on: date, schedule: Schedule
) -> pd.DataFrame:
    return _work.get_or_make(
        key, lambda: read.due_work(conn, on=on, townships=[township], schedule=schedule)
    )


def due_work(
    view: View,
    *,
    on: date,
    townships: Iterable[str] | None,
    schedule: Schedule | None = None,
) -> pd.DataFrame:
    """Every child placed in `townships` at `on` (all when None), with their schedule work
    (`analytics.due.due_children` columns). Children born after `on` are left out."""
    schedule = schedule or load_schedule()
    with snapshot(view) as conn:
        if townships is None:
            return read.due_work(conn, on=on, townships=None, schedule=schedule)
        towns = sorted(set(townships))
        generation, _, stamps = read.stamps(conn, towns)
        stamp = dict(stamps)
        parts = [
            _township_work(
                conn, (str(view.state.path), generation, t, stamp.get(t), on), t, on, schedule
            )
            for t in towns
        ] or [read.due_work(conn, on=on, townships=[], schedule=schedule)]
    found = [p for p in parts if not p.empty] or parts[:1]
    return found[0] if len(found) == 1 else pd.concat(found, ignore_index=True)


def child_details(view: View, townships: Collection[str], child_ids: Iterable[str]) -> pd.DataFrame:
    """`child_id`, `child_name`, `village` of these children, from their latest submission
    in `townships` that records each (deleted submissions left out); "" when none does."""
    ids = sorted(set(child_ids))
    with snapshot(view) as conn:
        names = read.child_names(conn, townships, ids)
        places = read.villages(conn, townships, ids)
    return pd.DataFrame(
        {
            C.CHILD_ID: pd.Series(ids, dtype=object),
            NAME: pd.Series([names.get(i, "") for i in ids], dtype=object),
            VILLAGE: pd.Series([places.get(i, "") for i in ids], dtype=object),
        }
    )
