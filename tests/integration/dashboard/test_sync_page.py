"""The sync page: sources, starting a run (a real detached `cradle sync central` against
the ODK Central test double), its record, refusals; who may see it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.integration.dashboard.conftest import signed_in
from tests.integration.openrosa.conftest import COUNTY

if TYPE_CHECKING:
    from tests.support.central_sync import CentralWorld

pytest_plugins = ["tests.support.central_sync"]
pytestmark = pytest.mark.integration


@pytest.fixture
def central(loaded, world: CentralWorld, monkeypatch) -> CentralWorld:
    """The known dataset in Cradle, and a Central project with 4 new submissions."""
    config = world.write_config(backoff_seconds=0.05, counties=[COUNTY])
    monkeypatch.setenv("CRADLE_CENTRAL_CONFIG", str(config))
    world.submit(4)
    return world


def _token(client) -> str:
    client.get("/dashboard/sync/")
    return client.cookies["csrftoken"].value


def wait_for_run(client, run_id: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = client.get(f"/api/syncs/{run_id}").json()
        if body["status"] != "running":
            return body
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish")


def test_supervisor_starts_a_sync_from_the_page(central: CentralWorld) -> None:
    sup = signed_in("sup", enforce_csrf_checks=True)
    page = sup.get("/dashboard/sync/").content.decode()
    assert 'data-source="gx"' in page and central.double.base_url in page
    assert "现在没有运行中的同步" in page
    refused = sup.post("/dashboard/sync/start", {"source": "gx"})
    assert refused.status_code == 403  # no CSRF token

    started = sup.post(
        "/dashboard/sync/start", {"source": "gx", "csrfmiddlewaretoken": _token(sup)}
    )
    assert started.status_code == 302
    run_id = started["Location"].split("run=")[1]
    following = sup.get(started["Location"]).content.decode()
    assert f'data-url="/api/syncs/{run_id}"' in following

    done = wait_for_run(sup, run_id)
    assert done["status"] == "succeeded", done
    assert (done["counts"]["fetched"], done["counts"]["new"]) == (4, 4)
    after = sup.get(started["Location"]).content.decode()
    assert 'id="run-progress" data-status="succeeded"' in after
    assert f'<tr data-run="{run_id}"' in after
    row = after.split(f'<tr data-run="{run_id}"')[1].split("</tr>")[0]
    assert '<td class="num" data-count="new">4</td>' in row
    assert "<td>sup</td>" in row


def test_an_unknown_source_is_refused_on_the_page(central: CentralWorld) -> None:
    sup = signed_in("sup", enforce_csrf_checks=True)
    response = sup.post(
        "/dashboard/sync/start", {"source": "nope", "csrfmiddlewaretoken": _token(sup)}
    )
    assert response.status_code == 400
    assert 'id="sync-error"' in response.content.decode()


def test_another_countys_supervisor_neither_sees_nor_starts_the_source(
    central: CentralWorld,
) -> None:
    other = signed_in("other_sup", enforce_csrf_checks=True)
    page = other.get("/dashboard/sync/").content.decode()
    assert 'value="gx"' not in page
    refused = other.post(
        "/dashboard/sync/start", {"source": "gx", "csrfmiddlewaretoken": _token(other)}
    )
    assert refused.status_code == 400
    assert "no Central source named &#x27;gx&#x27;" in refused.content.decode()


def test_without_central_configured_the_page_says_so(loaded, monkeypatch) -> None:
    monkeypatch.delenv("CRADLE_CENTRAL_CONFIG", raising=False)
    page = signed_in("sup").get("/dashboard/sync/").content.decode()
    assert "没有配置 ODK Central 数据源" in page
    assert 'id="replication-none"' in page


def test_only_supervisors_and_admins_see_the_sync_page(loaded) -> None:
    assert signed_in("analyst").get("/dashboard/sync/").status_code == 403
    assert signed_in("worker").get("/dashboard/sync/")["Location"] == "/dashboard/collect/"
    assert signed_in("analyst").post("/dashboard/sync/start", {"source": "gx"}).status_code == 403


def test_replication_status_shows_the_replicas_of_the_users_area(loaded, monkeypatch) -> None:
    from sync.central import replicate
    from sync.central.replicate import ReplicationStatus

    mine = ReplicationStatus(
        "cradle-down-longan", "down", "running", "http://central:5984/cradle_submissions",
        "http://laptop:5984/cradle_submissions", {"counties": "450123"}, docs_written=12,
    )  # fmt: skip
    theirs = ReplicationStatus(
        "cradle-up-mashan", "up", "crashing", "http://mashan:5984/cradle_submissions",
        "http://central:5984/cradle_submissions", {"townships": "450124101"}, error="refused",
    )  # fmt: skip
    monkeypatch.setattr(replicate, "status", lambda client: [mine, theirs])
    page = signed_in("sup").get("/dashboard/sync/").content.decode()
    table = page.split('id="replication-table"')[1].split("</table>")[0]
    assert "http://laptop:5984/cradle_submissions" in table and ">12<" in table
    assert "mashan" not in table  # another supervisor's replica
    other = signed_in("other_sup").get("/dashboard/sync/").content.decode()
    assert "mashan" in other and "refused" in other and "laptop" not in other
