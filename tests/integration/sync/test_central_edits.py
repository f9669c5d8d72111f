"""Edits arriving from ODK Central follow the one edit rule (issue 15, item 1): Central's
project decides who edits, but an edit never changes a document's form, and one that
moves a document to another township carries no earlier name into the new area."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from server.core.couch import cradle_db
from server.core.ingest import get_ingestor
from sync.central.upsert import FormTarget, Upserter, build

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).parents[2] / "unit" / "sync" / "data" / "central-odata-sample.json"
TARGET = FormTarget("https://central.example.org", 5, "immunization", "immunization")
EDIT = "uuid:0e0e0e0e-0000-4000-8000-0000000000e1"


@pytest.fixture
def row() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))["value"][2]


def _edited(row: dict, **location: str) -> dict:
    new = copy.deepcopy(row)
    new["meta"]["instanceID"] = EDIT
    new["location"].update(location)
    new["__system"].update(updatedAt="2026-11-29T08:00:00.000Z", edits=1, reviewState="edited")
    return new


def test_a_row_that_would_change_the_form_is_quarantined(server, row) -> None:
    ingestor = get_ingestor()
    stored = {**build(row, TARGET, ingestor).doc, "form_id": "newborn_visit"}
    cradle_db("submissions").put(stored)
    before = cradle_db("submissions").get(row["__id"])

    counts = Upserter(ingestor, TARGET).write([_edited(row)])
    assert (counts.fetched, counts.quarantined, counts.updated) == (1, 1, 0)
    assert cradle_db("submissions").get(row["__id"]) == before
    [held] = cradle_db("quarantine").find({"type": "quarantine"}).docs
    assert [(r["code"], r["detail"]) for r in held["reasons"]] == [
        ("edit_changes_form", "newborn_visit → immunization")
    ]
    assert (held["http_status"], held["source"], held["instance_id"]) == (
        409,
        "central",
        row["__id"],
    )
    assert (held["form_id"], held["township_code"], held["county_code"]) == (
        "immunization",
        "450123102",
        "450123",
    )
    assert held["central"]["server"] == TARGET.server


def test_a_row_moving_the_township_keeps_no_earlier_name(server, row) -> None:
    upserter = Upserter(get_ingestor(), TARGET)
    assert upserter.write([row]).new == 1
    first = cradle_db("submissions").get(row["__id"])
    assert first["data"]["child_name"] == "何轩"

    counts = upserter.write([_edited(row, county="450124", township="450124101")])
    assert (counts.updated, counts.quarantined) == (1, 0)
    doc = cradle_db("submissions").get(row["__id"])
    assert (doc["township_code"], doc["county_code"], doc["instance_id"]) == (
        "450124101",
        "450124",
        EDIT,
    )
    assert doc["history"] == [
        {
            "instance_id": first["instance_id"],
            "form_version": first["form_version"],
            "data": {k: v for k, v in first["data"].items() if k != "child_name"},
            "received_at": first["received_at"],
            "submitter": first["submitter"],
            "personal_removed": True,
        }
    ]
    assert cradle_db("quarantine").find({"type": "quarantine"}).docs == []
