"""What a Central row does to a Cradle document: built with the one ingestion core (no
network: the catalog and registry are in memory), then decided purely."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from forms.contract import CONTRACTS
from sync.central.upsert import FormTarget, build, decide
from sync.ingest.normalize import Places
from sync.ingest.store import Ingestor

SAMPLE = Path(__file__).parent / "data" / "central-odata-sample.json"
TARGET = FormTarget("https://central.example.org", 5, "immunization", "immunization")


class Catalog:
    def get(self, form_id: str) -> SimpleNamespace | None:
        contract = CONTRACTS.get(form_id)
        return SimpleNamespace(version="2026112801", contract=contract) if contract else None


@pytest.fixture(scope="module")
def ingestor() -> Ingestor:
    places = Places.from_pairs({"451024201": "451024", "450123102": "450123"})
    return Ingestor(None, None, Catalog(), places, lambda: date(2026, 11, 28))  # type: ignore[arg-type]


@pytest.fixture
def rows() -> list[dict]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))["value"]


def edited(row: dict, instance_id: str, at: str, **answers: str) -> dict:
    new = copy.deepcopy(row)
    new["meta"]["instanceID"] = instance_id
    new["visit"].update(answers)
    new["__system"].update(updatedAt=at, edits=new["__system"]["edits"] + 1, reviewState="edited")
    return new


def test_a_valid_row_becomes_a_typed_submission_document(ingestor, rows) -> None:
    built = build(rows[2], TARGET, ingestor)
    assert built.quarantine is None
    doc = built.doc
    assert doc["_id"] == doc["instance_id"] == "uuid:f78823b1-d999-42ae-a7fa-d25c38e215bf"
    assert doc["data"]["doses_given"] == ["ipv1"]
    assert doc["data"]["gps"] == {
        "lat": 22.501736,
        "lon": 109.530718,
        "alt": 1160.2,
        "accuracy": 12.4,
    }
    assert (doc["received_at"], doc["updated_at"]) == ("2026-11-28T13:58:23.450Z",) * 2
    assert (doc["source"], doc["submitter"]) == (
        "central",
        "acceptance smoke 20261128-135821 collector",
    )
    assert doc["central"] == {
        "server": "https://central.example.org",
        "project_id": 5,
        "form_id": "immunization",
        "form_version": "2026112801",
        "submission_date": "2026-11-28T13:58:23.450Z",
        "updated_at": None,
        "edits": 0,
        "review_state": None,
        "deleted_at": None,
        "submitter_id": "24",
    }


def test_a_row_breaking_the_contract_is_quarantined_with_the_row_json(ingestor, rows) -> None:
    built = build(rows[1], TARGET, ingestor)  # its village is 320 characters long
    assert built.doc is None
    held = built.quarantine
    assert [(r["code"], r["field"]) for r in held["reasons"]] == [("too_long", "village")]
    assert held["instance_id"] == rows[1]["__id"]
    assert list(held["_attachments"]) == ["submission.json"]
    assert held["received_at"] == "2026-11-28T13:58:27.091Z"
    again = build(rows[1], TARGET, ingestor).quarantine
    assert again["_id"] == held["_id"]  # the same row is kept once


def test_new_then_the_same_row_again_is_unchanged(ingestor, rows) -> None:
    cand = build(rows[2], TARGET, ingestor).doc
    outcome, doc = decide(None, cand)
    assert outcome == "new"
    stored = {**doc, "_rev": "1-a"}
    assert decide(stored, build(rows[2], TARGET, ingestor).doc) == ("unchanged", None)


def test_an_edit_keeps_history_and_follows_centrals_edit_count(ingestor, rows) -> None:
    first = build(rows[2], TARGET, ingestor).doc
    stored = {**first, "_rev": "1-a"}
    row = edited(
        rows[2], "uuid:0e0e0e0e-0000-4000-8000-000000000001", "2026-11-29T08:00:00.000Z", aefi="yes"
    )
    outcome, doc = decide(stored, build(row, TARGET, ingestor).doc)
    assert outcome == "updated"
    assert (doc["_id"], doc["_rev"]) == (first["_id"], "1-a")
    assert doc["instance_id"] == "uuid:0e0e0e0e-0000-4000-8000-000000000001"
    assert (doc["edits"], doc["review_state"], doc["data"]["aefi"]) == (1, "edited", "yes")
    assert doc["received_at"] == first["received_at"]
    assert doc["updated_at"] == "2026-11-29T08:00:00.000Z"
    assert doc["history"] == [
        {
            "instance_id": first["instance_id"],
            "form_version": "2026112801",
            "data": first["data"],
            "received_at": first["received_at"],
            "submitter": first["submitter"],
        }
    ]
    assert [v["instance_id"] for v in doc["versions"]] == [
        first["instance_id"],
        "uuid:0e0e0e0e-0000-4000-8000-000000000001",
    ]
    assert doc["versions"][1]["received_at"] == "2026-11-29T08:00:00.000Z"
    # Central showing the old version again (a stale page) changes nothing.
    assert decide({**doc, "_rev": "2-b"}, first) == ("unchanged", None)


def test_a_review_is_recorded_without_counting_as_an_edit(ingestor, rows) -> None:
    stored = {**build(rows[2], TARGET, ingestor).doc, "_rev": "1-a"}
    row = copy.deepcopy(rows[2])
    row["__system"].update(reviewState="approved", updatedAt="2026-11-29T09:00:00.000Z")
    outcome, doc = decide(stored, build(row, TARGET, ingestor).doc)
    assert outcome == "review_changes"
    assert (doc["edits"], doc["history"], doc["review_state"]) == (0, [], "approved")
    assert doc["reviews"] == [{"from": None, "to": "approved", "at": "2026-11-29T09:00:00.000Z"}]
    assert doc["data"] == stored["data"]
    assert decide({**doc, "_rev": "2-b"}, build(row, TARGET, ingestor).doc) == ("unchanged", None)


def test_a_soft_delete_marks_the_document_and_keeps_it(ingestor, rows) -> None:
    stored = {**build(rows[2], TARGET, ingestor).doc, "_rev": "1-a"}
    row = copy.deepcopy(rows[2])
    row["__system"]["deletedAt"] = "2026-11-30T00:00:00.000Z"
    outcome, doc = decide(stored, build(row, TARGET, ingestor).doc)
    assert outcome == "deleted"
    assert (doc["deleted"], doc["central"]["deleted_at"]) == (True, "2026-11-30T00:00:00.000Z")
    assert (doc["data"], doc["updated_at"]) == (stored["data"], "2026-11-30T00:00:00.000Z")
    # Seen for the first time already deleted: kept, marked deleted.
    assert decide(None, build(row, TARGET, ingestor).doc)[0] == "deleted"


def test_an_id_held_by_something_else_is_a_conflict(ingestor, rows) -> None:
    cand = build(rows[2], TARGET, ingestor).doc
    assert decide({"_id": cand["_id"], "_rev": "1-a", "type": "note"}, cand) == ("conflict", None)
