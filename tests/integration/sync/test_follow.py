"""FeedState: local state applied page by page from `_changes`, crash-safe and idempotent."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from sync.follow import FeedState, doc_of


class Forms:
    """A tiny projection: document id -> form id."""

    name = "forms"

    def __init__(self, version: str = "1", fail_on: str | None = None) -> None:
        self.version = version
        self.fail_on = fail_on

    def create(self, conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS forms (id TEXT PRIMARY KEY, form TEXT)")

    def drop(self, conn: sqlite3.Connection) -> None:
        conn.execute("DROP TABLE IF EXISTS forms")

    def apply(self, conn: sqlite3.Connection, changes: Sequence[Mapping[str, Any]]) -> None:
        for change in changes:
            if change["id"] == self.fail_on:
                raise RuntimeError("killed mid-page")
            doc = doc_of(change)
            if doc is None:
                conn.execute("DELETE FROM forms WHERE id = ?", (change["id"],))
            else:
                conn.execute(
                    "INSERT INTO forms VALUES (?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET form = excluded.form",
                    (doc["_id"], doc["form"]),
                )


def rows(state: FeedState) -> list[tuple[str, str]]:
    return state.connection().execute("SELECT id, form FROM forms ORDER BY id").fetchall()


def test_follows_creates_updates_deletes_and_resumes(couch_db, tmp_path) -> None:
    couch_db.bulk_docs([{"_id": f"d{i:02d}", "form": "a"} for i in range(25)])
    couch_db.put({"_id": "_design/x", "views": {}})
    state = FeedState(tmp_path, couch_db, Forms())
    first = state.refresh(batch=10)
    assert (first.rows, first.caught_up, first.full) == (25, True, True)
    assert rows(state) == [(f"d{i:02d}", "a") for i in range(25)]

    doc = couch_db.get("d03")
    couch_db.put({**doc, "form": "b"})
    couch_db.delete_doc("d04", couch_db.get("d04")["_rev"])
    again = state.refresh(batch=10)
    assert (again.rows, again.caught_up, again.full) == (2, True, False)
    assert rows(state)[3:5] == [("d03", "b"), ("d05", "a")]
    assert len(rows(state)) == 24
    assert state.refresh().rows == 0


def test_a_failed_page_leaves_the_last_committed_state(couch_db, tmp_path) -> None:
    couch_db.bulk_docs([{"_id": f"d{i:02d}", "form": "a"} for i in range(30)])
    broken = FeedState(tmp_path, couch_db, Forms(fail_on="d25"))
    with pytest.raises(RuntimeError):
        broken.refresh(batch=10)
    broken.close()
    assert len(rows(FeedState(tmp_path, couch_db, Forms()))) == 20  # two whole pages
    resumed = FeedState(tmp_path, couch_db, Forms())
    result = resumed.refresh(batch=10)
    assert (result.rows, result.full) == (10, False)
    assert rows(resumed) == [(f"d{i:02d}", "a") for i in range(30)]


def test_a_new_version_or_rebuild_reads_everything_again(couch_db, tmp_path) -> None:
    couch_db.bulk_docs([{"_id": f"d{i}", "form": "a"} for i in range(5)])
    FeedState(tmp_path, couch_db, Forms()).refresh()
    newer = FeedState(tmp_path, couch_db, Forms(version="2"))
    assert newer.last_seq() is None
    assert newer.refresh().rows == 5
    assert newer.refresh(rebuild=True).rows == 5
    assert len(rows(newer)) == 5


def test_a_budget_returns_the_committed_state_when_another_process_refreshes(
    couch_db, tmp_path
) -> None:
    couch_db.bulk_docs([{"_id": f"d{i}", "form": "a"} for i in range(5)])
    state = FeedState(tmp_path, couch_db, Forms())
    with state._refresh_lock(None):
        waited = FeedState(tmp_path, couch_db, Forms()).refresh(budget=0.1)
    assert (waited.rows, waited.caught_up) == (0, False)
    assert state.refresh(budget=5).caught_up
