"""Issue 14: an edit finds the version it names by key (the `cradle-versions` view),
never by a `$elemMatch` scan of every document's versions, whatever the data size."""

from __future__ import annotations

import pytest

from server.core.couch import cradle_db
from sync.ingest.versions import DDOC, VIEW, holders
from tests.integration.openrosa.conftest import Collect, immunization
from tests.support.scanguard import no_scans

pytestmark = pytest.mark.django_db

V1 = "uuid:10000000-0000-4000-8000-000000000001"
V2 = "uuid:20000000-0000-4000-8000-000000000002"
V3 = "uuid:30000000-0000-4000-8000-000000000003"
LATE = "uuid:40000000-0000-4000-8000-000000000004"
VIEW_KIND = f"_view/{DDOC}/{VIEW}"


def test_edits_and_a_stale_edit_read_by_key(server, users, built_forms) -> None:
    collect = Collect("worker")
    assert collect.submit(immunization(built_forms, V1)).status_code == 201
    with no_scans() as first:  # names the original: the document's own id
        assert collect.submit(immunization(built_forms, V2, deprecatedID=V1)).status_code == 201
    with no_scans() as second:  # names a later version: found through the view
        edit = immunization(built_forms, V3, deprecatedID=V2, aefi="yes")
        assert collect.submit(edit).status_code == 201
    doc = cradle_db("submissions").get(V1)
    assert (doc["instance_id"], doc["edits"], doc["data"]["aefi"]) == (V3, 2, "yes")
    assert [v["instance_id"] for v in doc["versions"]] == [V1, V2, V3]

    with no_scans() as stale:
        response = collect.submit(immunization(built_forms, LATE, deprecatedID=V2))
    assert response.status_code == 409
    assert "This edit is based on an older version of the submission." in response.content.decode()
    [held] = cradle_db("quarantine").find({"type": "quarantine"}).docs
    assert [(r["code"], held["http_status"]) for r in held["reasons"]] == [("stale_edit", 409)]
    assert (held["instance_id"], held["deprecated_id"]) == (LATE, V2)
    assert cradle_db("submissions").get(V1)["_rev"] == doc["_rev"]

    assert VIEW_KIND not in first.kinds()
    assert VIEW_KIND in second.kinds() and VIEW_KIND in stale.kinds()
    for log in (first, second, stale):
        assert "_find" not in log.kinds()


def test_holders_say_who_holds_a_version_and_whether_it_is_current(
    server, users, built_forms
) -> None:
    collect = Collect("worker")
    assert collect.submit(immunization(built_forms, V1)).status_code == 201
    assert collect.submit(immunization(built_forms, V2, deprecatedID=V1)).status_code == 201
    db = cradle_db("submissions")
    with no_scans():
        original, current, unknown = holders(db, V1), holders(db, V2), holders(db, LATE)
    assert (original.current, original.any["_id"]) == (None, V1)
    assert (current.current["_id"], current.any["_id"]) == (V1, V1)
    assert (unknown.current, unknown.any) == (None, None)
    rows = db.view(DDOC, VIEW, key=V1)
    assert [(r["id"], r["key"], r["value"]) for r in rows] == [(V1, V1, 0)]
    assert [(r["id"], r["value"]) for r in db.view(DDOC, VIEW, key=V2)] == [(V1, 1)]


def test_the_versions_view_can_be_brought_up_to_date_ahead(server, users, built_forms) -> None:
    from sync.ingest.versions import refresh_version_index

    assert Collect("worker").submit(immunization(built_forms, V1)).status_code == 201
    said: list[str] = []
    db = cradle_db("submissions")
    with no_scans():
        refresh_version_index(db, said.append)
    assert said == [f"{db.name}: _design/cradle-versions up to date"]
