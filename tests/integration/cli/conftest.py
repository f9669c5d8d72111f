"""A fresh installation for the `cradle` command: its own SQLite and CouchDB databases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.couch import CouchClient
from sync.schema import DATABASES, db_name
from tests.conftest import unique_name

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(tmp_path: Path, couch: CouchClient) -> Iterator[dict[str, str]]:
    """A fresh installation: its own SQLite and CouchDB databases."""
    prefix = unique_name("cli") + "_"
    env = {
        **os.environ,
        "CRADLE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cradle.sqlite3'}",
        "COUCHDB_DB_PREFIX": prefix,
    }
    assert cradle(env, "setup").returncode == 0
    yield env
    for spec in DATABASES:
        db = couch.db(db_name(prefix, spec.key))
        if db.exists():
            db.delete()


def cradle(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cradle", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
