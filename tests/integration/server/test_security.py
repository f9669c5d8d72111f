"""Production refuses unsafe settings; pages carry security headers and CSRF protection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[3]


def _settings_in(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "COUCHDB_PASSWORD")
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "server.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_requires_secrets_and_refuses_debug() -> None:
    no_key = _settings_in({"CRADLE_ENV": "production", "COUCHDB_PASSWORD": "x"})
    assert no_key.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when CRADLE_ENV=production" in no_key.stderr

    no_couch = _settings_in({"CRADLE_ENV": "production", "DJANGO_SECRET_KEY": "k" * 50})
    assert "COUCHDB_PASSWORD must be set when CRADLE_ENV=production" in no_couch.stderr

    debug = _settings_in(
        {
            "CRADLE_ENV": "production",
            "DJANGO_SECRET_KEY": "k" * 50,
            "COUCHDB_PASSWORD": "x",
            "DJANGO_DEBUG": "on",
        }
    )
    assert "DJANGO_DEBUG must be off when CRADLE_ENV=production" in debug.stderr

    ok = _settings_in(
        {"CRADLE_ENV": "production", "DJANGO_SECRET_KEY": "k" * 50, "COUCHDB_PASSWORD": "x"}
    )
    assert ok.stdout.strip() == "started", ok.stderr


@pytest.mark.django_db
def test_pages_carry_security_headers_and_csrf_protection() -> None:
    page = Client().get("/admin/login/")
    assert page.status_code == 200
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"
    forged = Client(enforce_csrf_checks=True).post(
        "/admin/login/", {"username": "a", "password": "b"}
    )
    assert forged.status_code == 403
