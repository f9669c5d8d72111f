"""The listing projection and keyset pages over it, on an in-memory SQLite (no network)."""

from __future__ import annotations

import base64
import sqlite3

import pytest

from sync.listing import (
    QUARANTINE_LISTING,
    SUBMISSION_LISTING,
    Cursor,
    InvalidCursor,
    ListingFilter,
    explain,
    listing_count,
    listing_page,
)

A, B = "450123", "450124"


def sub(doc_id: str, day: str | None, form: str, township: str | None, **extra) -> dict:
    county = extra.pop("county", township[:6] if township else None)
    doc = {
        "_id": doc_id,
        "type": "submission",
        "form_id": form,
        "form_version": "2026112801",
        "county_code": county,
        "township_code": township,
        "child_id": f"child-{doc_id}",
        "collected_at": f"2026-11-{day}T09:00:00.000+08:00" if day else None,
        "received_at": "2026-11-20T01:00:00.000Z",
        "deleted": False,
        **extra,
    }
    return {"id": doc_id, "doc": doc}


SEED = [
    sub("a1", "01", "immunization", f"{A}101"),
    sub("a2", "02", "nutrition_pack", f"{A}101"),
    sub("a3", "03", "immunization", f"{A}102"),
    sub("a4", "03", "newborn_visit", f"{A}103"),  # same time as a3: then by id, newest first
    sub("b1", "04", "immunization", f"{B}101"),
    sub("a5", "05", "immunization", f"{A}101"),
    sub("x", None, "immunization", f"{A}101"),  # no collection time: listed last
]
AREA = frozenset({f"{A}101", f"{A}102", f"{A}103"})


@pytest.fixture
def conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    SUBMISSION_LISTING.create(conn)
    SUBMISSION_LISTING.apply(conn, SEED)
    return conn


def pages(conn, where: ListingFilter, limit: int) -> list[list[str]]:
    out, cursor = [], None
    while True:
        page = listing_page(conn, where, limit=limit, cursor=cursor)
        out.append(page.ids)
        if page.next is None:
            return out
        cursor = page.next


def test_rows_hold_what_the_filters_need(conn) -> None:
    rows = conn.execute("SELECT * FROM listing WHERE id IN ('a3', 'x') ORDER BY id").fetchall()
    assert rows == [
        (
            "a3",
            "2026-11-03T09:00:00.000+08:00",
            "immunization",
            "2026112801",
            A,
            f"{A}102",
            "child-a3",
            "2026-11-20T01:00:00.000Z",
            0,
        ),
        (
            "x",
            "",
            "immunization",
            "2026112801",
            A,
            f"{A}101",
            "child-x",
            "2026-11-20T01:00:00.000Z",
            0,
        ),
    ]


def test_pages_newest_first_with_ties_by_id_and_both_ways(conn) -> None:
    everyone = ListingFilter()
    assert pages(conn, everyone, 3) == [["a5", "b1", "a4"], ["a3", "a2", "a1"], ["x"]]
    first = listing_page(conn, everyone, limit=3)
    assert (first.previous, first.next) == (None, Cursor("2026-11-03T09:00:00.000+08:00", "a4"))
    last = listing_page(
        conn, everyone, limit=3, cursor=Cursor("2026-11-01T09:00:00.000+08:00", "a1")
    )
    assert (last.ids, last.next) == (["x"], None)
    back = listing_page(conn, everyone, limit=3, cursor=last.previous)
    assert back.ids == ["a3", "a2", "a1"]
    assert back.previous == Cursor("2026-11-03T09:00:00.000+08:00", "a3", before=True)
    assert back.next == Cursor("2026-11-01T09:00:00.000+08:00", "a1")
    top = listing_page(conn, everyone, limit=3, cursor=back.previous)
    assert (top.ids, top.previous) == (["a5", "b1", "a4"], None)
    assert listing_count(conn, everyone) == 7


def test_filters_and_the_area_narrow_pages_and_count(conn) -> None:
    area = ListingFilter(townships=AREA)
    assert pages(conn, area, 4) == [["a5", "a4", "a3", "a2"], ["a1", "x"]]
    assert listing_count(conn, area) == 6
    cases = {
        ListingFilter(townships=AREA, form_id="immunization"): ["a5", "a3", "a1", "x"],
        ListingFilter(townships=AREA, township_code=f"{A}101"): ["a5", "a2", "a1", "x"],
        ListingFilter(townships=AREA, township_code=f"{B}101"): [],  # outside the area
        ListingFilter(county_code=B): ["b1"],
        ListingFilter(county_code=A, form_id="immunization"): ["a5", "a3", "a1", "x"],
        ListingFilter(child_id="child-a2"): ["a2"],
        ListingFilter(sort_from="2026-11-02", sort_before="2026-11-04"): ["a4", "a3", "a2"],
        ListingFilter(townships=frozenset()): [],  # no area at all
    }
    for where, ids in cases.items():
        assert listing_page(conn, where, limit=50).ids == ids, where
        assert listing_count(conn, where) == len(ids), where


def held_doc(doc_id: str, day: str, township: str | None, county: str | None) -> dict:
    doc = {
        "_id": doc_id,
        "type": "quarantine",
        "received_at": f"2026-11-{day}T02:00:00.000Z",
        "township_code": township,
        "county_code": county,
    }
    return {"id": doc_id, "doc": doc}


def test_an_area_of_whole_counties_also_holds_records_of_unknown_townships() -> None:
    conn = sqlite3.connect(":memory:")
    QUARANTINE_LISTING.create(conn)
    held = [
        held_doc("q1", "01", f"{A}101", A),
        held_doc("q2", "02", None, A),  # unknown township, in county A
        held_doc("q3", "03", None, None),  # nothing known: only for everyone
        held_doc("q4", "04", f"{B}101", B),
    ]
    QUARANTINE_LISTING.apply(conn, held)
    county_a = ListingFilter(townships=AREA | {f"{A}104", f"{A}105"}, counties=frozenset({A}))
    assert listing_page(conn, county_a, limit=10).ids == ["q2", "q1"]
    one_township = ListingFilter(townships=frozenset({f"{A}101"}))
    assert listing_page(conn, one_township, limit=10).ids == ["q1"]
    assert listing_page(conn, ListingFilter(), limit=10).ids == ["q4", "q3", "q2", "q1"]
    assert listing_count(conn, county_a) == 2


def test_changes_twice_and_out_of_order_leave_the_same_rows(conn) -> None:
    changes = [
        sub("a1", "09", "immunization", f"{B}102"),  # edited: moved township, new date
        {"id": "a2", "deleted": True, "doc": {"_id": "a2", "_deleted": True}},
        {"id": "a3", "doc": {"_id": "a3", "type": "conflict_note"}},  # no longer a submission
        sub("n1", "10", "newborn_visit", f"{A}103"),
    ]
    SUBMISSION_LISTING.apply(conn, changes)
    once = conn.execute("SELECT * FROM listing ORDER BY id").fetchall()
    SUBMISSION_LISTING.apply(conn, changes[::-1] + changes)
    assert conn.execute("SELECT * FROM listing ORDER BY id").fetchall() == once
    assert [r[0] for r in once] == ["a1", "a4", "a5", "b1", "n1", "x"]
    assert listing_page(conn, ListingFilter(), limit=3).ids == ["n1", "a1", "a5"]


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    cursor = Cursor("2026-11-03T09:00:00.000+08:00", "uuid:é/1", before=True)
    assert Cursor.decode(cursor.encode()) == cursor
    assert "=" not in cursor.encode() and "/" not in cursor.encode()

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    for bad in (
        "",
        "!!!",
        "é",
        cursor.encode()[:-3],
        b64(b'{"a": 1, "b": 2, "c": 3}'),
        b64(b'"abc"'),
        b64(b'["x", "2026", "id"]'),
        b64(b'["a", 2026, "id"]'),
        b64(b'["a", "2026"]'),
        "A" * 601,
    ):
        with pytest.raises(InvalidCursor):
            Cursor.decode(bad)


def test_every_filter_reads_an_index_range(conn) -> None:
    """SQLite's own plan: a range on a named index, never a walk of the table."""
    lead = {
        ListingFilter(form_id="immunization"): "by_form (form_id=?)",
        ListingFilter(townships=AREA): "by_township (township_code=?)",
        ListingFilter(townships=AREA, form_id="immunization"): (
            "by_township_form (township_code=? AND form_id=?)"
        ),
        ListingFilter(townships=AREA, sort_from="2026-11-02", sort_before="2026-11-04"): (
            "by_township (township_code=? AND sort_at>? AND sort_at<?)"
        ),
        ListingFilter(county_code=A, form_id="immunization"): (
            "by_county_form (county_code=? AND form_id=?)"
        ),
        ListingFilter(township_code=f"{A}101"): "by_township (township_code=?)",
        ListingFilter(townships=AREA, child_id="c"): "by_child (child_id=?)",
    }
    for where, index in lead.items():
        for count in (False, True):
            steps = explain(conn, where, count=count)
            assert steps[0] in (
                f"SEARCH listing USING COVERING INDEX {index}",
                f"SEARCH listing USING INDEX {index}",
            ), (where, steps)
    # everyone, unfiltered: the list-order index itself, stopped by LIMIT
    assert explain(conn, ListingFilter()) == ["SCAN listing USING COVERING INDEX by_sort"]
