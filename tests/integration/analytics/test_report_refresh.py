"""Reports from CouchDB are counted once and reused until the change feed moves; then the
new documents give the new exact numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from analytics import columns as C
from analytics import per_township
from analytics.service import coverage_report
from analytics.source import CouchSource
from server.accounts.scope import Scope
from sync.couch import CouchClient
from sync.schema import db_name
from tests.unit.analytics import factories as f

ANALYST = Scope("analyst", None, "test")
SUPERVISOR = Scope("supervisor", frozenset({f.TOWN_A, f.TOWN_B}), "sup")
DOCS = [
    f.immunization("K1", "2026-05-01", ["hepb3"], dob="2025-10-01", township=f.TOWN_A),
    f.immunization("K2", "2026-05-01", ["dtap3"], dob="2025-10-01", township=f.TOWN_B),
    f.immunization("K3", "2026-05-01", ["hepb3"], dob="2025-10-01", township=f.TOWN_C),
]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    seen = {"count": 0, "quality": 0}
    count, quality = per_township.count_indicators, per_township.quality_parts

    def counting(*args, **kwargs):
        seen["count"] += 1
        return count(*args, **kwargs)

    def quality_counting(*args, **kwargs):
        seen["quality"] += 1
        return quality(*args, **kwargs)

    monkeypatch.setattr(per_township, "count_indicators", counting)
    monkeypatch.setattr(per_township, "quality_parts", quality_counting)
    per_township.forget()
    yield seen
    per_township.forget()


def _hepb3(table: pd.DataFrame, level: str, key: str | None = None) -> tuple[int, int]:
    rows = table.loc[(table[C.LEVEL] == level) & (table[C.INDICATOR] == "imm_hepb3")]
    if key is not None:
        rows = rows.loc[rows[C.TOWNSHIP if level == "township" else C.COUNTY] == key]
    return int(rows[C.NUMERATOR].iloc[0]), int(rows[C.DENOMINATOR].iloc[0])


def _programme(table: pd.DataFrame, column: str) -> int:
    return int(table.loc[table[C.LEVEL] == "programme", column].iloc[0])


def test_reused_until_couchdb_changes_then_the_new_numbers(
    couch: CouchClient, prefix: str, cache_root: Path, counted: dict[str, int]
) -> None:
    subs = couch.db(db_name(prefix, "submissions"))
    held = couch.db(db_name(prefix, "quarantine"))
    assert all(r.ok for r in subs.bulk_docs(DOCS))
    source = CouchSource(couch, prefix, cache_root)

    first = coverage_report(
        period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=source
    )
    assert _hepb3(first.table, "programme") == (2, 3)
    theirs = coverage_report(
        period="2026-Q3", indicators=["imm_hepb3"], scope=SUPERVISOR, source=source
    )
    again = coverage_report(
        period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=source
    )
    assert _hepb3(theirs.table, "programme") == (1, 2)
    pd.testing.assert_frame_equal(again.table, first.table)
    assert counted == {"count": 1, "quality": 1}  # the feed did not move: nothing counted

    # K2 gets its third hepatitis B dose, a new child arrives in TOWN_B
    added = [
        f.immunization("K2", "2026-08-03", ["hepb3"], dob="2025-10-01", township=f.TOWN_B),
        f.immunization("K4", "2026-08-03", ["dtap3"], dob="2025-09-15", township=f.TOWN_B),
    ]
    assert all(r.ok for r in subs.bulk_docs(added))
    after = coverage_report(
        period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=source
    )
    assert _hepb3(after.table, "township", f.TOWN_B) == (1, 2)
    assert _hepb3(after.table, "county", f.COUNTY_A) == (2, 3)
    assert _hepb3(after.table, "programme") == (3, 4)
    assert _programme(after.quality, "accepted") == 2  # received in Q3: the two new ones
    assert counted == {"count": 2, "quality": 2}

    # a refused submission changes the data-quality figures, not the counts
    assert all(r.ok for r in held.bulk_docs([f.quarantined("unknown_township")]))
    refused = coverage_report(
        period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=source
    )
    assert _programme(refused.quality, "rejected") == 1
    assert _programme(refused.quality, "rejected_unknown_township") == 1
    pd.testing.assert_frame_equal(refused.table, after.table)
    assert counted == {"count": 2, "quality": 3}
