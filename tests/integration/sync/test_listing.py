"""The listings kept from a real `_changes` feed: after edits, moves, deletes and
re-creations, the incrementally kept rows equal a build from scratch."""

from __future__ import annotations

from sync.follow import FeedState
from sync.listing import (
    QUARANTINE_LISTING,
    SUBMISSION_LISTING,
    ListingFilter,
    listing_count,
    listing_page,
)


def submission(doc_id: str, day: int, township: str, form: str = "immunization") -> dict:
    return {
        "_id": doc_id,
        "type": "submission",
        "form_id": form,
        "form_version": "2026112801",
        "county_code": township[:6],
        "township_code": township,
        "child_id": f"4501232025050100{day:02d}",
        "collected_at": f"2026-11-{day:02d}T09:00:00.000+08:00",
        "received_at": f"2026-11-{day:02d}T02:00:00.000Z",
        "deleted": False,
        "data": {"child_name": "梁宇"},
    }


def rows(state: FeedState) -> list[tuple]:
    return state.connection().execute("SELECT * FROM listing ORDER BY id").fetchall()


def test_incremental_listing_equals_a_rebuild_after_edits_and_deletes(couch_db, tmp_path) -> None:
    couch_db.bulk_docs([submission(f"s{i:02d}", i, "450123101") for i in range(1, 21)])
    couch_db.put({"_id": "checkpoint", "type": "central_checkpoint"})
    state = FeedState(tmp_path / "kept", couch_db, SUBMISSION_LISTING)
    assert state.refresh(batch=7).rows == 21

    def edit(doc_id: str, **changes) -> None:
        couch_db.put({**couch_db.get(doc_id), **changes})

    edit("s03", township_code="450124101", county_code="450124")  # moved to another county
    edit("s04", form_id="nutrition_pack", collected_at="2026-11-30T08:00:00.000+08:00")
    edit("s05", deleted=True)  # soft-deleted in Central: still listed, marked
    edit("s06", type="conflict_note")  # no longer a submission
    couch_db.delete_doc("s07", couch_db.get("s07")["_rev"])
    couch_db.delete_doc("s08", couch_db.get("s08")["_rev"])
    couch_db.put(submission("s08", 28, "450123102", form="newborn_visit"))  # re-created
    couch_db.put({"_id": "_design/extra", "views": {}})
    assert state.refresh(batch=3).caught_up

    rebuilt = FeedState(tmp_path / "rebuilt", couch_db, SUBMISSION_LISTING)
    rebuilt.refresh(rebuild=True)
    assert rows(state) == rows(rebuilt)
    listed = {r[0]: r for r in rows(state)}
    assert sorted(listed) == [f"s{i:02d}" for i in range(1, 21) if i not in (6, 7)]
    assert listed["s03"][4:6] == ("450124", "450124101")
    assert listed["s04"][1:3] == ("2026-11-30T08:00:00.000+08:00", "nutrition_pack")
    assert listed["s05"][-1] == 1

    conn = state.connection()
    county_a = ListingFilter(county_code="450123")
    assert listing_count(conn, county_a) == 17
    assert listing_page(conn, county_a, limit=4).ids == ["s04", "s08", "s20", "s19"]
    # a repeated feed (CouchDB replays changes after a restart) changes nothing
    again = FeedState(tmp_path / "kept", couch_db, SUBMISSION_LISTING)
    with again._refresh_lock(None):
        again.connection().execute("DELETE FROM feed_meta WHERE key = 'last_seq'")
    assert again.refresh().rows == 21  # 20 submissions (one a deletion) and the checkpoint
    assert rows(again) == rows(rebuilt)


def test_the_quarantine_listing_orders_by_receipt(couch_db, tmp_path) -> None:
    couch_db.bulk_docs(
        [
            {"_id": "q1", "type": "quarantine", "received_at": "2026-11-02T02:00:00.000Z"},
            {"_id": "q2", "type": "quarantine", "received_at": "2026-11-01T02:00:00.000Z"},
            {**submission("s01", 3, "450123101")},  # a submission is not quarantined
        ]
    )
    state = FeedState(tmp_path, couch_db, QUARANTINE_LISTING)
    state.refresh()
    assert listing_page(state.connection(), ListingFilter(), limit=5).ids == ["q1", "q2"]
