"""The coverage API with real users, real CouchDB and the analytics cache in a temp dir."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.test import Client
from openpyxl import load_workbook

from server.accounts.services import user_create
from sync.couch import CouchClient
from sync.schema import db_name
from tests.integration.analytics.conftest import put_all
from tests.unit.analytics.dataset import small_dataset

pytestmark = [pytest.mark.urls("tests.integration.analytics.urls"), pytest.mark.django_db]

COUNTY = "450123"
TOWNSHIP = "450123102"


@pytest.fixture
def api(cradle_couch: str, couch: CouchClient, settings, tmp_path: Path) -> dict[str, Client]:
    settings.DATA_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests
    submissions, quarantine = small_dataset()
    put_all(couch.db(db_name(cradle_couch, "submissions")), submissions)
    put_all(couch.db(db_name(cradle_couch, "quarantine")), quarantine)
    clients = {}
    for name, role, areas in (
        ("ana", "analyst", []),
        ("sup", "supervisor", [COUNTY]),
        ("town", "supervisor", [TOWNSHIP]),
        ("hw", "health_worker", [TOWNSHIP]),
    ):
        user = user_create(username=name, password="coverage-pass-2026", role=role, areas=areas)
        client = Client()
        client.force_login(user)
        clients[name] = client
    clients["anonymous"] = Client()
    return clients


def test_json_for_an_analyst_covers_every_township(api: dict[str, Client]) -> None:
    response = api["ana"].get(
        "/api/coverage/", {"period": "2026-Q3", "indicator": "imm_hepb3,stunting"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == {"label": "2026-Q3", "start": "2026-07-01", "end": "2026-09-30"}
    assert [i["indicator"] for i in body["indicators"]] == ["imm_hepb3", "stunting"]
    towns = {r["township_code"] for r in body["results"] if r["level"] == "township"}
    assert len(towns) == 255
    assert body["quality"] and "accepted" in body["quality"][0]
    text = response.content.decode()
    assert "child_id" not in text and "王小明" not in text and "mother_name" not in text


def test_supervisors_see_their_area_only(api: dict[str, Client]) -> None:
    response = api["sup"].get("/api/coverage/", {"period": "2026-Q3", "indicator": "imm_hepb3"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {r["county_code"] for r in rows if r["level"] != "programme"} == {COUNTY}
    one = api["town"].get("/api/coverage/", {"period": "2026-Q3", "indicator": "imm_hepb3"}).json()
    assert {r["township_code"] for r in one["results"] if r["level"] == "township"} == {TOWNSHIP}
    outside = api["sup"].get("/api/coverage/", {"period": "2026-Q3", "county": "450124"})
    assert outside.status_code == 403
    assert outside["Content-Type"] == "application/json"


def test_health_workers_and_anonymous_users_are_refused(api: dict[str, Client]) -> None:
    assert api["hw"].get("/api/coverage/", {"period": "2026-Q3"}).status_code == 403
    assert (
        api["hw"]
        .get("/api/coverage/map.png", {"period": "2026-Q3", "indicator": "imm_bcg"})
        .status_code
        == 403
    )
    assert api["anonymous"].get("/api/coverage/", {"period": "2026-Q3"}).status_code in (401, 403)


def test_csv_and_xlsx_by_format_or_accept(api: dict[str, Client]) -> None:
    csv = api["sup"].get("/api/coverage/", {"period": "2026-Q3", "format": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbflevel,county_code,")
    assert 'filename="coverage-2026-Q3.csv"' in csv["Content-Disposition"]
    by_accept = api["sup"].get("/api/coverage/", {"period": "2026-Q3"}, HTTP_ACCEPT="text/csv")
    assert by_accept.content == csv.content
    xlsx = api["sup"].get(
        "/api/coverage/", {"period": "2026-Q3", "format": "xlsx", "indicator": "anaemia"}
    )
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames == [
        "生长与贫血 Growth",
        "数据质量 Data quality",
        "明细 Detail",
        "定义 Definitions",
    ]


def test_map_and_geojson(api: dict[str, Client]) -> None:
    png = api["sup"].get("/api/coverage/map.png", {"period": "2026-Q3", "indicator": "imm_hepb3"})
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n" and len(png.content) > 20_000
    geo = api["sup"].get("/api/coverage/geojson", {"period": "2026-Q3", "indicator": "imm_hepb3"})
    assert geo.status_code == 200 and geo["Content-Type"].startswith("application/geo+json")
    features = json.loads(geo.content)["features"]
    assert {f["properties"]["county_code"] for f in features} == {COUNTY}
    assert "imm_hepb3_rate" in features[0]["properties"]


def test_bad_queries_are_clear_json_errors(api: dict[str, Client]) -> None:
    bad_period = api["ana"].get("/api/coverage/", {"period": "2026-Q9", "format": "csv"})
    assert bad_period.status_code == 400 and bad_period["Content-Type"] == "application/json"
    assert "period '2026-Q9' not understood" in bad_period.json()["message"]
    unknown = api["ana"].get("/api/coverage/", {"period": "2026-Q3", "indicator": "imm_xyz"})
    assert unknown.status_code == 400 and "unknown indicator" in unknown.json()["message"]
    missing = api["ana"].get("/api/coverage/map.png", {"period": "2026-Q3"})
    assert missing.status_code == 400
