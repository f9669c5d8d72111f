"""Cradle databases on the real server, filled with a small known dataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.couch import CouchClient, Database
from sync.schema import DATABASES, db_name, ensure_schema
from tests.conftest import unique_name
from tests.unit.analytics.dataset import small_dataset


def put_all(db: Database, docs: list[dict]) -> None:
    for start in range(0, len(docs), 500):
        results = db.bulk_docs(docs[start : start + 500])
        bad = [r for r in results if not r.ok]
        assert not bad, bad[:3]


@pytest.fixture
def prefix(couch: CouchClient) -> Iterator[str]:
    """A fresh set of Cradle databases (no Django involved), deleted afterwards."""
    name = unique_name("analytics") + "_"
    ensure_schema(couch, name)
    yield name
    for spec in DATABASES:
        couch.db(db_name(name, spec.key)).delete()


@pytest.fixture
def loaded(couch: CouchClient, prefix: str) -> tuple[str, list[dict], list[dict]]:
    submissions, quarantine = small_dataset()
    put_all(couch.db(db_name(prefix, "submissions")), submissions)
    put_all(couch.db(db_name(prefix, "quarantine")), quarantine)
    return prefix, submissions, quarantine


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "cache"
