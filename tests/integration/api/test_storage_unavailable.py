"""CouchDB out of reach is a 503 with `Retry-After` on pages, the API and OpenRosa, never a
500 or Django's debug page; any other API failure is a JSON 500. Tracebacks go to the log
only (and never with credentials). Against a real closed port, not a mock."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from django.test import Client

from server.core.couch import reset_couch
from tests.integration.dashboard.conftest import signed_in
from tests.integration.openrosa.conftest import Collect, immunization

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.integration.api.probe_urls")]

PAGES = ["/dashboard/coverage/?period=2026-Q3", "/dashboard/quality/?period=2026-Q3", "/probe/page"]
API = ["/api/coverage/?period=2026-Q3", "/api/coverage/geojson?period=2026-Q3", "/api/probe"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def couch_down(server: str, users: dict, settings, tmp_path) -> Iterator[str]:
    """Cradle pointed at a port where nothing listens, with no analytics cache to fall back
    on; the password that must never show is returned."""
    password = settings.COUCHDB["PASSWORD"]
    settings.COUCHDB = {
        **settings.COUCHDB,
        "URL": f"http://127.0.0.1:{_closed_port()}",
        "RETRIES": 0,
        "TIMEOUT": 2,
    }
    settings.DATA_DIR = tmp_path / "no-cache"
    reset_couch()
    yield password
    reset_couch()


def _assert_page(response, *, english: bool = False) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    title = "Cannot show this now" if english else "暂时无法显示"
    assert f"<h1>{title}</h1>" in html
    assert "Traceback" not in html and "CouchDB" not in html and "127.0.0.1" not in html


def _assert_api(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "storage_unavailable",
        "message": "The data store is unavailable; try again shortly.",
        "detail": None,
    }


@pytest.mark.parametrize("debug", [False, True])
def test_pages_answer_503_with_a_short_translated_page(couch_down, settings, debug) -> None:
    settings.DEBUG = debug  # never Django's debug page either
    for path in PAGES:
        _assert_page(signed_in("sup").get(path))
    _assert_page(signed_in("sup", HTTP_ACCEPT_LANGUAGE="en").get(PAGES[0]), english=True)


@pytest.mark.parametrize("debug", [False, True])
def test_the_api_answers_503_json(couch_down, settings, debug) -> None:
    settings.DEBUG = debug
    for path in API:
        _assert_api(signed_in("analyst").get(path))
    # a storage failure is not the asker's bad query (no 400), whatever the format asked
    _assert_api(signed_in("sup").get("/api/coverage/", {"period": "2026-Q3", "format": "csv"}))


@pytest.mark.parametrize("debug", [False, True])
def test_openrosa_answers_503_as_openrosa(couch_down, settings, built_forms, debug) -> None:
    settings.DEBUG = debug
    probe = Client().get("/forms/probe/manifest")
    assert probe.status_code == 503
    assert probe["Retry-After"] == "30"
    assert probe["X-OpenRosa-Version"] == "1.0"
    assert probe["Content-Type"] == "text/xml; charset=utf-8"
    body = probe.content.decode()
    assert '<OpenRosaResponse xmlns="http://openrosa.org/http/response">' in body
    assert "The server cannot reach its data store right now; try again later." in body
    assert "Traceback" not in body
    # the real submission route answers the same way (its own handling), so Collect resends
    sent = Collect("worker").submit(immunization(built_forms))
    assert sent.status_code == 503
    assert sent["X-OpenRosa-Version"] == "1.0" and sent["Retry-After"].isdigit()


def test_the_traceback_goes_to_the_log_without_credentials(couch_down, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        signed_in("analyst").get("/api/probe")
        signed_in("sup").get("/probe/page")
    records = [r for r in caplog.records if r.name == "server.core.middleware"]
    assert [r.getMessage() for r in records] == [
        "storage unavailable on GET /api/probe",
        "storage unavailable on GET /probe/page",
    ]
    assert all(r.exc_info is not None for r in records)
    assert "Traceback" in caplog.text and "CouchUnavailable" in caplog.text
    assert couch_down not in caplog.text


@pytest.mark.parametrize("debug", [False, True])
def test_any_other_api_failure_is_a_json_500(
    server, users, settings, monkeypatch, caplog, debug
) -> None:
    settings.DEBUG = debug

    def broken(**kwargs):
        raise RuntimeError("a bug with a secret in its message")

    monkeypatch.setattr("server.coverage.views.coverage_report", broken)
    with caplog.at_level(logging.ERROR):
        response = signed_in("analyst").get("/api/coverage/", {"period": "2026-Q3"})
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "server_error",
        "message": "Something went wrong on the server; it was logged.",
        "detail": None,
    }
    assert "secret" not in response.content.decode()
    logged = [r for r in caplog.records if r.name == "server.core.middleware"]
    assert [r.getMessage() for r in logged] == ["server error on GET /api/coverage/"]
    assert "RuntimeError: a bug with a secret in its message" in caplog.text
