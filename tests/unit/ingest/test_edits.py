"""The one edit rule (scope of the stored document, same form, no personal data carried
into another township), checked purely and through Central's `decide`."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from forms.contract import CONTRACTS
from sync.central.upsert import FormTarget, build, decide
from sync.ingest.edits import (
    PERSONAL_FIELDS,
    carried_history,
    edit_problems,
    edited_document,
    without_version_xml,
)
from sync.ingest.normalize import Places
from sync.ingest.store import Ingestor

SAMPLE = Path(__file__).parents[1] / "sync" / "data" / "central-odata-sample.json"
TARGET = FormTarget("https://central.example.org", 5, "immunization", "immunization")
V1, V2, V3 = (f"uuid:0000000{i}-0000-4000-8000-000000000000" for i in (1, 2, 3))


def stored(**extra) -> dict:
    """A stored immunization document of township 450123101, edited once already."""
    return {
        "_id": V1,
        "_rev": "2-b",
        "type": "submission",
        "form_id": "immunization",
        "instance_id": V2,
        "township_code": "450123101",
        "received_at": "2026-11-20T01:00:00.000Z",
        "submitter": "worker",
        "form_version": "2026112802",
        "data": {"child_name": "梁宇", "township": "450123101", "aefi": "yes"},
        "edits": 1,
        "versions": [{"instance_id": V1}, {"instance_id": V2}],
        "history": [
            {
                "instance_id": V1,
                "form_version": "2026112802",
                "data": {"child_name": "梁宇", "township": "450123101", "aefi": "no"},
                "received_at": "2026-11-20T01:00:00.000Z",
                "submitter": "worker",
            }
        ],
        "_attachments": {
            f"xml/{V1}.xml": {"stub": True},
            f"xml/{V2}.xml": {"stub": True},
            "media/photo.jpg": {"stub": True},
        },
        **extra,
    }


def test_personal_fields_are_the_contracts_names() -> None:
    assert PERSONAL_FIELDS == frozenset({"child_name", "mother_name"})


@pytest.mark.parametrize(
    ("form", "allowed", "expected"),
    [
        ("immunization", frozenset({"450123101"}), []),
        ("immunization", None, []),
        (
            "immunization",
            frozenset({"450124101"}),
            [("outside_scope", "deprecatedID", "450123101", 403)],
        ),
        (
            "newborn_visit",
            frozenset({"450123101"}),
            [("edit_changes_form", None, "immunization → newborn_visit", 409)],
        ),
        ("newborn_visit", None, [("edit_changes_form", None, "immunization → newborn_visit", 409)]),
        # both wrong: the scope is said first (403), as for a new submission
        (
            "newborn_visit",
            frozenset({"450124101"}),
            [("outside_scope", "deprecatedID", "450123101", 403)],
        ),
    ],
)
def test_edit_problems_look_at_the_stored_document(form, allowed, expected) -> None:
    problems = edit_problems(stored(), form, allowed)
    assert [(p.code, p.field, p.detail, p.status) for p in problems] == expected


def test_history_in_the_same_township_is_kept_whole() -> None:
    history = carried_history(stored(), "450123101", new_version=True)
    assert history == [
        stored()["history"][0],
        {
            "instance_id": V2,
            "form_version": "2026112802",
            "data": {"child_name": "梁宇", "township": "450123101", "aefi": "yes"},
            "received_at": "2026-11-20T01:00:00.000Z",
            "submitter": "worker",
        },
    ]


def test_a_move_keeps_no_personal_field_in_any_history_entry() -> None:
    history = carried_history(stored(), "450123102", new_version=True)
    assert history == [
        {
            "instance_id": V1,
            "form_version": "2026112802",
            "data": {"township": "450123101", "aefi": "no"},
            "received_at": "2026-11-20T01:00:00.000Z",
            "submitter": "worker",
            "personal_removed": True,
        },
        {
            "instance_id": V2,
            "form_version": "2026112802",
            "data": {"township": "450123101", "aefi": "yes"},
            "received_at": "2026-11-20T01:00:00.000Z",
            "submitter": "worker",
            "personal_removed": True,
        },
    ]
    # without a new version (Central changing answers in place) the old entries alone
    assert [
        e["instance_id"] for e in carried_history(stored(), "450123102", new_version=False)
    ] == [V1]


def test_an_edited_document_drops_earlier_raw_xml_only_when_it_moves() -> None:
    doc = {"type": "submission", "form_id": "immunization", "instance_id": V3}
    added = {f"xml/{V3}.xml": {"data": "eA=="}}
    same = edited_document(
        stored(), {**doc, "township_code": "450123101"}, {"instance_id": V3}, added
    )
    assert sorted(same["_attachments"]) == sorted([*stored()["_attachments"], f"xml/{V3}.xml"])
    assert (same["_id"], same["_rev"], same["edits"], same["review_state"]) == (
        V1,
        "2-b",
        2,
        "edited",
    )
    assert [v["instance_id"] for v in same["versions"]] == [V1, V2, V3]
    moved = edited_document(
        stored(), {**doc, "township_code": "450123102"}, {"instance_id": V3}, added
    )
    assert sorted(moved["_attachments"]) == ["media/photo.jpg", f"xml/{V3}.xml"]
    assert all(e["personal_removed"] for e in moved["history"])
    assert without_version_xml({"a": 1, f"xml/{V1}.xml": 2}, [V1]) == {"a": 1}


# -- ODK Central: the same rule through `decide` ------------------------------------------


class Catalog:
    def get(self, form_id: str) -> SimpleNamespace | None:
        contract = CONTRACTS.get(form_id)
        return SimpleNamespace(version="2026112801", contract=contract) if contract else None


@pytest.fixture(scope="module")
def ingestor() -> Ingestor:
    places = Places.from_pairs({"450123102": "450123", "450124101": "450124"})
    return Ingestor(None, None, Catalog(), places, lambda: date(2026, 11, 28))  # type: ignore[arg-type]


@pytest.fixture
def row() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))["value"][2]


def _edited(row: dict, instance_id: str, **location: str) -> dict:
    new = copy.deepcopy(row)
    new["meta"]["instanceID"] = instance_id
    new["location"].update(location)
    new["__system"].update(updatedAt="2026-11-29T08:00:00.000Z", edits=1, reviewState="edited")
    return new


def test_a_central_row_of_another_form_is_refused(ingestor, row) -> None:
    first = build(row, TARGET, ingestor).doc
    as_newborn = {**first, "form_id": "newborn_visit", "_rev": "1-a"}
    edit = build(_edited(row, V3), TARGET, ingestor).doc
    assert decide(as_newborn, edit) == ("form_changed", None)
    assert decide(as_newborn, first) == ("form_changed", None)  # even without a new version


def test_a_central_edit_moving_the_township_carries_no_name(ingestor, row) -> None:
    first = {**build(row, TARGET, ingestor).doc, "_rev": "1-a"}
    moved = _edited(row, V3, county="450124", township="450124101")
    outcome, doc = decide(first, build(moved, TARGET, ingestor).doc)
    assert outcome == "updated"
    assert (doc["township_code"], doc["county_code"], doc["instance_id"]) == (
        "450124101",
        "450124",
        V3,
    )
    assert doc["data"]["child_name"] == "何轩"  # the current answers are Central's to give
    [entry] = doc["history"]
    assert entry["personal_removed"] is True
    assert entry["instance_id"] == first["instance_id"]
    assert "child_name" not in entry["data"]
    assert entry["data"] == {k: v for k, v in first["data"].items() if k != "child_name"}
    # the same row again: nothing to do
    assert decide({**doc, "_rev": "2-b"}, build(moved, TARGET, ingestor).doc) == (
        "unchanged",
        None,
    )
