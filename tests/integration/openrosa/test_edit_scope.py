"""Issue 15, item 1: an edit is judged against the document it changes, not only against
its own answers. The attacks that used to succeed, each now refused and quarantined with
the stored document byte for byte as it was."""

from __future__ import annotations

import pytest

from server.core.couch import cradle_db
from tests.integration.openrosa.conftest import (
    OTHER_COUNTY_TOWNSHIP,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    Collect,
    immunization,
)
from tests.support.openrosa import fill

pytestmark = pytest.mark.django_db

B_DOC = "uuid:b0000000-0000-4000-8000-000000000001"  # county B's child (450124101)
A_DOC = "uuid:a0000000-0000-4000-8000-000000000001"  # county A's child (450123101)
EDIT = "uuid:e0000000-0000-4000-8000-000000000001"

#: A valid newborn visit in the health worker's township.
NEWBORN_VALUES = {
    "start": "2026-11-20T09:00:00.000+08:00",
    "end": "2026-11-20T09:12:00.000+08:00",
    "today": "2026-11-20",
    "deviceid": "collect:tablet01",
    "county": "450123",
    "township": TOWNSHIP,
    "village": "弄岗村",
    "child_id": "450123202611010001",
    "child_name": "梁宇",
    "child_sex": "male",
    "child_dob": "2026-11-01",
    "mother_name": "黄梅",
    "place_of_delivery": "township_hospital",
    "birth_weight_g": "3200",
    "disease_screening": "yes",
    "hearing_screening": "pass",
    "visit_date": "2026-11-05",
    "visit_number": "1",
    "weight_kg": "3.4",
    "feeding_24h": "exclusive",
    "danger_signs": "none",
    "referred": "no",
}


def _county_b_document(built_forms) -> dict:
    xml = immunization(
        built_forms,
        B_DOC,
        county="450124",
        township=OTHER_COUNTY_TOWNSHIP,
        child_id="450124202505010001",
        child_name="韦丽",
    )
    assert Collect("other_sup").submit(xml).status_code == 201
    return cradle_db("submissions").get(B_DOC)


def _held() -> list[dict]:
    return cradle_db("quarantine").find({"type": "quarantine"}).docs


def _reasons() -> list[tuple]:
    """(instance, deprecated, [(code, field, detail)], status) of each quarantined post."""
    return [
        (
            q["instance_id"],
            q["deprecated_id"],
            [(r["code"], r["field"], r["detail"]) for r in q["reasons"]],
            q["http_status"],
        )
        for q in _held()
    ]


@pytest.mark.parametrize("attacker", ["worker", "sup"])
def test_an_edit_of_another_areas_document_is_403_and_changes_nothing(
    server, users, built_forms, attacker
) -> None:
    before = _county_b_document(built_forms)
    # an instance for the attacker's own township that claims to replace county B's
    attack = immunization(built_forms, EDIT, deprecatedID=B_DOC, aefi="yes")
    response = Collect(attacker).submit(attack)
    assert response.status_code == 403
    assert (
        f"You may not submit data for township {OTHER_COUNTY_TOWNSHIP}."
        in response.content.decode()
    )
    assert cradle_db("submissions").get(B_DOC) == before
    assert cradle_db("submissions").get(EDIT) is None
    assert _reasons() == [
        (EDIT, B_DOC, [("outside_scope", "deprecatedID", OTHER_COUNTY_TOWNSHIP)], 403)
    ]
    held = _held()[0]
    assert (held["submitter"], held["township_code"]) == (attacker, TOWNSHIP)
    assert cradle_db("quarantine").get_attachment(held["_id"], "submission.xml") == attack


@pytest.mark.parametrize("editor", ["worker", "sup"])
def test_an_edit_in_another_form_is_409_and_changes_nothing(
    server, users, built_forms, editor
) -> None:
    assert Collect("worker").submit(immunization(built_forms, A_DOC)).status_code == 201
    before = cradle_db("submissions").get(A_DOC)
    newborn = fill(
        built_forms / "newborn_visit.xml", {**NEWBORN_VALUES, "deprecatedID": A_DOC}, EDIT
    )
    response = Collect(editor).submit(newborn)
    assert response.status_code == 409
    assert (
        "An edit cannot change the form of a submission (immunization → newborn_visit)."
        in response.content.decode()
    )
    assert cradle_db("submissions").get(A_DOC) == before
    assert _reasons() == [
        (EDIT, A_DOC, [("edit_changes_form", None, "immunization → newborn_visit")], 409)
    ]


def test_a_stale_edit_of_another_areas_document_is_403_not_409(server, users, built_forms) -> None:
    _county_b_document(built_forms)
    newer = "uuid:b0000000-0000-4000-8000-000000000002"
    edit_b = immunization(
        built_forms,
        newer,
        deprecatedID=B_DOC,
        county="450124",
        township=OTHER_COUNTY_TOWNSHIP,
        child_id="450124202505010001",
    )
    assert Collect("other_sup").submit(edit_b).status_code == 201
    before = cradle_db("submissions").get(B_DOC)
    # B_DOC is now an old version: an outsider still learns nothing but "not yours"
    response = Collect("worker").submit(immunization(built_forms, EDIT, deprecatedID=B_DOC))
    assert response.status_code == 403
    assert cradle_db("submissions").get(B_DOC) == before
    assert _reasons() == [
        (EDIT, B_DOC, [("outside_scope", "deprecatedID", OTHER_COUNTY_TOWNSHIP)], 403)
    ]


def test_a_supervisor_moving_a_document_leaves_no_name_in_its_history(
    server, users, built_forms
) -> None:
    assert Collect("worker").submit(immunization(built_forms, A_DOC)).status_code == 201
    original = cradle_db("submissions").get(A_DOC)
    # the county supervisor corrects the township, and the child's name with it
    moved = immunization(
        built_forms, EDIT, deprecatedID=A_DOC, township=OTHER_TOWNSHIP, child_name="梁宇轩"
    )
    assert Collect("sup").submit(moved).status_code == 201
    doc = cradle_db("submissions").get(A_DOC)
    assert (doc["township_code"], doc["instance_id"], doc["edits"]) == (OTHER_TOWNSHIP, EDIT, 1)
    assert doc["data"]["child_name"] == "梁宇轩"
    assert doc["history"] == [
        {
            "instance_id": A_DOC,
            "form_version": original["form_version"],
            "data": {k: v for k, v in original["data"].items() if k != "child_name"},
            "received_at": original["received_at"],
            "submitter": "worker",
            "personal_removed": True,
        }
    ]
    # the first version's raw XML (with the old name) went with it; the new one is kept
    assert sorted(doc["_attachments"]) == [f"xml/{EDIT}.xml"]


def test_resending_a_moved_documents_old_version_cannot_add_files_to_it(
    server, users, built_forms
) -> None:
    first = immunization(built_forms, A_DOC)
    assert Collect("worker").submit(first).status_code == 201
    moved = immunization(built_forms, EDIT, deprecatedID=A_DOC, township=OTHER_TOWNSHIP)
    assert Collect("sup").submit(moved).status_code == 201
    before = cradle_db("submissions").get(A_DOC)
    # the worker's tablet resends its own first version, now with a photo
    response = Collect("worker").submit(first, {"photo.jpg": b"\xff\xd8photo"})
    assert response.status_code == 403
    assert cradle_db("submissions").get(A_DOC) == before
    assert _reasons() == [(A_DOC, None, [("outside_scope", "instanceID", OTHER_TOWNSHIP)], 403)]
