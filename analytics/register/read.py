"""Reading the children register: a township's children and their work at a date, villages,
and (apart, for those who may see them) names.

Every read is an indexed SQL query on the local register, by township or by child: a
township's children are the children recorded there at any time (`child_townships`),
and the due list keeps those whose township at `D` is that township, as
`analytics.children.children_table` places them.

>>> import sqlite3
>>> from analytics.register.projection import RegisterProjection
>>> conn = sqlite3.connect(":memory:")
>>> RegisterProjection().create(conn)
>>> due_work(conn, on="2026-11-28", townships=["450123101"]).empty
True
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable
from datetime import date

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics.due import NUTRITION_FORM, due_children
from analytics.register.records import CHILD_COLUMNS, parse_iso
from forms.registry import load_registry
from forms.schedule import Schedule, load_schedule

VISIT = "visit"  # form id of the rebuilt visit records: any form but the nutrition pack


def _json(values: Collection[str]) -> str:
    """A JSON array for `IN (SELECT value FROM json_each(?))`: one bound parameter, and
    still one index lookup per value."""
    return json.dumps(sorted(values))


_CHILDREN_IN = (
    f"SELECT DISTINCT {', '.join(f'c.{n}' for n in CHILD_COLUMNS)} "  # noqa: S608 - constants
    "FROM child_townships t JOIN children c ON c.child_id = t.child_id "
    "WHERE t.township IN (SELECT value FROM json_each(?))"
)
_ALL_CHILDREN = f"SELECT {', '.join(CHILD_COLUMNS)} FROM children"  # noqa: S608 - constants


def stamps(conn: sqlite3.Connection, townships: Collection[str] | None) -> tuple:
    """(generation, complete, per-township stamps): what a list prepared from the register
    depends on. With `townships=None` the newest stamp of all."""
    meta = dict(conn.execute("SELECT key, value FROM register_meta").fetchall())
    if townships is None:
        rows = conn.execute("SELECT '*', MAX(stamp) FROM township_stamps").fetchall()
    else:
        rows = conn.execute(
            "SELECT township, stamp FROM township_stamps "
            "WHERE township IN (SELECT value FROM json_each(?)) ORDER BY township",
            (_json(townships),),
        ).fetchall()
    return meta.get("generation"), meta.get("complete") == "1", tuple(rows)


def township_rows(conn: sqlite3.Connection, townships: Collection[str] | None) -> list[tuple]:
    """Records (`CHILD_COLUMNS`) of every child ever recorded in `townships` (all: None)."""
    if townships is None:
        return conn.execute(_ALL_CHILDREN).fetchall()
    return conn.execute(_CHILDREN_IN, (_json(townships),)).fetchall()


def township_at(moves: list[list[str | None]], on: str) -> str | None:
    """The township of the latest record dated on or before `on` (ISO day), else of the
    first record: `moves` are the township runs with their first dated record."""
    for first, township in reversed(moves):
        if first is not None and first <= on:
            return township
    return moves[0][1]


def due_work(
    conn: sqlite3.Connection,
    *,
    on: date | str,
    townships: Collection[str] | None,
    schedule: Schedule | None = None,
    registry_townships: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every child placed in `townships` at `on` (all when None), with their schedule work:
    the columns of `analytics.children.children_table`, then those of
    `analytics.due.due_children`. Children born after `on` are left out."""
    schedule = schedule or load_schedule()
    if registry_townships is None:
        registry_townships = load_registry().townships
    day = pd.Timestamp(on)
    on_iso = day.date().isoformat()
    wanted = None if townships is None else set(townships)
    rows = township_rows(conn, townships)
    at = CHILD_COLUMNS.index
    placed = [township_at(m, on_iso) for m in _loads([r[at("moves")] for r in rows])]
    picked = [i for i, t in enumerate(placed) if wanted is None or t in wanted]
    rows = [rows[i] for i in picked]
    county_of = dict(zip(registry_townships[C.TOWNSHIP], registry_townships[C.COUNTY], strict=True))
    children = pd.DataFrame(
        {
            C.CHILD_ID: np.array([r[at("child_id")] for r in rows], dtype=object),
            C.DOB: parse_iso([r[at("dob")] for r in rows]),
            C.SEX: np.array([r[at("sex")] for r in rows], dtype=object),
            C.DOB_CONFLICT: np.array([bool(r[at("dob_conflict")]) for r in rows], dtype=bool),
            C.SEX_CONFLICT: np.array([bool(r[at("sex_conflict")]) for r in rows], dtype=bool),
            C.TOWNSHIP: np.array([placed[i] for i in picked], dtype=object),
        }
    )
    children[C.COUNTY] = children[C.TOWNSHIP].map(county_of)
    born = ~(children[C.DOB] > day).to_numpy()
    children = children.loc[born].reset_index(drop=True)
    rows = [r for r, keep in zip(rows, born.tolist(), strict=True) if keep]
    ids = [r[at("child_id")] for r in rows]
    return due_children(
        children,
        _visits(
            ids, _loads([r[at("visits")] for r in rows]), _loads([r[at("packs")] for r in rows])
        ),
        _doses(ids, _loads([r[at("doses")] for r in rows])),
        on=on,
        schedule=schedule,
    )


def _loads(texts: list[str]) -> list:
    """Many JSON texts parsed at once (one parser call, not one per child)."""
    return json.loads(f"[{','.join(texts)}]")


def _repeat(ids: list[str], lists: list[list]) -> np.ndarray:
    return np.repeat(np.array(ids, dtype=object), [len(x) for x in lists])


def _visits(ids: list[str], visits: list[list[str]], packs: list[list[str]]) -> pd.DataFrame:
    """Records rebuilt from the register: one per visit day, one per nutrition pack day."""
    seen = [d for days in visits for d in days]
    fed = [d for days in packs for d in days]
    return pd.DataFrame(
        {
            C.CHILD_ID: np.concatenate([_repeat(ids, visits), _repeat(ids, packs)]),
            C.FORM_ID: np.array([VISIT] * len(seen) + [NUTRITION_FORM] * len(fed), dtype=object),
            C.EVENT_DATE: parse_iso(seen + fed),
            C.PACKS_GIVEN: np.array([np.nan] * len(seen) + [1.0] * len(fed), dtype=float),
        }
    )


def _doses(ids: list[str], doses: list[dict[str, str]]) -> pd.DataFrame:
    """The first date of each dose given, per child."""
    return pd.DataFrame(
        {
            C.CHILD_ID: _repeat(ids, doses),
            C.EVENT_DATE: parse_iso([day for given in doses for day in given.values()]),
            C.DOSE: np.array([code for given in doses for code in given], dtype=object),
        }
    )


def _latest(rows: Iterable[tuple[str, str]], child_ids: Collection[str]) -> dict[str, str]:
    """Per child of `child_ids`: the value of their last row (rows come ordered by child,
    then as the lists always compared them: collected_at as written, then document id)."""
    values = dict(rows)
    return {child: str(values[child]).strip() for child in child_ids if child in values}


def villages(
    conn: sqlite3.Connection, townships: Collection[str], child_ids: Collection[str]
) -> dict[str, str]:
    """Village of each child, from their latest submission in `townships` naming one."""
    rows = conn.execute(
        "SELECT child_id, village FROM child_townships "
        "WHERE township IN (SELECT value FROM json_each(?)) AND village IS NOT NULL "
        "ORDER BY child_id, village_collected, village_doc",
        (_json(townships),),
    )
    return _latest(rows, set(child_ids))


def child_names(
    conn: sqlite3.Connection, townships: Collection[str], child_ids: Collection[str]
) -> dict[str, str]:
    """Name of each child, from their latest submission in `townships` recording one.

    The only reader of the `names` table: call it only for a user who may see names.
    """
    rows = conn.execute(
        "SELECT child_id, child_name FROM names "
        "WHERE township IN (SELECT value FROM json_each(?)) AND child_name != '' "
        "ORDER BY child_id, collected, doc_id",
        (_json(townships),),
    )
    return _latest(rows, set(child_ids))
