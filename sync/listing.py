"""Listings of submissions and quarantined records, kept from `_changes` (`sync.follow`).

CouchDB cannot page a filtered, scoped list in a stable order without scanning (Mango `$in`
plans walk a whole index on PouchDB Server, `skip` re-reads every earlier page), and cannot
count it. So each database gets a projection: one row per document with the fields the
filters use, and one index per filter combination that ends in the list order. A page is
then one bounded range read from SQLite (keyset paging: "after this key", never an offset),
a total is one `COUNT` over the same indexed rows, and the documents themselves are read
from CouchDB by key, so their content is always current.

List order is newest first: submissions by `collected_at` (the end of the visit, as the
tablet wrote it: the programme's tablets share one time zone, so the text orders by time),
quarantined records by `received_at` (UTC; a refused record may not say when it was
collected); ties by document id.

>>> page = listing_page(conn, ListingFilter(form_id="immunization"), limit=50)  # doctest: +SKIP
>>> page.ids, page.next  # doctest: +SKIP
(['uuid:...', ...], Cursor(sort_at='2026-11-10T09:12:00.000+08:00', id='uuid:...'))
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sync.follow import doc_of

#: Index name -> leading columns; each ends with the list order (sort_at, id), so an equality
#: (or `IN`) on the leading columns plus a date range is one bounded range per value.
INDEXES: dict[str, tuple[str, ...]] = {
    "by_sort": (),
    "by_form": ("form_id",),
    "by_township": ("township_code",),
    "by_township_form": ("township_code", "form_id"),
    "by_county": ("county_code",),
    "by_county_form": ("county_code", "form_id"),
    "by_child": ("child_id",),
}
_UPSERT = (
    "INSERT INTO listing (id, sort_at, form_id, form_version, county_code, township_code,"
    " child_id, received_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(id) DO UPDATE SET sort_at = excluded.sort_at, form_id = excluded.form_id,"
    " form_version = excluded.form_version, county_code = excluded.county_code,"
    " township_code = excluded.township_code, child_id = excluded.child_id,"
    " received_at = excluded.received_at, deleted = excluded.deleted"
)
MAX_CURSOR = 600  # characters of an encoded cursor; document ids are at most a few hundred


class ListingProjection:
    """One row per document of one `type` ("submission" or "quarantine"), for `FeedState`."""

    version = "1"

    def __init__(self, name: str, doc_type: str, sort_field: str) -> None:
        self.name = name
        self.doc_type = doc_type
        self.sort_field = sort_field

    def create(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS listing ("
            " id TEXT PRIMARY KEY, sort_at TEXT NOT NULL, form_id TEXT, form_version TEXT,"
            " county_code TEXT, township_code TEXT, child_id TEXT, received_at TEXT,"
            " deleted INTEGER NOT NULL DEFAULT 0)"
        )
        for name, lead in INDEXES.items():
            columns = ", ".join((*lead, "sort_at", "id"))
            conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON listing ({columns})")

    def drop(self, conn: sqlite3.Connection) -> None:
        conn.execute("DROP TABLE IF EXISTS listing")

    def row(self, doc: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The listing row of a document, or None when it is not listed here."""
        if doc.get("type") != self.doc_type:
            return None
        return (
            doc["_id"],
            _text(doc.get(self.sort_field)) or "",  # unknown dates sort last (oldest)
            _text(doc.get("form_id")),
            _text(doc.get("form_version")),
            _text(doc.get("county_code")),
            _text(doc.get("township_code")),
            _text(doc.get("child_id")),
            _text(doc.get("received_at")),
            1 if doc.get("deleted") else 0,
        )

    def apply(self, conn: sqlite3.Connection, changes: Sequence[Mapping[str, Any]]) -> None:
        gone: list[tuple[str]] = []
        rows: list[tuple[Any, ...]] = []
        latest = {change["id"]: change for change in changes}  # an id twice: its last row
        for change in latest.values():
            doc = doc_of(change)
            row = self.row(doc) if doc is not None else None
            if row is None:  # deleted, or no longer (or never) of this type
                gone.append((change["id"],))
            else:
                rows.append(row)
        conn.executemany("DELETE FROM listing WHERE id = ?", gone)
        conn.executemany(_UPSERT, rows)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


SUBMISSION_LISTING = ListingProjection("submission_listing", "submission", "collected_at")
QUARANTINE_LISTING = ListingProjection("quarantine_listing", "quarantine", "received_at")


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingFilter:
    """Which rows: each set field narrows the list; `townships`/`counties` are the caller's
    area (`townships=None`: everywhere; else a row is in the area when its township is in
    `townships` or, for records of unknown townships, its county is in `counties`)."""

    form_id: str | None = None
    township_code: str | None = None
    county_code: str | None = None
    child_id: str | None = None
    sort_from: str | None = None  # inclusive lower bound of the list date
    sort_before: str | None = None  # exclusive upper bound
    townships: frozenset[str] | None = None
    counties: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        """True when nothing can match (a caller with no area), so nothing needs reading."""
        return self.townships is not None and not self.townships and not self.counties


@dataclass(frozen=True)
class Cursor:
    """A position in a listing: `before=False` lists what comes after this key (the next
    page), `before=True` what comes just before it (the previous page)."""

    sort_at: str
    id: str
    before: bool = False

    def encode(self) -> str:
        raw = orjson.dumps(["b" if self.before else "a", self.sort_at, self.id])
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raise `InvalidCursor` for anything `encode` did not make."""
        if not text or len(text) > MAX_CURSOR:
            raise InvalidCursor("The cursor is empty or too long.")
        try:
            value = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (ValueError, binascii.Error) as exc:
            raise InvalidCursor("The cursor is not one this list handed out.") from exc
        if (
            not isinstance(value, list)
            or len(value) != 3
            or value[0] not in ("a", "b")
            or not all(isinstance(part, str) for part in value[1:])
        ):
            raise InvalidCursor("The cursor is not one this list handed out.")
        return cls(value[1], value[2], before=value[0] == "b")


class InvalidCursor(ValueError):
    """A cursor that this module did not hand out (edited, truncated, or made up)."""


@dataclass(frozen=True)
class Page:
    """Document ids in list order, and where the next and previous pages start (or None)."""

    ids: list[str]
    next: Cursor | None
    previous: Cursor | None


def _where(where: ListingFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("form_id", where.form_id),
        ("township_code", where.township_code),
        ("county_code", where.county_code),
        ("child_id", where.child_id),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if where.sort_from is not None:
        clauses.append("sort_at >= ?")
        params.append(where.sort_from)
    if where.sort_before is not None:
        clauses.append("sort_at < ?")
        params.append(where.sort_before)
    if where.townships is not None:
        area = [_in("township_code", where.townships, params)]
        if where.counties:
            area.append(_in("county_code", where.counties, params))
        clauses.append(f"({' OR '.join(area)})")
    return clauses, params


def _index(where: ListingFilter) -> str | None:
    """The index that reads `where` as bounded ranges, in list order where it can.

    Named, not left to SQLite's planner: without statistics it would rather walk the
    list-order index and filter (fast for a big area, a walk of the whole index for a
    small one with nothing in it). A caller's area is one range per township, sorted
    afterwards (at most the area's rows); a quarantine area with whole counties is left to
    SQLite, which unions the township and county ranges.
    """
    form = where.form_id is not None
    if where.child_id is not None:
        return "by_child"
    if where.township_code is not None or (where.townships is not None and not where.counties):
        return "by_township_form" if form else "by_township"
    if where.county_code is not None:
        return "by_county_form" if form else "by_county"
    if where.townships is not None:
        return None
    return "by_form" if form else "by_sort"


def _in(column: str, values: frozenset[str], params: list[Any]) -> str:
    params.extend(sorted(values))
    return f"{column} IN ({', '.join('?' * len(values))})"


def _sql(
    what: str,
    where: ListingFilter,
    *,
    beyond: tuple[str, tuple[str, str]] | None = None,
    order: str = "",
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """`SELECT what` over the rows `where` selects, beyond a key (`("<", key)`: older)."""
    clauses, params = _where(where)
    if beyond is not None:
        clauses.append(f"(sort_at, id) {beyond[0]} (?, ?)")
        params.extend(beyond[1])
    index = _index(where)
    sql = f"SELECT {what} FROM listing"  # noqa: S608 - names are constants, values bound
    if index is not None:
        sql += f" INDEXED BY {index}"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if order:
        sql += f" ORDER BY sort_at {order}, id {order}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def _query(conn: sqlite3.Connection, what: str, where: ListingFilter, **kw: Any) -> list[Any]:
    sql, params = _sql(what, where, **kw)
    return conn.execute(sql, params).fetchall()


def explain(conn: sqlite3.Connection, where: ListingFilter, *, count: bool = False) -> list[str]:
    """SQLite's plan for a page (or the count) of `where`, one line per step: for tests and
    benchmarks, which assert that each filter reads an index range, not the whole table."""
    if count:
        sql, params = _sql("COUNT(*)", where)
    else:
        sql, params = _sql("sort_at, id", where, order="DESC", limit=50)
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def listing_count(conn: sqlite3.Connection, where: ListingFilter) -> int:
    """How many rows match, in the caller's area (one COUNT over indexed rows)."""
    if where.empty:
        return 0
    return _query(conn, "COUNT(*)", where)[0][0]


def listing_page(
    conn: sqlite3.Connection, where: ListingFilter, *, limit: int, cursor: Cursor | None = None
) -> Page:
    """One page of at most `limit` ids, newest first, after (or just before) `cursor`."""
    if where.empty:
        return Page([], None, None)
    if cursor is None:
        keys = _query(conn, "sort_at, id", where, order="DESC", limit=limit)
    elif cursor.before:
        at = (cursor.sort_at, cursor.id)
        keys = _query(conn, "sort_at, id", where, beyond=(">", at), order="ASC", limit=limit)
        keys.reverse()
    else:
        at = (cursor.sort_at, cursor.id)
        keys = _query(conn, "sort_at, id", where, beyond=("<", at), order="DESC", limit=limit)
    if keys:
        newest, oldest = tuple(keys[0]), tuple(keys[-1])
    elif cursor is not None:
        newest = oldest = (cursor.sort_at, cursor.id)
    else:
        return Page([], None, None)
    older = _query(conn, "1", where, beyond=("<", oldest), limit=1)
    newer = _query(conn, "1", where, beyond=(">", newest), limit=1)
    return Page(
        [doc_id for _, doc_id in keys],
        Cursor(*oldest) if older else None,
        Cursor(*newest, before=True) if newer else None,
    )
