"""`cradle index refresh`: reads the changes feed into the local indexes once, then only
what is new; `--rebuild` reads it all again (a cut-short refresh resuming is proved on
`sync.follow.FeedState` itself, tests/integration/sync/test_follow.py)."""

from __future__ import annotations

import pytest

from sync.couch import CouchClient, Database
from sync.schema import db_name
from tests.integration.cli.conftest import cradle
from tests.integration.sync.test_listing import submission

pytestmark = pytest.mark.integration


@pytest.fixture
def installed(env: dict[str, str], couch: CouchClient) -> tuple[dict[str, str], Database]:
    return env, couch.db(db_name(env["COUCHDB_DB_PREFIX"], "submissions"))


def test_refresh_reads_new_changes_only_and_rebuild_reads_all(installed, tmp_path) -> None:
    env, db = installed
    db.bulk_docs([submission(f"s{i:02d}", i, "450123101") for i in range(1, 6)])
    first = cradle(env, "index", "refresh")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("  children register: 5 changes applied in ")
    assert lines[1].startswith("  submission listing: 5 changes applied in ")
    assert lines[2].startswith("  quarantine listing: 0 changes applied in ")
    assert lines[3].endswith(": _design/cradle-versions up to date")
    assert "  children register: 5 changes read\n" in first.stderr  # progress on stderr

    db.bulk_docs([submission("s06", 6, "450123102")])
    again = cradle(env, "index", "refresh").stdout.splitlines()
    assert again[0].startswith("  children register: 1 changes applied in ")
    assert again[1].startswith("  submission listing: 1 changes applied in ")

    rebuilt = cradle(env, "index", "refresh", "--rebuild").stdout.splitlines()
    assert rebuilt[0].startswith("  children register: 6 changes applied in ")
    assert rebuilt[1].startswith("  submission listing: 6 changes applied in ")


def test_refresh_with_couchdb_down_says_so_in_one_line(installed) -> None:
    env, _ = installed
    down = cradle({**env, "COUCHDB_URL": "http://127.0.0.1:9"}, "index", "refresh")
    assert down.returncode == 1
    assert down.stderr.startswith("Error: CouchDB ")
    assert len(down.stderr.strip().splitlines()) == 1
