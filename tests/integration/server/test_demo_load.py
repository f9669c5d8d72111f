"""`cradle setup --demo` (what `make run` does): an interrupted demo load is resumed and
ends with exactly the documents of an uninterrupted one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from forms.synthetic.options import Options
from server.core.bootstrap import DEMO_MARKER, ensure_demo
from sync.couch import CouchClient
from sync.errors import CouchUnavailable
from sync.ingest.store import Ingestor
from sync.schema import DATABASES, db_name

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# Small, and with edits, so resuming has to get edits right too (1,026 submissions).
SMALL = Options(counties=1, scale=0.02, edits=0.05)


@pytest.fixture
def demo_db(cradle_couch: str, built_forms: Path, settings) -> str:
    settings.FORMS_BUILD_DIR = built_forms
    return cradle_couch


def _documents(couch: CouchClient, prefix: str, key: str) -> dict[str, dict]:
    rows = couch.db(db_name(prefix, key)).all_docs(include_docs=True)
    return {
        row["id"]: {k: v for k, v in row["doc"].items() if k != "_rev"}
        for row in rows
        if not row["id"].startswith("_design/")
    }


def _load_interrupted(monkeypatch: pytest.MonkeyPatch, batches: int) -> None:
    """Run the demo load until CouchDB "dies" half way through batch number `batches + 1`."""
    original = Ingestor.ingest_many
    calls = []

    def dying(self: Ingestor, batch: list, **kw: object) -> list:
        calls.append(1)
        if len(calls) > batches:
            original(self, batch[: len(batch) // 2], **kw)
            raise CouchUnavailable("POST", "_bulk_docs", None, "unavailable", "connection refused")
        return original(self, batch, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(Ingestor, "ingest_many", dying)
        with pytest.raises(CouchUnavailable):
            ensure_demo(SMALL)


@pytest.fixture
def whole_load(demo_db: str, couch: CouchClient, settings) -> Iterator[dict[str, dict]]:
    """The submissions of the same demo load, uninterrupted, in databases of their own."""
    prefix = demo_db + "whole_"
    settings.COUCHDB = {**settings.COUCHDB, "DB_PREFIX": prefix}
    try:
        assert ensure_demo(SMALL)[0] == (
            "demo data: loaded (972 created, 54 updated, 0 unchanged, 0 quarantined)"
        )
        whole = _documents(couch, prefix, "submissions")
    finally:
        settings.COUCHDB = {**settings.COUCHDB, "DB_PREFIX": demo_db}
    yield whole
    for spec in DATABASES:
        couch.db(db_name(prefix, spec.key)).delete()


def test_an_interrupted_demo_load_resumes_to_exactly_the_full_set(
    whole_load: dict[str, dict],
    demo_db: str,
    couch: CouchClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _load_interrupted(monkeypatch, batches=1)
    partial = _documents(couch, demo_db, "submissions")
    assert 500 < len(partial) < len(whole_load)
    state = couch.db(db_name(demo_db, "state"))
    assert state.get(DEMO_MARKER)["state"] == "loading"

    lines = ensure_demo(SMALL)
    assert lines[0].startswith("demo data: resumed an interrupted load and loaded what was missing")
    assert state.get(DEMO_MARKER)["state"] == "complete"
    resumed = _documents(couch, demo_db, "submissions")
    assert len(resumed) == 972
    assert sorted(resumed) == sorted(whole_load)
    assert resumed == whole_load
    assert _documents(couch, demo_db, "quarantine") == {}
    assert ensure_demo(SMALL)[0] == "demo data: already loaded"


def test_a_database_with_submissions_but_no_demo_record_is_left_alone(
    demo_db: str, couch: CouchClient
) -> None:
    couch.db(db_name(demo_db, "submissions")).put({"_id": "real-1", "type": "submission"})
    lines = ensure_demo(SMALL)
    assert lines[0] == "demo data: CouchDB already holds submissions, nothing loaded"
    assert list(_documents(couch, demo_db, "submissions")) == ["real-1"]
    assert couch.db(db_name(demo_db, "state")).get(DEMO_MARKER) is None
