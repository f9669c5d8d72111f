"""Shared fixtures. Integration tests need the server that `make test` starts (COUCHDB_URL);
without it they fail loudly rather than skip, so a broken setup never passes quietly."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.couch import CouchClient, CouchSettings, Database


def couch_settings_from_env() -> CouchSettings:
    url = os.environ.get("COUCHDB_URL")
    if not url:
        pytest.fail(
            "COUCHDB_URL is not set: integration tests need the CouchDB-compatible server "
            "that `make test` starts (or set COUCHDB_URL to an Apache CouchDB 3).",
            pytrace=False,
        )
    return CouchSettings.from_url(
        url,
        username=os.environ.get("COUCHDB_USER", ""),
        password=os.environ.get("COUCHDB_PASSWORD", ""),
        timeout=30,
        retries=3,
    )


@pytest.fixture(scope="session")
def couch() -> Iterator[CouchClient]:
    with CouchClient(couch_settings_from_env()) as client:
        client.session()
        yield client


@pytest.fixture(scope="session")
def built_forms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three forms built once per test session, with their registry media."""
    from forms.build import build_forms

    out = tmp_path_factory.mktemp("forms")
    build_forms(out)
    return out


def unique_name(stem: str = "t") -> str:
    return f"test_{stem}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def couch_db(couch: CouchClient) -> Iterator[Database]:
    """A fresh database for one test, deleted afterwards."""
    db = couch.db(unique_name("db"))
    db.ensure(member_roles=["cradle"], admin_roles=["_admin"])
    yield db
    db.delete()


@pytest.fixture
def cradle_couch(couch: CouchClient, settings, tmp_path: Path) -> Iterator[str]:
    """Point the Django server at its own set of Cradle databases (and its own data
    folder, where the analytics cache lives) for one test."""
    from server.core.couch import reset_couch
    from server.core.local import reset_local_states
    from sync.schema import DATABASES, db_name, ensure_schema

    prefix = unique_name("cradle") + "_"
    settings.COUCHDB = {
        **settings.COUCHDB,
        "URL": couch.settings.url,
        "USER": couch.settings.username,
        "PASSWORD": couch.settings.password,
        "DB_PREFIX": prefix,
    }
    settings.DATA_DIR = tmp_path / "data"
    reset_couch()
    reset_local_states()
    ensure_schema(couch, prefix)
    yield prefix
    from server.core.audit import flush_audit

    flush_audit()  # buffered audit entries belong to this test's databases
    reset_couch()
    reset_local_states()
    for spec in DATABASES:
        couch.db(db_name(prefix, spec.key)).delete()


@pytest.fixture
def server(cradle_couch: str, built_forms: Path, settings, db) -> Iterator[str]:
    """The Django server on fresh Cradle databases and the session's built forms."""
    from server.core.ingest import form_catalog

    settings.FORMS_BUILD_DIR = built_forms
    form_catalog.cache_clear()
    yield cradle_couch
    form_catalog.cache_clear()


@pytest.fixture
def users(db) -> dict[str, str]:
    """A health worker of one township, supervisors in and out of its county, an analyst."""
    from server.accounts.services import user_create
    from tests.integration.openrosa.conftest import COUNTY, PASSWORD, TOWNSHIP

    user_create(username="worker", password=PASSWORD, role="health_worker", areas=[TOWNSHIP])
    user_create(username="sup", password=PASSWORD, role="supervisor", areas=[COUNTY])
    user_create(username="analyst", password=PASSWORD, role="analyst")
    user_create(username="other_sup", password=PASSWORD, role="supervisor", areas=["450124"])
    return {"worker": PASSWORD, "sup": PASSWORD, "analyst": PASSWORD}
