"""Sync run records: the latest runs are read backwards by key, never all of them."""

from __future__ import annotations

from sync.central.runs import create_run, list_runs
from tests.support.scanguard import no_scans


def test_latest_runs_per_source_read_backwards_page_by_page(couch_db, couch) -> None:
    ids = {}
    for minute in range(9):
        source = "a" if minute % 3 else "b"  # b at minutes 0, 3, 6
        run_id = f"20261201T10{minute:02d}00.000Z-00000{minute}"
        create_run(couch_db, source, run_id)
        ids[minute] = run_id
    couch_db.put({"_id": "run:zzz-not-a-run", "type": "other"})
    with no_scans(couch) as log:
        latest_b = list_runs(couch_db, source="b", limit=2, page=2)
    assert [r["id"] for r in latest_b] == [ids[6], ids[3]]
    assert all("limit" in r.params and r.params["descending"] for r in log.requests)
    assert [r["id"] for r in list_runs(couch_db, limit=4, page=3)] == [
        ids[8], ids[7], ids[6], ids[5],
    ]  # fmt: skip
    assert [r["id"] for r in list_runs(couch_db, sources={"a", "b"}, limit=20)] == [
        ids[m] for m in range(8, -1, -1)
    ]
    assert list_runs(couch_db, sources=set()) == []
    assert [r["id"] for r in list_runs(couch_db, source="b", limit=5, page=2)] == [
        ids[6], ids[3], ids[0],
    ]  # fmt: skip
