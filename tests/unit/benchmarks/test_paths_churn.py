"""What a paths run changes, and how its journal puts the data set back (no network: an
in-memory stand-in for the database)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from benchmarks.paths_churn import Journal, churn, revert
from sync.couch import BulkResult


class MemoryDb:
    """Just enough of `sync.couch.Database`: revisions, tombstones, `_bulk_get`, `_bulk_docs`."""

    def __init__(self, docs: Sequence[dict[str, Any]]) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.revs: dict[str, int] = {}
        self.bulk_docs(docs)

    def bulk_get(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {i: self.docs[i] for i in ids if i in self.docs and not self.docs[i].get("_deleted")}

    def bulk_docs(self, docs: Sequence[dict[str, Any]]) -> list[BulkResult]:
        results = []
        for doc in docs:
            doc_id = doc["_id"]
            current = self.docs.get(doc_id)
            live = current is not None and not current.get("_deleted")
            if (live or "_rev" in doc) and doc.get("_rev") != (current or {}).get("_rev"):
                results.append(BulkResult(doc_id, None, "conflict", "Document update conflict"))
                continue
            self.revs[doc_id] = self.revs.get(doc_id, 0) + 1
            rev = f"{self.revs[doc_id]}-x"
            self.docs[doc_id] = {**doc, "_rev": rev}
            results.append(BulkResult(doc_id, rev))
        return results

    def bodies(self) -> dict[str, dict[str, Any]]:
        return {
            i: {k: v for k, v in d.items() if k != "_rev"}
            for i, d in self.docs.items()
            if not d.get("_deleted")
        }


def submission(n: int) -> dict[str, Any]:
    doc_id = f"uuid:{n:08d}-0000-4000-8000-000000000000"
    return {
        "_id": doc_id,
        "type": "submission",
        "instance_id": doc_id,
        "village": "弄岗村",
        "data": {"village": "弄岗村", "child_id": f"45012320250101{n:04d}"},
        "edits": 0,
        "versions": [{"instance_id": doc_id, "xml_md5": "m"}],
        "_attachments": {
            f"xml/{doc_id}.xml": {
                "content_type": "text/xml",
                "data": "PGRhdGEvPg==",
                "digest": "md5-x",
                "revpos": 1,
            }
        },
    }


def loaded(n: int) -> tuple[MemoryDb, list[dict[str, Any]]]:
    db = MemoryDb([submission(i) for i in range(n)])
    return db, [db.docs[i] for i in sorted(db.docs)]


def test_a_third_new_a_third_edited_a_third_deleted(tmp_path) -> None:
    db, docs = loaded(6)
    journal = Journal(tmp_path / "changes.json")
    assert churn(db, docs, journal, seed=14) == 6  # type: ignore[arg-type]
    live = db.bodies()
    new = sorted(set(live) - {d["_id"] for d in docs})
    assert len(new) == 2 and len(live) == 6
    for doc_id in new:
        assert live[doc_id]["instance_id"] == doc_id
        assert live[doc_id]["versions"] == [{"instance_id": doc_id, "xml_md5": "m"}]
        assert "_attachments" not in live[doc_id]
    for doc in docs[2:4]:
        edited = live[doc["_id"]]
        assert edited["village"] == edited["data"]["village"] == "弄岗村（更正）"
        assert (edited["edits"], edited["review_state"]) == (1, "edited")
        assert edited["_attachments"][f"xml/{doc['_id']}.xml"]["stub"] is True
    assert all(d["_id"] not in live for d in docs[4:])
    written = orjson.loads((tmp_path / "changes.json").read_bytes())
    assert sorted(written["created"]) == sorted(journal.created) == new
    assert [d["_id"] for d in written["originals"]] == [d["_id"] for d in docs[2:]]
    assert written["originals"][0]["_attachments"] == {
        f"xml/{docs[2]['_id']}.xml": {"content_type": "text/xml", "data": "PGRhdGEvPg=="}
    }
    assert "_rev" not in written["originals"][0]


def test_the_journal_puts_every_document_back(tmp_path) -> None:
    db, docs = loaded(9)
    before = {
        i: {k: v for k, v in d.items() if k != "_attachments"} for i, d in db.bodies().items()
    }
    journal = Journal(tmp_path / "changes.json")
    journal.add(created=["uuid:posted-during-the-run"])
    db.bulk_docs([{"_id": "uuid:posted-during-the-run", "type": "submission"}])
    churn(db, docs, journal, seed=14)  # type: ignore[arg-type]
    assert revert(db, tmp_path / "changes.json") == 6 + 3 + 1  # type: ignore[arg-type]
    after = {i: {k: v for k, v in d.items() if k != "_attachments"} for i, d in db.bodies().items()}
    assert after == before
    assert not (tmp_path / "changes.json").exists()
    assert revert(db, tmp_path / "changes.json") == 0  # type: ignore[arg-type]


def test_a_journal_left_by_a_run_that_died_half_way_is_undone(tmp_path) -> None:
    db, docs = loaded(3)
    journal = Journal(tmp_path / "changes.json")
    journal.add(created=["uuid:never-written"], originals=docs)
    db.bulk_docs([{**docs[0], "village": "changed"}])  # only the first change was made
    assert revert(db, tmp_path / "changes.json") == 3  # type: ignore[arg-type]
    assert db.bodies()[docs[0]["_id"]]["village"] == "弄岗村"
    assert "uuid:never-written" not in db.docs
