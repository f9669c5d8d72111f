"""The audit trail records submissions and role changes, admins read it, nobody rewrites it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from server.accounts.services import user_set_role
from server.core.audit import flush_audit
from server.core.couch import cradle_db
from sync.errors import CouchUnauthorized
from tests.integration.openrosa.conftest import PASSWORD, Collect, immunization

pytestmark = pytest.mark.django_db

UUID = "uuid:abcdabcd-0000-4000-8000-000000000001"


def test_trail_records_who_did_what_and_admins_read_it(server, users, built_forms) -> None:
    collect = Collect("worker")
    assert collect.submit(immunization(built_forms, UUID)).status_code == 201
    assert collect.submit(immunization(built_forms, UUID)).status_code == 201
    assert collect.submit(immunization(built_forms, UUID, aefi="yes")).status_code == 409
    user_set_role(username="sup", role="supervisor", areas=["450123101"], actor="root")

    admin = APIClient()
    admin.force_login(get_user_model().objects.create_superuser("root", password=PASSWORD))
    body = admin.get("/api/audit/?limit=100").json()
    rows = [
        (e["action"], e["actor"], e["source"], e["target"])
        for e in body["results"]
        if e["action"] != "user.created"
    ]
    quarantine_id = cradle_db("quarantine").find({"type": "quarantine"}).docs[0]["_id"]
    assert rows == [
        ("submission.created", "worker", "openrosa", UUID),
        ("submission.unchanged", "worker", "openrosa", UUID),
        ("submission.quarantined", "worker", "openrosa", quarantine_id),
        ("user.role_changed", "root", "accounts", "user:sup"),
    ]
    assert body["results"][-1]["detail"] == {"role": "supervisor", "areas": ["450123101"]}
    assert all(e["address"] in (None, "127.0.0.1") for e in body["results"])
    assert "梁宇" not in str(body)  # no personal data in the trail

    supervisor = APIClient()
    supervisor.force_login(get_user_model().objects.get(username="sup"))
    assert supervisor.get("/api/audit/").status_code == 403


def test_entries_cannot_be_changed_or_deleted(server, users, built_forms) -> None:
    assert Collect("worker").submit(immunization(built_forms, UUID)).status_code == 201
    flush_audit()
    db = cradle_db("audit")
    entry = next(
        r["doc"]
        for r in db.all_docs(include_docs=True)
        if r["doc"].get("action") == "submission.created"
    )
    with pytest.raises(CouchUnauthorized) as changed:
        db.put({**entry, "actor": "someone else"})
    assert changed.value.reason == "audit entries are append-only"
    with pytest.raises(CouchUnauthorized):
        db.delete_doc(entry["_id"], entry["_rev"])
    assert db.get(entry["_id"])["actor"] == "worker"
