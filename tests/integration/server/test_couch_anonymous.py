"""The CouchDB-compatible server refuses anonymous requests and survives them.

PouchDB Server 4.2 used to end its process on one anonymous `PUT /<name>`; the server
`scripts/couchdb.sh` starts now refuses every request without valid credentials, as
Apache CouchDB 3 does for these requests.
"""

from __future__ import annotations

import httpx
import pytest

from sync.couch import CouchClient, Database
from tests.conftest import unique_name

pytestmark = pytest.mark.integration


def test_anonymous_requests_are_refused_and_the_server_keeps_answering(
    couch: CouchClient, couch_db: Database
) -> None:
    url = couch.settings.url
    couch_db.put({"_id": "child-1", "child_name": "王小明"})
    name = unique_name("anything")

    created = httpx.put(f"{url}/{name}", timeout=10)
    assert created.status_code == 401
    assert created.json()["error"] == "unauthorized"
    listed = httpx.get(f"{url}/_all_dbs", timeout=10)
    assert listed.status_code == 401
    assert listed.json()["error"] == "unauthorized"
    read = httpx.get(f"{url}/{couch_db.name}/child-1", timeout=10)
    assert read.status_code == 401
    assert "王小明" not in read.text

    assert couch.session()["userCtx"]["name"] == couch.settings.username
    assert name not in couch.all_dbs()
    assert couch_db.get("child-1")["child_name"] == "王小明"
    couch_db.put({"_id": "child-2"})
    assert couch_db.get("child-2") is not None


def test_wrong_credentials_are_refused_too(couch: CouchClient) -> None:
    url = couch.settings.url
    name = unique_name("anything")
    wrong = httpx.put(f"{url}/{name}", auth=(couch.settings.username, "not-the-password"))
    assert wrong.status_code == 401
    assert name not in couch.all_dbs()
    assert couch.session()["userCtx"]["name"] == couch.settings.username
