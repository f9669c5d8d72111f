"""Cradle run as in production (gunicorn, several workers) with users made by the CLI:
chunked uploads, concurrent identical posts, and CouchDB going away and coming back."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync.couch import CouchClient, CouchSettings
from sync.schema import DATABASES, db_name
from tests.conftest import unique_name
from tests.integration.openrosa.conftest import immunization
from tests.support.servers import CouchServer, CradleServer, cradle_cli, post_submission

PASSWORD = "field-pass-2026"


def production_env(tmp_path: Path, built_forms: Path, **extra: str) -> dict[str, str]:
    """A fresh Cradle installation: its own SQLite, CouchDB prefix and a health worker."""
    env = {
        **os.environ,
        "CRADLE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cradle.sqlite3'}",
        "COUCHDB_DB_PREFIX": unique_name("prod") + "_",
        "COUCHDB_RETRIES": "1",
        "CRADLE_FORMS_DIR": str(built_forms),
        **extra,
    }
    cradle_cli(env, "setup")
    cradle_cli(
        env,
        "users", "create", "worker", "--role", "health_worker", "--area", "450123101",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    return env


def drop_databases(couch: CouchClient, prefix: str) -> None:
    for spec in DATABASES:
        db = couch.db(db_name(prefix, spec.key))
        if db.exists():
            db.delete()


@pytest.fixture
def production(couch: CouchClient, built_forms: Path, tmp_path: Path) -> Iterator[tuple]:
    env = production_env(tmp_path, built_forms)
    with CradleServer(env) as server:
        yield server, env["COUCHDB_DB_PREFIX"], env
    drop_databases(couch, env["COUCHDB_DB_PREFIX"])


def test_users_cli_lists_the_worker(production) -> None:
    _, _, env = production
    assert cradle_cli(env, "users", "list") == "worker\thealth_worker\t450123101\n"


def test_chunked_upload_is_accepted(production, couch, built_forms) -> None:
    server, prefix, _ = production
    instance_id = "uuid:cccccccc-0000-4000-8000-000000000001"
    xml = immunization(built_forms, instance_id)
    response = post_submission(server.url, xml, "worker", PASSWORD, chunked=True)
    assert response.status_code == 201, response.text
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert couch.db(db_name(prefix, "submissions")).get(instance_id)["form_id"] == "immunization"


def test_concurrent_identical_posts_make_one_document(production, couch, built_forms) -> None:
    server, prefix, _ = production
    instance_id = "uuid:dddddddd-0000-4000-8000-000000000001"
    xml = immunization(built_forms, instance_id)
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def post() -> None:
        barrier.wait()
        statuses.append(post_submission(server.url, xml, "worker", PASSWORD).status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 8
    db = couch.db(db_name(prefix, "submissions"))
    found = db.find({"type": "submission"}).docs
    assert [d["_id"] for d in found] == [instance_id]
    assert found[0]["_rev"].startswith("1-")


def test_couchdb_down_gives_503_then_the_resend_is_stored_once(built_forms, tmp_path) -> None:
    """A CouchDB-compatible server of the test's own, stopped and restarted under Cradle."""
    with CouchServer(tmp_path / "couch") as couch_server:
        env = production_env(tmp_path, built_forms, COUCHDB_URL=couch_server.url)
        with CradleServer(env) as server:
            instance_id = "uuid:eeeeeeee-0000-4000-8000-000000000001"
            xml = immunization(built_forms, instance_id)
            couch_server.stop()
            down = post_submission(server.url, xml, "worker", PASSWORD)
            assert down.status_code == 503
            assert down.headers["Retry-After"] == "60"
            assert "send again later" in down.text
            assert httpx.get(f"{server.url}/api/health", timeout=10).status_code == 503

            couch_server.start()
            assert post_submission(server.url, xml, "worker", PASSWORD).status_code == 201
            # Collect retrying: no duplicate
            assert post_submission(server.url, xml, "worker", PASSWORD).status_code == 201
            user, password = os.environ.get("COUCHDB_USER", "admin"), os.environ["COUCHDB_PASSWORD"]
            with CouchClient(CouchSettings(couch_server.url, user, password)) as client:
                db = client.db(db_name(env["COUCHDB_DB_PREFIX"], "submissions"))
                docs = db.find({"type": "submission"}).docs
            assert [d["_id"] for d in docs] == [instance_id]
