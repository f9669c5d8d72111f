"""Due lists with real users, submissions posted as Collect posts them, and real CouchDB."""

from __future__ import annotations

import csv
import hashlib
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from openpyxl import load_workbook
from rest_framework.test import APIClient

from tests.integration.openrosa.conftest import (
    OTHER_COUNTY_TOWNSHIP,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    Collect,
    immunization,
)

pytestmark = pytest.mark.django_db

ON = "2026-11-28"
NS = {"m": "http://openrosa.org/xforms/xformsManifest"}

# child id, name, sex, dob, village, vaccination date, doses, township, submitter
A = ("450123202505010001", "梁宇", "male", "2025-05-01", "弄岗村", "2025-11-03", "hepb3 mpsva1")
B = ("450123202610200002", "韦小玲", "female", "2026-10-20", "那桐村", "2026-10-21", "bcg hepb1")
C = ("450123202603100003", "黄明", "male", "2026-03-10", "弄岗村", "2026-03-11", "bcg hepb1")
D = ("450123202601050004", "农丽", "female", "2026-01-05", "宁雅村", "2026-01-06", "bcg hepb1")
E = ("450124202602020005", "蓝天", "male", "2026-02-02", "坪峒村", "2026-02-03", "bcg hepb1")


def _visit(built: Path, child: tuple, township: str, county: str = "450123", **changes: str):
    child_id, name, sex, dob, village, day, doses = child
    values = {
        "county": county,
        "township": township,
        "village": village,
        "child_id": child_id,
        "child_name": name,
        "child_sex": sex,
        "child_dob": dob,
        "vaccination_date": day,
        "doses_given": doses,
        **changes,
    }
    values.setdefault("end", f"{values['vaccination_date']}T10:00:00.000+08:00")
    return immunization(built, **values)


@pytest.fixture(autouse=True)
def _fast(settings, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path  # the analytics cache of this test
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def visits(server, users, built_forms: Path) -> Path:
    worker, sup, other = Collect("worker"), Collect("sup"), Collect("other_sup")
    for child in (A, B, C):
        assert worker.submit(_visit(built_forms, child, TOWNSHIP)).status_code == 201
    assert sup.submit(_visit(built_forms, D, OTHER_TOWNSHIP)).status_code == 201
    posted = other.submit(_visit(built_forms, E, OTHER_COUNTY_TOWNSHIP, county="450124"))
    assert posted.status_code == 201
    return built_forms


def _api(username: str) -> APIClient:
    client = APIClient()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_supervisor_gets_names_sorted_by_village_then_birth(visits: Path) -> None:
    response = _api("sup").get("/api/due/", {"township": TOWNSHIP, "on": ON})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["counts"] == {
        "children": 3,
        "listed_children": 3,
        "overdue_children": 2,
        "due_children": 3,
        "nutrition_overdue_children": 2,
    }
    rows = body["children"]
    assert [(r["village"], r["child_id"]) for r in rows] == [
        ("弄岗村", A[0]),  # 弄 sorts before 那 (code point order)
        ("弄岗村", C[0]),
        ("那桐村", B[0]),
    ]
    a = rows[0]
    assert (a["name"], a["sex"], a["dob"], a["last_visit"]) == (
        "梁宇",
        "male",
        "2025-05-01",
        "2025-11-03",
    )
    # Born 2025-05-01, seen once (hepb3 and mpsva1) on 2025-11-03; on 2026-11-28 the
    # 18-month doses (due 2026-11-01, window to 2026-11-29) are due, the rest overdue.
    assert a["doses_due"] == ["dtap4", "mmr2", "hepa1"]
    assert a["doses_overdue"] == [
        "hepb1", "bcg", "hepb2", "ipv1", "ipv2", "dtap1", "bopv1", "dtap2", "dtap3",
        "mmr1", "jel1", "mpsva2",
    ]  # fmt: skip
    assert a["nutrition_overdue"] is True
    b = rows[2]  # born 2026-10-20: hepb2 due 2026-11-20
    assert (b["doses_overdue"], b["doses_due"], b["next_dose"]) == ([], ["hepb2"], "hepb2")
    assert b["nutrition_overdue"] is False

    worker = _api("worker").get("/api/due/", {"township": TOWNSHIP, "on": ON})
    assert worker.status_code == 200 and worker.json()["children"] == rows


def test_outside_the_area_is_403_and_analysts_get_counts_only(visits: Path) -> None:
    for user, township in (("other_sup", TOWNSHIP), ("worker", OTHER_TOWNSHIP)):
        refused = _api(user).get("/api/due/", {"township": township, "on": ON})
        assert refused.status_code == 403, (user, township)
        assert refused["Content-Type"] == "application/json"
        assert "child_id" not in refused.content.decode()
    for fmt in ("json", "csv", "xlsx"):
        response = _api("analyst").get("/api/due/", {"township": TOWNSHIP, "on": ON, "format": fmt})
        assert response.status_code == 200, fmt
        text = response.content.decode("utf-8", "replace")
        for child in (A, B, C):
            assert child[0] not in text and child[1] not in text
    body = _api("analyst").get("/api/due/", {"township": TOWNSHIP, "on": ON}).json()
    assert "children" not in body
    assert body["counts"]["overdue_children"] == 2
    assert {d["dose"]: (d["due"], d["overdue"]) for d in body["doses"]}["hepb2"] == (1, 2)
    assert _api("analyst").get("/api/due/", {"township": "450123999"}).status_code == 404
    assert _api("sup").get("/api/due/", {"township": "12"}).status_code == 400
    assert APIClient().get("/api/due/", {"township": TOWNSHIP}).status_code in (401, 403)


def test_csv_and_printable_xlsx_one_sheet_per_village(visits: Path) -> None:
    client = _api("sup")
    response = client.get("/api/due/", {"township": TOWNSHIP, "on": ON, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="due-{TOWNSHIP}-{ON}.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:8] == [
        "儿童编号 Child ID",
        "姓名 Name",
        "性别 Sex",
        "出生日期 Date of birth",
        "村 Village",
        "逾期疫苗 Doses overdue",
        "应种疫苗 Doses due",
        "最近随访 Last visit",
    ]
    assert [r[0] for r in rows[1:]] == [A[0], C[0], B[0]]
    assert rows[3][:5] == [B[0], B[1], "female", "2026-10-20", "那桐村"]
    assert rows[3][6:8] == ["hepb2", "2026-10-21"]

    response = client.get("/api/due/", {"township": TOWNSHIP, "on": ON, "format": "xlsx"})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["弄岗村", "那桐村"]
    first = book["弄岗村"]
    values = [[c.value for c in row] for row in first.iter_rows(min_row=3)]
    assert [(v[0], v[1], v[3]) for v in values] == [(A[0], A[1], A[3]), (C[0], C[1], C[3])]
    assert first.print_title_rows == "$1:$2"
    assert first.page_setup.orientation == "landscape"


def _manifest(collect: Collect, form_id: str = "immunization") -> dict[str, tuple[str, str]]:
    response = collect.request("GET", f"/forms/{form_id}/manifest")
    assert response.status_code == 200, response.content
    root = ET.fromstring(response.content)  # noqa: S314 - our own server's answer
    return {
        f.findtext("m:filename", namespaces=NS): (
            f.findtext("m:hash", namespaces=NS),
            f.findtext("m:downloadUrl", namespaces=NS),
        )
        for f in root.findall("m:mediaFile", NS)
    }


def _download(collect: Collect, url: str) -> bytes:
    response = collect.request("GET", url.removeprefix("http://testserver"))
    assert response.status_code == 200
    content = response.content if not response.streaming else b"".join(response.streaming_content)
    return content


def test_worker_manifest_lists_their_children_and_its_hash_follows_the_content(
    visits: Path,
) -> None:
    worker = Collect("worker")
    files = _manifest(worker)
    assert sorted(files) == ["children.csv", "counties.csv", "townships.csv"]
    hash_, url = files["children.csv"]
    assert url == "http://testserver/forms/immunization/media/children.csv"
    content = _download(worker, url)
    assert hash_ == "md5:" + hashlib.md5(content, usedforsecurity=False).hexdigest()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert [r["name"] for r in rows] == [A[0], C[0], B[0]]  # village, then child id
    assert rows[2] == {
        "name": B[0],
        "label": f"{B[0]} {B[1]}",
        "township": TOWNSHIP,
        "village": "那桐村",
        "child_name": B[1],
        "child_sex": "female",
        "child_dob": "2026-10-20",
        "due": "hepb2",
        "overdue": "",
        "doses": "应种 due: 乙肝疫苗 第2剂 (hepb2)",
    }
    assert _manifest(worker, "nutrition_pack")["children.csv"][0] == hash_
    assert "children.csv" not in _manifest(worker, "newborn_visit")

    # Nothing changed: same hash. A visit in another township: still the same.
    assert _manifest(worker)["children.csv"][0] == hash_
    other = _visit(visits, D, OTHER_TOWNSHIP, vaccination_date="2026-02-06", doses_given="hepb2")
    assert Collect("sup").submit(other).status_code == 201
    assert _manifest(worker)["children.csv"][0] == hash_

    # B gets hepb2: the list changes, and so does its hash, and the file served.
    given = _visit(visits, B, TOWNSHIP, vaccination_date="2026-11-25", doses_given="hepb2")
    assert worker.submit(given).status_code == 201
    changed, _ = _manifest(worker)["children.csv"]
    assert changed != hash_
    content = _download(worker, url)
    assert changed == "md5:" + hashlib.md5(content, usedforsecurity=False).hexdigest()
    row = next(r for r in csv.DictReader(io.StringIO(content.decode())) if r["name"] == B[0])
    assert (row["due"], row["overdue"]) == ("", "")


def test_dashboard_page_lists_the_children(visits: Path) -> None:
    client = APIClient()
    client.force_login(get_user_model().objects.get(username="sup"))
    page = client.get("/dashboard/due/", {"township": TOWNSHIP, "on": ON})
    assert page.status_code == 200
    text = page.content.decode()
    assert A[1] in text and B[0] in text and "format=xlsx" in text
    assert client.get("/dashboard/due/", {"township": OTHER_COUNTY_TOWNSHIP}).status_code == 403
    analyst = APIClient()
    analyst.force_login(get_user_model().objects.get(username="analyst"))
    counts = analyst.get("/dashboard/due/", {"township": TOWNSHIP, "on": ON})
    assert counts.status_code == 200 and A[1] not in counts.content.decode()


def test_coverage_tables_count_the_overdue_children(visits: Path) -> None:
    """The coverage table carries, per township, the children with an overdue dose at the
    period's end: the same children the due list shows; counties and the programme sum."""
    from analytics import columns as AC
    from analytics.service import coverage_report
    from server.accounts.scope import scope_for

    analyst = get_user_model().objects.get(username="analyst")
    table = coverage_report(
        period="2026-11", indicators=["imm_hepb3"], scope=scope_for(analyst)
    ).table
    end = "2026-11-30"
    expected = {}
    for township in (TOWNSHIP, OTHER_TOWNSHIP, OTHER_COUNTY_TOWNSHIP):
        rows = _api("admin_root").get("/api/due/", {"township": township, "on": end}).json()
        expected[township] = sum(1 for r in rows["children"] if r["doses_overdue"])
    towns = table.loc[table[AC.LEVEL] == "township"].set_index(AC.TOWNSHIP)[AC.OVERDUE_CHILDREN]
    assert {t: int(towns[t]) for t in expected} == expected
    assert sum(expected.values()) > 0
    programme = table.loc[table[AC.LEVEL] == "programme", AC.OVERDUE_CHILDREN]
    assert programme.tolist() == [int(towns.sum())]


@pytest.fixture(autouse=True)
def _root(db) -> None:
    get_user_model().objects.create_superuser("admin_root", password="root-pass-2026")
