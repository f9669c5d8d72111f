"""`GET /api/health`, the API schema and the error format."""

from __future__ import annotations

import pytest
from django.test import Client

from server.core.couch import reset_couch


@pytest.mark.django_db
def test_health_reports_couchdb_version_and_database(cradle_couch: str, couch) -> None:
    response = Client().get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["couchdb"] == {
        "ok": True,
        "version": couch.server_info()["version"],
        "vendor": (couch.server_info().get("vendor") or {}).get("name"),
    }
    assert body["database"] == {"ok": True, "vendor": "sqlite"}


@pytest.mark.django_db
def test_health_is_503_when_couchdb_is_down(settings) -> None:
    settings.COUCHDB = {**settings.COUCHDB, "URL": "http://127.0.0.1:9", "RETRIES": 0, "TIMEOUT": 2}
    reset_couch()
    try:
        response = Client().get("/api/health")
    finally:
        reset_couch()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["couchdb"] == {"ok": False, "error": "ConnectError"}
    assert "password" not in response.content.decode().lower()


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/health" in schema.json()["paths"]
    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


@pytest.mark.django_db
def test_api_errors_use_one_json_shape() -> None:
    response = Client().post("/api/health", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 405
    assert response.json() == {
        "error": "method_not_allowed",
        "message": 'Method "POST" not allowed.',
        "detail": None,
    }
