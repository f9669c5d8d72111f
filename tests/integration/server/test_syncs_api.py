"""The sync API: a supervisor starts a Central sync (a real detached `cradle sync central`
process), follows it while it runs and after, and cannot start a second one meanwhile."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import include, path

from server.accounts.services import user_create
from server.urls import urlpatterns as project_urls
from tests.integration.openrosa.conftest import COUNTY
from tests.support.central_sync import CentralWorld

pytest_plugins = ["tests.support.central_sync"]
pytestmark = [pytest.mark.integration, pytest.mark.urls(__name__)]

# The project's routes plus this app's (until server/urls.py includes it).
urlpatterns = [path("api/", include("server.syncs.urls")), *project_urls]


def login(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def api(server, users, world: CentralWorld, settings, monkeypatch, tmp_path: Path) -> CentralWorld:
    settings.FORMS_BUILD_DIR = world.forms_dir
    settings.DATA_DIR = tmp_path / "data"
    config = world.write_config(backoff_seconds=0.05, counties=[COUNTY])
    monkeypatch.setenv("CRADLE_CENTRAL_CONFIG", str(config))
    user_create(username="admin_user", password="admin-pass-2026", role="admin")
    return world


def wait_until_done(client: Client, run_id: str) -> tuple[dict, list[str]]:
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        response = client.get(f"/api/syncs/{run_id}")
        assert response.status_code == 200
        body = response.json()
        seen.append(body["status"])
        if body["status"] != "running":
            return body, seen
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish: {seen[-3:]}")


def test_a_supervisor_starts_a_sync_follows_it_and_cannot_start_it_twice(
    api: CentralWorld,
) -> None:
    api.submit(5)
    api.double.faults.add(r"\.svc/Submissions", "delay:0.5", times=4)
    sup = login("sup")

    sources = sup.get("/api/sources/")
    assert sources.status_code == 200
    assert sources.json() == {
        "results": [
            {
                "name": "gx",
                "server": api.double.base_url,
                "project_id": api.project_id,
                "forms": {"immunization": "immunization"},
                "counties": [COUNTY],
            }
        ]
    }

    started = sup.post("/api/syncs/", {"source": "gx"}, content_type="application/json")
    assert started.status_code == 202, started.content
    run = started.json()
    assert (run["source"], run["status"], run["requested_by"]) == ("gx", "running", "sup")

    again = login("admin_user").post(
        "/api/syncs/", {"source": "gx"}, content_type="application/json"
    )
    assert again.status_code == 409
    assert again.json()["error"] == "sync_running"
    assert again.json()["detail"] == {"run": run["id"]}

    done, seen = wait_until_done(sup, run["id"])
    assert seen[0] == "running"
    assert done["status"] == "succeeded", done
    assert done["counts"] == {
        "fetched": 5,
        "new": 5,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 0,
        "deleted": 0,
        "review_changes": 0,
    }
    assert (done["written"], done["total"], done["error"]) == (5, 5, None)
    assert done["finished_at"] >= done["started_at"]

    listed = sup.get("/api/syncs/").json()["results"]
    assert [(r["id"], r["status"]) for r in listed] == [(run["id"], "succeeded")]

    # The source is free again: a second run starts, finds nothing new.
    second = sup.post("/api/syncs/", {"source": "gx"}, content_type="application/json")
    assert second.status_code == 202
    finished, _ = wait_until_done(sup, second.json()["id"])
    assert (finished["status"], finished["counts"]["new"]) == ("succeeded", 0)
    assert [r["id"] for r in sup.get("/api/syncs/?limit=1").json()["results"]] == [
        second.json()["id"]
    ]


def test_only_supervisors_and_admins_reach_syncs(api: CentralWorld) -> None:
    anonymous, worker, analyst = Client(), login("worker"), login("analyst")
    for client, expected in ((anonymous, 401), (worker, 403), (analyst, 403)):
        assert client.get("/api/syncs/").status_code == expected
        assert client.get("/api/sources/").status_code == expected
        assert client.get("/api/syncs/x").status_code == expected
        started = client.post("/api/syncs/", {"source": "gx"}, content_type="application/json")
        assert started.status_code == expected
    assert login("admin_user").get("/api/syncs/").json() == {"results": []}


def test_bad_requests_get_clear_answers(api: CentralWorld, monkeypatch) -> None:
    sup = login("sup")
    unknown = sup.post("/api/syncs/", {"source": "nope"}, content_type="application/json")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unknown_source"
    assert "no Central source named 'nope' (yours: gx)" in unknown.json()["message"]
    assert sup.post("/api/syncs/", {}, content_type="application/json").status_code == 400
    missing = sup.get("/api/syncs/20261128T000000.000Z-000000")
    assert missing.status_code == 404

    monkeypatch.delenv("CRADLE_CENTRAL_CONFIG")
    assert sup.get("/api/sources/").json() == {"results": []}
    off = sup.post("/api/syncs/", {"source": "gx"}, content_type="application/json")
    assert (off.status_code, off.json()["error"]) == (400, "not_configured")


def test_a_supervisor_sees_and_starts_only_the_sources_of_their_counties(
    api: CentralWorld, monkeypatch
) -> None:
    """Another county's supervisor meets the source and its runs as if they did not exist;
    a province-wide source (no `counties`) is for admins only."""
    api.submit(2)
    admin, other = login("admin_user"), login("other_sup")
    started = admin.post("/api/syncs/", {"source": "gx"}, content_type="application/json")
    assert started.status_code == 202, started.content
    run_id = started.json()["id"]
    wait_until_done(admin, run_id)

    assert other.get("/api/sources/").json() == {"results": []}
    assert other.get("/api/syncs/").json() == {"results": []}
    assert other.get("/api/syncs/?source=gx").json() == {"results": []}
    assert other.get(f"/api/syncs/{run_id}").status_code == 404
    refused = other.post("/api/syncs/", {"source": "gx"}, content_type="application/json")
    assert (refused.status_code, refused.json()["error"]) == (400, "unknown_source")
    assert "(yours: none in your area)" in refused.json()["message"]
    assert [r["id"] for r in login("sup").get("/api/syncs/").json()["results"]] == [run_id]

    monkeypatch.setenv("CRADLE_CENTRAL_CONFIG", str(api.write_config(backoff_seconds=0.05)))
    assert login("sup").get("/api/sources/").json() == {"results": []}
    assert login("sup").get(f"/api/syncs/{run_id}").status_code == 404
    assert [s["name"] for s in admin.get("/api/sources/").json()["results"]] == ["gx"]
    assert [r["id"] for r in admin.get("/api/syncs/").json()["results"]] == [run_id]
