"""Flattening documents once, at the boundary."""

from __future__ import annotations

from analytics import columns as C
from analytics.flatten import flatten_quarantine, flatten_submissions
from tests.unit.analytics.factories import immunization, newborn, quarantined


def test_personal_fields_never_become_columns() -> None:
    doc = newborn("K01", "2026-07-03", dob="2026-07-01")
    assert doc["data"]["child_name"] and doc["data"]["mother_name"]
    flat = flatten_submissions([{"id": doc["_id"], "doc": doc}])
    assert not [c for c in flat.columns if "name" in c]


def test_types_and_select_multiple() -> None:
    doc = immunization("K01", "2026-07-03", ["mpsva1", "hepb3"], dob="2026-01-01")
    flat = flatten_submissions([{"id": doc["_id"], "doc": doc}]).iloc[0]
    assert flat[C.DOSES_GIVEN] == "hepb3 mpsva1"
    assert str(flat[C.VACCINATION_DATE].date()) == "2026-07-03"
    assert str(flat[C.COLLECTED_AT]) == "2026-07-03 02:00:00+00:00"  # 10:00 +08:00
    assert flat[C.TOMBSTONE] is False or not flat[C.TOMBSTONE]


def test_tombstones_and_other_types_are_marked_gone() -> None:
    rows = [
        {"id": "a", "deleted": True, "doc": {"_id": "a", "_rev": "2-x", "_deleted": True}},
        {"id": "b", "doc": {"_id": "b", "type": "something_else"}},
    ]
    assert flatten_submissions(rows)[C.TOMBSTONE].tolist() == [True, True]


def test_quarantine_keeps_the_deciding_reason() -> None:
    doc = quarantined("unknown_version")
    doc["reasons"].append({"code": "required"})
    flat = flatten_quarantine([{"id": doc["_id"], "doc": doc}]).iloc[0]
    assert (flat[C.Q_REASON], flat[C.Q_REASONS]) == ("unknown_version", "unknown_version required")
