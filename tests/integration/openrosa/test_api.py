"""The REST API over submissions and the quarantine: filters, paging, scope, names."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from server.core.couch import cradle_db
from tests.integration.openrosa.conftest import Collect, immunization

pytestmark = pytest.mark.django_db


def _client(username: str) -> APIClient:
    client = APIClient()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _ids(n: int) -> list[str]:
    return [f"uuid:aaaaaaaa-0000-4000-8000-{i:012d}" for i in range(n)]


@pytest.fixture
def five(server, users, built_forms) -> list[str]:
    ids = _ids(5)
    collect = Collect("worker")
    for i, instance_id in enumerate(ids):
        values = {
            "child_id": f"45012320250501{i:04d}",
            "end": f"2026-11-{10 + i}T09:12:00.000+08:00",
        }
        assert collect.submit(immunization(built_forms, instance_id, **values)).status_code == 201
    return ids


def test_supervisor_lists_with_filters_and_paging(five) -> None:
    client = _client("sup")
    page = client.get("/api/submissions/?form=immunization&limit=2")
    assert page.status_code == 200
    body = page.json()
    assert (body["count"], body["previous"]) == (5, None)
    assert [r["id"] for r in body["results"]] == [five[4], five[3]]  # newest visit first
    assert body["next"].startswith(
        "http://testserver/api/submissions/?form=immunization&limit=2&cursor="
    )
    walked = []
    url = "/api/submissions/?form=immunization&limit=2"
    while url:
        data = client.get(url).json()
        assert data["count"] == 5
        walked += [r["id"] for r in data["results"]]
        url = data["next"]
    assert walked == five[::-1]

    by_child = client.get("/api/submissions/?child_id=450123202505010003").json()["results"]
    assert [r["id"] for r in by_child] == [five[3]]
    assert by_child[0]["data"]["child_name"] == "梁宇"  # supervisors see names in their area

    dated = client.get("/api/submissions/?collected_from=2026-11-11&collected_to=2026-11-12")
    assert sorted(r["id"] for r in dated.json()["results"]) == sorted(five[1:3])


def test_detail_is_scoped(five) -> None:
    assert _client("sup").get(f"/api/submissions/{five[0]}").status_code == 200
    # outside the area is answered exactly as a missing id: ids cannot be probed
    other = _client("other_sup").get(f"/api/submissions/{five[0]}")
    missing = _client("sup").get("/api/submissions/uuid:nope-0000")
    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.json() == missing.json()
    assert _client("other_sup").get("/api/submissions/").json()["results"] == []


def test_analyst_sees_everything_but_never_names(five) -> None:
    client = _client("analyst")
    results = client.get("/api/submissions/?limit=50").json()["results"]
    assert len(results) == 5
    detail = client.get(f"/api/submissions/{five[0]}").json()
    assert "child_name" not in detail["data"]
    assert "extra" not in detail
    for body in (
        client.get("/api/submissions/").content,
        client.get(f"/api/submissions/{five[0]}").content,
    ):
        assert "梁宇".encode() not in body


def test_health_workers_and_anonymous_cannot_read(five) -> None:
    assert _client("worker").get("/api/submissions/").status_code == 403
    anonymous = APIClient().get("/api/submissions/")
    assert anonymous.status_code in (401, 403)
    assert anonymous.json()["error"] == "not_authenticated"


def test_invalid_filters_are_400_with_the_field_named(five) -> None:
    response = _client("sup").get("/api/submissions/?township=12&limit=0")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert sorted(body["detail"]) == ["limit", "township"]


def test_quarantine_list_detail_and_reprocess(server, users, built_forms, settings) -> None:
    bad = immunization(
        built_forms, "uuid:bbbbbbbb-0000-4000-8000-000000000001", township="450123199"
    )
    # sent by the county's supervisor: once the registry knows the township, it is theirs
    assert Collect("sup").submit(bad).status_code == 422
    client = _client("sup")
    listed = client.get("/api/quarantine/").json()["results"]
    assert [(q["instance_id"], q["reasons"][0]["code"]) for q in listed] == [
        ("uuid:bbbbbbbb-0000-4000-8000-000000000001", "unknown_township")
    ]
    qid = listed[0]["id"]
    detail = client.get(f"/api/quarantine/{qid}").json()
    assert detail["raw_xml"] == bad.decode()
    assert _client("analyst").get("/api/quarantine/").status_code == 403

    # still wrong: reprocessing keeps it quarantined with the same reason
    again = client.post(f"/api/quarantine/{qid}/reprocess").json()
    assert (again["accepted"], again["reasons"][0]["code"]) == (False, "unknown_township")

    # the registry learns the township; the same submission now goes through
    from server.core import places

    real = places.registry_places()
    patched = type(real).from_pairs({**real.county_of_township, "450123199": "450123"})
    places.registry_places.cache_clear()
    try:
        import unittest.mock

        with (
            unittest.mock.patch("server.core.ingest.registry_places", return_value=patched),
            unittest.mock.patch("server.accounts.scope.registry_places", return_value=patched),
        ):
            done = client.post(f"/api/quarantine/{qid}/reprocess").json()
    finally:
        places.registry_places.cache_clear()
    assert done == {
        "result": "created",
        "accepted": True,
        "submission_id": "uuid:bbbbbbbb-0000-4000-8000-000000000001",
        "reasons": [],
    }
    held = cradle_db("quarantine").get(qid)
    assert (held["status"], held["resolved_as"]) == ("reprocessed", done["submission_id"])
    assert cradle_db("submissions").get(done["submission_id"])["township_code"] == "450123199"


def test_a_quarantined_central_row_is_reprocessed_as_a_sync_would(
    server, users, built_forms
) -> None:
    import json
    import unittest.mock
    from pathlib import Path

    from server.core import places
    from server.core.ingest import get_ingestor
    from sync.central.upsert import FormTarget, Upserter

    sample = Path(__file__).parents[2] / "unit" / "sync" / "data" / "central-odata-sample.json"
    row = json.loads(sample.read_text(encoding="utf-8"))["value"][2]
    row["location"]["township"] = "450123199"  # not (yet) in the registry
    target = FormTarget("https://central.example.org", 5, "immunization", "immunization")
    assert Upserter(get_ingestor(), target).write([row]).quarantined == 1

    client = _client("sup")
    [listed] = client.get("/api/quarantine/").json()["results"]
    assert (listed["source"], listed["reasons"][0]["code"]) == ("central", "unknown_township")
    detail = client.get(f"/api/quarantine/{listed['id']}").json()
    assert json.loads(detail["raw_json"])["__id"] == row["__id"] and "raw_xml" not in detail

    again = client.post(f"/api/quarantine/{listed['id']}/reprocess").json()
    assert (again["accepted"], again["reasons"][0]["code"]) == (False, "unknown_township")
    assert cradle_db("quarantine").get(listed["id"])["status"] == "open"

    real = places.registry_places()
    patched = type(real).from_pairs({**real.county_of_township, "450123199": "450123"})
    with unittest.mock.patch("server.core.ingest.registry_places", return_value=patched):
        done = client.post(f"/api/quarantine/{listed['id']}/reprocess").json()
        # once more: the document is already there, as it was
        twice = client.post(f"/api/quarantine/{listed['id']}/reprocess").json()
    assert (twice["result"], twice["accepted"]) == ("unchanged", True)
    assert done == {
        "result": "created",
        "accepted": True,
        "submission_id": row["__id"],
        "reasons": [],
    }
    held = cradle_db("quarantine").get(listed["id"])
    assert (held["status"], held["resolved_as"]) == ("reprocessed", row["__id"])
    doc = cradle_db("submissions").get(row["__id"])
    assert (doc["township_code"], doc["source"], doc["instance_id"]) == (
        "450123199",
        "central",
        row["meta"]["instanceID"],
    )
    assert (doc["central"]["server"], doc["central"]["project_id"]) == (target.server, 5)
