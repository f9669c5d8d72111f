"""Due lists from the children register: kept from the real `_changes` feed, equal to a
rebuild, read without a CouchDB scan, and a clear 503 while it is first built."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from analytics import register
from analytics.register.projection import RegisterProjection
from server.due.register import refresh_register, register_state
from sync.follow import FeedState, transaction
from tests.integration.due.seeded import ON, TOWNSHIP, WORK, A, B, C, seed
from tests.support.scanguard import no_scans
from tests.unit.analytics.factories import TOWN_A, TOWN_B, TOWN_C, immunization, newborn, nutrition

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded(server, users, built_forms: Path) -> Path:
    seed(built_forms)
    return built_forms


def _api(username: str) -> APIClient:
    client = APIClient()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _content(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    return {
        t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)  # noqa: S608
        for t in register.CONTENT_TABLES
    }


def _row(child: tuple, next_dose: str, next_due: str) -> dict:
    due, overdue, hungry = WORK[child[0]]
    return {
        "child_id": child[0],
        "name": child[1],
        "sex": child[2],
        "dob": child[3],
        "village": child[4],
        "doses_overdue": overdue.split(),
        "doses_due": due.split(),
        "last_visit": child[5],
        "nutrition_overdue": hungry,
        "next_dose": next_dose,
        "next_due_date": next_due,
    }


def test_due_list_and_page_read_the_register_without_a_scan(seeded: Path) -> None:
    with no_scans() as log:
        response = _api("sup").get("/api/due/", {"township": TOWNSHIP, "on": ON})
    assert response.status_code == 200, response.content
    assert set(log.kinds()) == {"_changes"}  # the register catching up, nothing else
    body = response.json()
    assert body["counts"] == {
        "children": 3,
        "listed_children": 3,
        "overdue_children": 2,
        "due_children": 3,
        "nutrition_overdue_children": 2,
    }
    assert body["children"] == [
        _row(A, "hepb1", "2025-05-01"),
        _row(C, "hepb2", "2026-04-10"),
        _row(B, "hepb2", "2026-11-20"),
    ]
    client = APIClient()
    client.force_login(get_user_model().objects.get(username="worker"))
    with no_scans() as log:
        page = client.get("/dashboard/due/", {"township": TOWNSHIP, "on": ON})
    assert page.status_code == 200
    assert set(log.kinds()) == {"_changes"}
    text = page.content.decode()
    positions = [text.index(f"<td>{child[0]}</td><td>{child[1]}</td>") for child in (A, C, B)]
    assert positions == sorted(positions)


def test_due_list_is_503_while_the_register_is_first_built(seeded: Path) -> None:
    assert _api("sup").get("/api/due/", {"township": TOWNSHIP, "on": ON}).status_code == 200
    state = register_state()
    partial = state.refresh(rebuild=True, batch=2, budget=0)  # another process's rebuild
    assert not partial.caught_up
    assert not register.is_complete(state.connection())
    with state._refresh_lock(None):
        refused = _api("sup").get("/api/due/", {"township": TOWNSHIP, "on": ON})
        client = APIClient()
        client.force_login(get_user_model().objects.get(username="sup"))
        page = client.get("/dashboard/due/", {"township": TOWNSHIP, "on": ON})
    assert refused.status_code == 503 and refused["Retry-After"] == "60"
    assert refused.json()["error"] == "register_not_ready"
    assert page.status_code == 503 and page["Retry-After"] == "60"
    assert "register is being built" in page.content.decode()

    seen: list[tuple[int, int | None]] = []
    result = refresh_register(progress=lambda done, total: seen.append((done, total)))
    assert result.caught_up and seen[-1][0] == result.rows == 5 - partial.rows
    assert register.is_complete(state.connection())
    again = _api("sup").get("/api/due/", {"township": TOWNSHIP, "on": ON})
    assert again.status_code == 200 and again.json()["counts"]["children"] == 3


def _put(db, doc: dict, **changes) -> dict:
    stored = db.get(doc["_id"])
    new = {**copy.deepcopy(stored), **changes}
    new["_rev"] = db.put(new)
    return new


def test_the_register_follows_the_feed_and_equals_a_rebuild(couch_db, tmp_path: Path) -> None:
    docs = [
        newborn("R1", "2026-01-05", dob="2026-01-02", township=TOWN_A),
        immunization("R1", "2026-02-05", ["hepb2"], dob="2026-01-02", township=TOWN_A),
        immunization("R2", "2026-02-05", ["bcg", "hepb1"], dob="2026-02-01", township=TOWN_B),
        immunization("R2", "2026-03-05", ["hepb2"], dob="2026-02-01", township=TOWN_B),
        nutrition("R3", "2026-07-01", dob="2025-12-01", township=TOWN_C),
        immunization("R3", "2026-06-01", ["hepb3"], dob="2025-12-01", township=TOWN_C),
        immunization("R4", "2026-06-01", ["bcg"], dob="2026-05-30", township=TOWN_C),
    ]
    couch_db.bulk_docs(docs)
    state = FeedState(tmp_path / "incremental", couch_db, RegisterProjection())
    assert state.refresh(batch=3).caught_up

    _put(couch_db, docs[1], township_code=TOWN_B, county_code=TOWN_B[:6])  # R1 moves
    changed = _put(couch_db, docs[3], data={**docs[3]["data"], "child_dob": "2026-01-31"})
    _put(couch_db, changed, child_id="R5")  # changed twice: now another child
    _put(couch_db, docs[4], deleted=True)  # soft-deleted in Central
    couch_db.delete_doc(docs[6]["_id"], couch_db.get(docs[6]["_id"])["_rev"])  # R4 removed
    couch_db.bulk_docs([immunization("R6", "2026-08-01", ["bcg"], township=TOWN_A)])
    assert state.refresh(batch=2).caught_up
    conn = state.connection()
    # the feed read again from the start: every change repeated, the register unmoved
    before = _content(conn)
    with transaction(conn):
        state.projection.apply(conn, couch_db.changes(since=0, include_docs=True).results)
    assert _content(conn) == before

    rebuilt = FeedState(tmp_path / "rebuilt", couch_db, RegisterProjection())
    assert rebuilt.refresh(rebuild=True).caught_up
    assert _content(conn) == _content(rebuilt.connection())
    children = dict(conn.execute("SELECT child_id, township FROM children").fetchall())
    assert children == {"R1": TOWN_B, "R2": TOWN_B, "R3": TOWN_C, "R5": TOWN_B, "R6": TOWN_A}
    r3 = conn.execute("SELECT packs, doses FROM children WHERE child_id = 'R3'").fetchone()
    assert r3 == ("[]", '{"hepb3":"2026-06-01"}')  # the pack's submission was deleted


def test_a_date_outside_the_programme_years_is_a_clear_400(server, users) -> None:
    refused = _api("sup").get("/api/due/", {"township": TOWNSHIP, "on": "1600-01-01"})
    assert refused.status_code == 400
    assert refused.json()["detail"] == {"on": ["must be between 2000-01-01 and 2100-12-31"]}
