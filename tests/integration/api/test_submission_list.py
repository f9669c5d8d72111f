"""`/api/submissions/` and `/api/quarantine/` at province scale: stable order, keyset pages,
a count of the whole filtered set, no CouchDB scan on any page, and ids outside the
caller's area answered exactly like missing ones."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from server.core.couch import cradle_db
from server.core.local import local_state
from sync.listing import SUBMISSION_LISTING, Cursor
from tests.integration.openrosa.conftest import Collect, immunization
from tests.support.scanguard import no_scans

pytestmark = pytest.mark.django_db

#: id number, form, township, day of November 2026 it was collected (09:00 local time)
SEED = [
    (1, "immunization", "450123101", 1),
    (2, "nutrition_pack", "450123101", 2),
    (3, "immunization", "450123102", 3),
    (4, "newborn_visit", "450123103", 3),  # collected with 3: the larger id is listed first
    (5, "immunization", "450124101", 4),
    (6, "immunization", "450123101", 5),
    (7, "nutrition_pack", "450124102", 6),
    (8, "immunization", "450123104", 7),
    (9, "newborn_visit", "450123101", 8),
    (10, "immunization", "450124101", 8),
    (11, "immunization", "450123105", 9),
    (12, "nutrition_pack", "450123102", 10),
]


def S(*numbers: int) -> list[str]:
    return [f"uuid:5eed0000-0000-4000-8000-{n:012d}" for n in numbers]


COUNTY_A = S(12, 11, 9, 8, 6, 4, 3, 2, 1)  # the supervisor of 450123, newest first
EVERYONE = S(12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)


def _client(username: str) -> APIClient:
    client = APIClient()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _ids(body: dict) -> list[str]:
    return [r["id"] for r in body["results"]]


@pytest.fixture
def seeded(server, users) -> None:
    docs = [
        {
            "_id": S(n)[0],
            "type": "submission",
            "form_id": form,
            "form_version": "2026112801",
            "instance_id": S(n)[0],
            "county_code": township[:6],
            "township_code": township,
            "child_id": f"{township[:6]}2025050100{n:02d}",
            "collected_at": f"2026-11-{day:02d}T09:00:00.000+08:00",
            "received_at": f"2026-11-{day:02d}T03:00:00.000Z",
            "deleted": False,
            "data": {"child_name": "梁宇", "township": township},
        }
        for n, form, township, day in SEED
    ]
    assert all(r.ok for r in cradle_db("submissions").bulk_docs(docs))


@pytest.mark.parametrize(
    ("role", "expected", "immunization"),
    [("sup", COUNTY_A, S(11, 8, 6, 3, 1)), ("analyst", EVERYONE, S(11, 10, 8, 6, 5, 3, 1))],
)
def test_pages_and_count_read_couchdb_by_key_only(seeded, role, expected, immunization) -> None:
    client = _client(role)
    with no_scans() as log:
        first = client.get("/api/submissions/?limit=4").json()
    assert (first["count"], _ids(first), first["previous"]) == (len(expected), expected[:4], None)
    assert log.kinds() == ["_changes", "_bulk_get"]  # the feed since last time, then by key

    with no_scans():
        second = client.get(first["next"]).json()
    assert (second["count"], _ids(second)) == (len(expected), expected[4:8])
    with no_scans():
        counted = client.get("/api/submissions/?form=immunization&limit=2").json()
    assert (counted["count"], _ids(counted)) == (len(immunization), immunization[:2])

    back = client.get(second["previous"]).json()
    assert (_ids(back), back["previous"]) == (expected[:4], None)
    walked, url = [], "/api/submissions/?limit=4"
    while url:
        page = client.get(url).json()
        walked += _ids(page)
        url = page["next"]
    assert walked == expected


def test_filters_within_the_scope(seeded) -> None:
    sup, analyst = _client("sup"), _client("analyst")
    cases = [
        (sup, "collected_from=2026-11-03&collected_to=2026-11-05", S(6, 4, 3)),
        (sup, "township=450123101", S(9, 6, 2, 1)),
        (sup, "township=450124101", []),  # outside the supervisor's area
        (sup, "county=450124", []),
        (sup, "form=newborn_visit&county=450123", S(9, 4)),
        (analyst, "county=450124", S(10, 7, 5)),
        (sup, "child_id=450123202505010009", S(9)),
        (analyst, "form=nutrition_pack&collected_to=2026-11-06", S(7, 2)),
        (_client("other_sup"), "", S(10, 7, 5)),
    ]
    for client, query, ids in cases:
        body = client.get(f"/api/submissions/?{query}").json()
        assert (body["count"], _ids(body), body["next"]) == (len(ids), ids, None), query


def test_names_only_for_those_who_may_see_them(seeded) -> None:
    sup = _client("sup").get("/api/submissions/?limit=1").json()["results"][0]
    analyst = _client("analyst").get("/api/submissions/?limit=1").json()["results"][0]
    assert sup["data"]["child_name"] == "梁宇"
    assert analyst["id"] == sup["id"] and "child_name" not in analyst["data"]


def test_analysts_cannot_ask_whether_an_id_number_is_registered(seeded) -> None:
    refused = _client("analyst").get("/api/submissions/?child_id=450124202505010010")
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "`child_id` is personal data: your role sees children by `child_key` only."
    )


def test_offset_and_tampered_cursors_are_refused_clearly(seeded) -> None:
    client = _client("sup")
    offset = client.get("/api/submissions/?offset=50")
    assert offset.status_code == 400
    assert offset.json()["error"] == "invalid_query"
    assert "cursor" in offset.json()["message"]
    made_up = Cursor("2026-11-05T09:00:00.000+08:00", S(6)[0]).encode()
    for bad in ("nonsense", made_up[:-2] + "!!", "x" * 700, made_up[1:], ""):
        response = client.get(f"/api/submissions/?cursor={bad}")
        assert response.status_code == 400, bad
        assert response.json()["error"] == "invalid_query"
    # a cursor is only a position: a well-formed one is a page after that key
    assert _ids(client.get(f"/api/submissions/?cursor={made_up}").json()) == S(4, 3, 2, 1)
    assert client.get("/api/quarantine/?offset=0").json()["error"] == "invalid_query"


def test_what_was_just_written_is_listed_by_the_next_request(seeded, built_forms) -> None:
    client = _client("sup")
    assert client.get("/api/submissions/?limit=2").json()["count"] == 9
    new = "uuid:5eed0000-0000-4000-8000-999999999999"
    xml = immunization(built_forms, new, end="2026-11-30T10:00:00.000+08:00")
    assert Collect("worker").submit(xml).status_code == 201
    after = client.get("/api/submissions/?limit=2").json()
    assert (after["count"], _ids(after)) == (10, [new, S(12)[0]])

    db = cradle_db("submissions")
    db.delete_doc(new, db.get(new)["_rev"])
    gone = client.get("/api/submissions/?limit=2").json()
    assert (gone["count"], _ids(gone)) == (9, S(12, 11))


def test_a_list_answers_from_committed_state_while_another_process_refreshes(
    seeded, monkeypatch
) -> None:
    from server.submissions import selectors

    client = _client("sup")
    assert client.get("/api/submissions/?limit=1").json()["count"] == 9
    cradle_db("submissions").put({**cradle_db("submissions").get(S(12)[0]), "form_id": "x"})
    monkeypatch.setattr(selectors, "LISTING_BUDGET", 0.05)
    with local_state("submissions", SUBMISSION_LISTING)._refresh_lock(None):
        held = client.get("/api/submissions/?form=nutrition_pack")
    assert held["X-Cradle-Listing"] == "partial"
    assert held.json()["count"] == 2  # as committed: the edit is not applied yet
    fresh = client.get("/api/submissions/?form=nutrition_pack")
    assert (fresh.json()["count"], fresh.has_header("X-Cradle-Listing")) == (1, False)


def test_ids_outside_the_area_are_answered_like_missing_ones(seeded) -> None:
    client = _client("other_sup")
    outside = client.get(f"/api/submissions/{S(1)[0]}")
    missing = client.get("/api/submissions/uuid:no-such-id")
    assert (outside.status_code, outside.json()) == (404, missing.json())
    assert _client("sup").get(f"/api/submissions/{S(1)[0]}").status_code == 200


# -- the quarantine --------------------------------------------------------------------


def held(doc_id: str, received_at: str, township: str | None, county: str | None) -> dict:
    return {
        "_id": doc_id,
        "type": "quarantine",
        "status": "open",
        "reasons": [{"code": "unknown_township"}],
        "received_at": received_at,
        "source": "collect",
        "form_id": "immunization",
        "township_code": township,
        "county_code": county,
    }


@pytest.fixture
def quarantined(server, users, settings) -> None:
    settings.TIME_ZONE = "Asia/Shanghai"
    docs = [
        held("q-a1", "2026-11-01T15:59:59.000Z", "450123101", "450123"),  # 1 Nov, 23:59 here
        held("q-a2", "2026-11-01T16:00:00.000Z", None, "450123"),  # 2 Nov 00:00; unknown township
        held("q-a3", "2026-11-02T03:00:00.000Z", "450123102", "450123"),
        held("q-b1", "2026-11-02T04:00:00.000Z", "450124101", "450124"),
        held("q-n1", "2026-11-03T00:00:00.000Z", None, None),  # nothing known: admins only
    ]
    assert all(r.ok for r in cradle_db("quarantine").bulk_docs(docs))
    get_user_model().objects.create_superuser("root", password="root-pass-2026")


def test_quarantine_pages_by_receipt_in_the_area_without_scans(quarantined) -> None:
    sup = _client("sup")
    with no_scans():
        first = sup.get("/api/quarantine/?limit=2").json()
    assert (first["count"], _ids(first), first["previous"]) == (3, ["q-a3", "q-a2"], None)
    with no_scans():
        second = sup.get(first["next"]).json()
    assert (_ids(second), second["next"]) == (["q-a1"], None)
    assert second["results"][0]["reasons"] == [{"code": "unknown_township"}]
    with no_scans():
        day = sup.get("/api/quarantine/?collected_from=2026-11-02&collected_to=2026-11-02").json()
    assert (day["count"], _ids(day)) == (2, ["q-a3", "q-a2"])  # days of receipt, local time
    assert _ids(_client("other_sup").get("/api/quarantine/").json()) == ["q-b1"]
    everything = _client("root").get("/api/quarantine/").json()
    assert _ids(everything) == ["q-n1", "q-b1", "q-a3", "q-a2", "q-a1"]


def test_quarantine_ids_outside_the_area_are_answered_like_missing_ones(quarantined) -> None:
    client = _client("other_sup")
    for method, path in (("get", "/api/quarantine/{}"), ("post", "/api/quarantine/{}/reprocess")):
        outside = getattr(client, method)(path.format("q-a1"))
        missing = getattr(client, method)(path.format("q-none"))
        assert (outside.status_code, outside.json()) == (404, missing.json()), path
    assert cradle_db("quarantine").get("q-a1")["status"] == "open"  # nothing was done
    assert _client("sup").get("/api/quarantine/q-a1").status_code == 200


def test_the_schema_describes_cursor_paging() -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    for path in ("/api/submissions/", "/api/quarantine/"):
        operation = schema["paths"][path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"cursor", "limit", "form", "collected_from"} <= names and "offset" not in names
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert sorted(page["properties"]) == ["count", "next", "previous", "results"]


def test_the_quality_page_pages_the_quarantine_by_cursor(server, users) -> None:
    docs = [
        held(f"q-{i:03d}", f"2026-10-01T00:{i:02d}:00.000Z", "450123101", "450123")
        for i in range(53)
    ]
    assert all(r.ok for r in cradle_db("quarantine").bulk_docs(docs))
    client = _client("sup")

    def rows(html: str) -> list[str]:
        return re.findall(r'<tr data-quarantine="([^"]+)"', html)

    first = client.get("/dashboard/quality/?period=2026-Q4").content.decode()
    assert rows(first) == [f"q-{i:03d}" for i in range(52, 2, -1)]
    [after] = re.findall(r"cursor=([^#]+)#quarantine", first)
    second = client.get(f"/dashboard/quality/?period=2026-Q4&cursor={after}").content.decode()
    assert rows(second) == ["q-002", "q-001", "q-000"]
    [before] = re.findall(r"cursor=([^#]+)#quarantine", second)
    back = client.get(f"/dashboard/quality/?period=2026-Q4&cursor={before}").content.decode()
    assert rows(back) == rows(first)
    edited = client.get("/dashboard/quality/?period=2026-Q4&cursor=nonsense").content.decode()
    assert rows(edited) == rows(first)  # a broken link shows the first page


def test_both_listings_refresh_for_the_command_line(seeded) -> None:
    from server.submissions.selectors import refresh_listings

    seen: list[tuple[str, int, int | None]] = []
    done = refresh_listings(rebuild=True, progress=lambda *step: seen.append(step))
    assert {name: r.rows for name, r in done.items()} == {
        "submission_listing": 12,
        "quarantine_listing": 0,
    }
    assert all(r.caught_up and r.full for r in done.values())
    # (the total is known where the server reports `pending`: Apache CouchDB does)
    assert [step[:2] for step in seen[-2:]] == [
        ("submission_listing", 12),
        ("quarantine_listing", 0),
    ]
    assert {name: r.rows for name, r in refresh_listings().items()} == {
        "submission_listing": 0,
        "quarantine_listing": 0,
    }
