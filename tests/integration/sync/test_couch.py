"""The CouchDB client against the real server that `make test` starts."""

from __future__ import annotations

import httpx
import pytest

from sync.couch import CouchClient, CouchSettings, Database
from sync.errors import (
    CouchConflict,
    CouchError,
    CouchNotFound,
    CouchUnauthorized,
    CouchUnavailable,
)
from sync.schema import DATABASES, check_schema, db_name, ensure_schema
from tests.conftest import unique_name


def test_create_read_update_delete(couch_db: Database) -> None:
    rev1 = couch_db.put({"_id": "child:1", "name": "甲", "n": 1})
    assert rev1.startswith("1-")
    doc = couch_db.get("child:1")
    assert doc == {"_id": "child:1", "_rev": rev1, "name": "甲", "n": 1}

    rev2 = couch_db.put({**doc, "n": 2})
    assert rev2.startswith("2-")
    assert couch_db.get("child:1")["n"] == 2

    with pytest.raises(CouchConflict) as stale:
        couch_db.put({**doc, "n": 3})  # doc still carries rev1
    assert stale.value.status == 409
    assert stale.value.error == "conflict"

    couch_db.delete_doc("child:1", rev2)
    assert couch_db.get("child:1") is None


def test_ids_with_slashes_and_unicode_round_trip(couch_db: Database) -> None:
    ids = ["uuid:a/b", "乡镇 451024201", "plus+and?query#hash"]
    for doc_id in ids:
        couch_db.put({"_id": doc_id})
    assert [r["id"] for r in couch_db.all_docs(keys=ids)] == ids
    assert all(couch_db.get(doc_id)["_id"] == doc_id for doc_id in ids)


def test_bulk_docs_reports_each_conflict(couch_db: Database) -> None:
    first = couch_db.bulk_docs([{"_id": f"d{i}", "v": i} for i in range(5)])
    assert [r.ok for r in first] == [True] * 5

    second = couch_db.bulk_docs(
        [
            {"_id": "d0", "v": 10},  # no _rev: conflict
            {"_id": "d1", "_rev": first[1].rev, "v": 11},  # correct update
            {"_id": "d5", "v": 15},  # new
        ]
    )
    assert [(r.id, r.ok, r.error) for r in second] == [
        ("d0", False, "conflict"),
        ("d1", True, None),
        ("d5", True, None),
    ]
    assert second[0].conflict
    assert couch_db.get("d0")["v"] == 0
    assert couch_db.get("d1")["v"] == 11


def test_bulk_docs_new_edits_false_replays_revisions(couch_db: Database) -> None:
    results = couch_db.bulk_docs(
        [{"_id": "r1", "_rev": "3-abc", "v": 1}, {"_id": "r2", "_rev": "1-def", "v": 2}],
        new_edits=False,
    )
    assert [(r.id, r.rev, r.ok) for r in results] == [("r1", "3-abc", True), ("r2", "1-def", True)]
    assert couch_db.get("r1")["_rev"] == "3-abc"


def test_all_docs_by_keys_and_range_and_paging(couch_db: Database) -> None:
    couch_db.bulk_docs([{"_id": f"k{i:03d}", "i": i} for i in range(25)])
    rows = couch_db.all_docs(keys=["k003", "missing", "k010"], include_docs=True)
    assert [r.get("id") for r in rows] == ["k003", None, "k010"]
    assert rows[1]["error"] == "not_found"
    assert rows[2]["doc"]["i"] == 10

    ranged = couch_db.all_docs(start_key="k005", end_key="k008")
    assert [r["id"] for r in ranged] == ["k005", "k006", "k007", "k008"]

    walked = [r["id"] for r in couch_db.iter_all_docs(start_key="k", end_key="k\ufff0", batch=7)]
    assert walked == [f"k{i:03d}" for i in range(25)]


def test_bulk_get_returns_current_documents(couch_db: Database) -> None:
    couch_db.bulk_docs([{"_id": "a", "v": 1}, {"_id": "b", "v": 2}])
    found = couch_db.bulk_get(["a", "b", "nope"])
    assert sorted(found) == ["a", "b"]
    assert found["b"]["v"] == 2


def test_changes_pages_with_opaque_sequences(couch_db: Database) -> None:
    couch_db.bulk_docs([{"_id": f"c{i:02d}", "i": i} for i in range(23)])
    couch_db.create_index(["i"], name="by-i", ddoc="by-i")  # design docs are skipped
    pages = list(couch_db.iter_changes(since=0, batch=10))
    ids = [r["id"] for page in pages for r in page.results]
    assert sorted(ids) == [f"c{i:02d}" for i in range(23)]
    assert all(r["doc"]["i"] == int(r["id"][1:]) for page in pages for r in page.results)

    last = pages[-1].last_seq
    couch_db.put({"_id": "late"})
    after = couch_db.changes(since=last, include_docs=False)
    assert [r["id"] for r in after.results] == ["late"]


def test_longpoll_changes_returns_when_a_document_arrives(couch_db: Database) -> None:
    since = couch_db.changes(since="now").last_seq
    empty = couch_db.changes(since=since, feed="longpoll", timeout_ms=200)
    assert empty.results == []
    couch_db.put({"_id": "poll"})
    page = couch_db.changes(since=since, feed="longpoll", timeout_ms=5000)
    assert [r["id"] for r in page.results] == ["poll"]


def test_find_with_index_sort_and_bookmark_paging(couch_db: Database) -> None:
    couch_db.bulk_docs(
        [
            {"_id": f"s{i:02d}", "township": "451024201" if i % 2 else "451024202", "n": i}
            for i in range(30)
        ]
    )
    created = couch_db.create_index(["township", "n"], name="by-township-n", ddoc="by-township-n")
    assert created["result"] in ("created", "exists")
    assert "by-township-n" in {ix["name"] for ix in couch_db.indexes()}

    page = couch_db.find(
        {"township": "451024201", "n": {"$gt": 10}},
        sort=[{"township": "asc"}, {"n": "asc"}],
        limit=3,
    )
    assert [d["n"] for d in page.docs] == [11, 13, 15]

    walked = list(couch_db.iter_find({"township": "451024202"}, batch=4))
    assert sorted(d["n"] for d in walked) == list(range(0, 30, 2))


def test_attachments_round_trip(couch_db: Database) -> None:
    rev = couch_db.put({"_id": "with-photo"})
    data = bytes(range(256)) * 10
    rev2 = couch_db.put_attachment("with-photo", rev, "photo 1.jpg", data, "image/jpeg")
    assert rev2.startswith("2-")
    assert couch_db.get_attachment("with-photo", "photo 1.jpg") == data
    assert couch_db.get_attachment("with-photo", "other.jpg") is None
    stub = couch_db.get("with-photo")["_attachments"]["photo 1.jpg"]
    assert stub["content_type"] == "image/jpeg"
    assert stub["length"] == 2560


def test_design_documents_are_written_once(couch_db: Database) -> None:
    body = {"filters": {"by_township": "function(doc, req) { return true; }"}}
    assert couch_db.ensure_design("_design/cradle", body) is True
    assert couch_db.ensure_design("_design/cradle", body) is False
    assert couch_db.get("_design/cradle")["filters"] == body["filters"]


def test_errors_name_method_url_status_reason_never_credentials(couch: CouchClient) -> None:
    missing = couch.db(unique_name("absent"))
    with pytest.raises(CouchNotFound) as err:
        missing.info()
    message = str(err.value)
    assert message.startswith(f"CouchDB GET {couch.settings.url}/{missing.name} failed (HTTP 404)")
    assert couch.settings.password not in message

    existing = couch.db(unique_name("exists"))
    existing.create()
    try:
        with pytest.raises(CouchError) as twice:
            couch.request("PUT", f"/{existing.name}")
        assert (twice.value.method, twice.value.status, twice.value.error) == (
            "PUT",
            412,
            "file_exists",
        )
        assert existing.create() is False  # the client's own create() is idempotent
    finally:
        existing.delete()


def test_wrong_password_is_unauthorized_and_not_leaked(couch: CouchClient) -> None:
    wrong = CouchSettings(
        couch.settings.url, couch.settings.username, "not-the-password", retries=0
    )
    with CouchClient(wrong) as client, pytest.raises(CouchUnauthorized) as err:
        client.all_dbs()
    assert err.value.status == 401
    assert "not-the-password" not in str(err.value)


def test_anonymous_clients_cannot_read_or_write_cradle_databases(couch_db: Database) -> None:
    couch_db.put({"_id": "secret", "child_name": "甲"})
    url = f"{couch_db.client.settings.url}/{couch_db.name}"
    assert httpx.get(f"{url}/secret").status_code == 401
    assert httpx.put(f"{url}/intruder", json={"x": 1}).status_code == 401
    assert httpx.get(f"{url}/_all_docs").status_code == 401
    assert couch_db.get("intruder") is None


def test_unreachable_server_raises_unavailable_after_retries() -> None:
    dead = CouchSettings("http://127.0.0.1:9", "u", "p", timeout=1, retries=2, backoff=0.01)
    with CouchClient(dead) as client, pytest.raises(CouchUnavailable) as err:
        client.server_info()
    assert err.value.status is None
    assert "http://127.0.0.1:9/" in str(err.value)


def test_ensure_schema_creates_databases_indexes_and_security(couch: CouchClient) -> None:
    prefix = unique_name("schema") + "_"
    try:
        before = check_schema(couch, prefix)
        assert [s.exists for s in before] == [False] * len(DATABASES)
        after = ensure_schema(couch, prefix)
        assert all(s.ready for s in after)
        again = ensure_schema(couch, prefix)  # idempotent
        assert [s.name for s in again] == [db_name(prefix, d.key) for d in DATABASES]
        security = couch.db(db_name(prefix, "submissions")).security()
        assert security["members"]["roles"] == ["cradle"]
    finally:
        for spec in DATABASES:
            db = couch.db(db_name(prefix, spec.key))
            if db.exists():
                db.delete()
