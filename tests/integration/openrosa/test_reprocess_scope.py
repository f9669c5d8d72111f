"""Issue 15, item 5: re-processing judges a submission within its submitter's scope as it
is today, whoever clicks; only an admin's explicit, audited override goes beyond it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from rest_framework.test import APIClient

from server.accounts.scope import scope_for
from server.accounts.services import user_set_role
from server.core.audit import flush_audit
from server.core.couch import cradle_db
from server.submissions.services import quarantine_reprocess
from tests.integration.openrosa.conftest import OTHER_TOWNSHIP, PASSWORD, Collect, immunization

pytestmark = pytest.mark.django_db

UUID = "uuid:cccccccc-0000-4000-8000-000000000001"


def _client(username: str) -> APIClient:
    client = APIClient()
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def held(server, users, built_forms) -> str:
    """A health worker's post for a township of their county that is not theirs."""
    response = Collect("worker").submit(immunization(built_forms, UUID, township=OTHER_TOWNSHIP))
    assert response.status_code == 403
    [doc] = cradle_db("quarantine").find({"type": "quarantine"}).docs
    assert [r["code"] for r in doc["reasons"]] == ["outside_scope"]
    return doc["_id"]


def _reprocess(username: str, qid: str) -> dict:
    response = _client(username).post(f"/api/quarantine/{qid}/reprocess")
    assert response.status_code == 200, response.content
    return response.json()


def _reprocessed_entries() -> list[tuple]:
    flush_audit()
    return [
        (r["doc"]["actor"], r["doc"]["target"], r["doc"]["detail"])
        for r in cradle_db("audit").all_docs(include_docs=True)
        if r["doc"].get("action") == "submission.reprocessed"
    ]


def test_a_supervisors_click_does_not_launder_a_workers_outside_scope_post(held) -> None:
    body = _reprocess("sup", held)
    assert (body["result"], body["accepted"], body["submission_id"]) == (
        "quarantined",
        False,
        None,
    )
    assert [(r["code"], r["field"], r["detail"]) for r in body["reasons"]] == [
        ("outside_scope", "township", OTHER_TOWNSHIP)
    ]
    assert cradle_db("submissions").get(UUID) is None
    doc = cradle_db("quarantine").get(held)
    assert (doc["status"], doc["http_status"]) == ("open", 403)
    assert "reprocessed_at" in doc
    assert _reprocessed_entries() == [("sup", held, {"result": "quarantined", "submission": None})]


def test_once_the_worker_may_submit_there_it_goes_through(held) -> None:
    user_set_role(username="worker", role="health_worker", areas=["450123101", OTHER_TOWNSHIP])
    body = _reprocess("sup", held)
    assert body == {"result": "created", "accepted": True, "submission_id": UUID, "reasons": []}
    assert cradle_db("submissions").get(UUID)["township_code"] == OTHER_TOWNSHIP
    assert cradle_db("quarantine").get(held)["status"] == "reprocessed"


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (
            "delete",
            "submitter_unknown",
            "The submitter worker no longer exists, so their scope cannot be checked.",
        ),
        (
            "deactivate",
            "submitter_no_scope",
            "The submitter worker may no longer submit forms for any area.",
        ),
        (
            "analyst",
            "submitter_no_scope",
            "The submitter worker may no longer submit forms for any area.",
        ),
        (
            "no_areas",
            "submitter_no_scope",
            "The submitter worker may no longer submit forms for any area.",
        ),
    ],
)
def test_a_submitter_without_scope_keeps_the_submission_quarantined(
    held, change, code, message
) -> None:
    user = get_user_model().objects.get(username="worker")
    if change == "delete":
        user.delete()
    elif change == "deactivate":
        user.is_active = False
        user.save()
    elif change == "analyst":
        user_set_role(username="worker", role="analyst", areas=[])
    else:
        user_set_role(username="worker", role="health_worker", areas=[])
    body = _reprocess("sup", held)
    assert (body["result"], body["accepted"]) == ("quarantined", False)
    assert [(r["code"], r["detail"], r["message"]) for r in body["reasons"]] == [
        (code, "worker", message)
    ]
    doc = cradle_db("quarantine").get(held)
    assert (doc["status"], doc["http_status"], [r["code"] for r in doc["reasons"]]) == (
        "open",
        403,
        [code],
    )
    assert cradle_db("submissions").get(UUID) is None


def test_only_an_admin_may_override_the_scope_and_it_is_audited(held) -> None:
    request = RequestFactory().post(f"/api/quarantine/{held}/reprocess")
    sup = scope_for(get_user_model().objects.get(username="sup"))
    with pytest.raises(PermissionError):
        quarantine_reprocess(
            scope=sup, doc_id=held, request=request, source="api", override_scope=True
        )
    assert cradle_db("submissions").get(UUID) is None

    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    outcome = quarantine_reprocess(
        scope=scope_for(root), doc_id=held, request=request, source="api", override_scope=True
    )
    assert (outcome.result, outcome.http_status, outcome.doc_id) == ("created", 201, UUID)
    assert cradle_db("submissions").get(UUID)["submitter"] == "worker"
    assert _reprocessed_entries() == [
        ("root", held, {"result": "created", "submission": UUID, "override_scope": True})
    ]
