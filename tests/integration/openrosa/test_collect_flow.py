"""ODK Collect's whole conversation with Cradle, checked down to the CouchDB documents."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from django.test import Client

from server.core.couch import cradle_db
from tests.integration.openrosa.conftest import (
    COUNTY,
    OTHER_COUNTY_TOWNSHIP,
    TOWNSHIP,
    Collect,
    immunization,
)

pytestmark = pytest.mark.django_db

NS = {
    "f": "http://openrosa.org/xforms/xformsList",
    "m": "http://openrosa.org/xforms/xformsManifest",
}
UUID = "uuid:6f1d2a34-0c5e-4a8e-9f3b-1b2c3d4e5f60"


def _xml(response) -> object:
    import xml.etree.ElementTree as ET

    return ET.fromstring(response.content)  # noqa: S314


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_form_list_manifest_and_media(server, users, built_forms: Path) -> None:
    collect = Collect("worker")
    response = collect.request("GET", "/formList?deviceID=collect%3Atablet01")
    assert response.status_code == 200
    assert response["X-OpenRosa-Version"] == "1.0"
    assert response["Date"]
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    forms = _xml(response).findall("f:xform", NS)
    listed = {f.findtext("f:formID", namespaces=NS): f for f in forms}
    assert sorted(listed) == ["immunization", "newborn_visit", "nutrition_pack"]
    imm = listed["immunization"]
    xml_bytes = (built_forms / "immunization.xml").read_bytes()
    assert imm.findtext("f:hash", namespaces=NS) == f"md5:{_md5(xml_bytes)}"
    assert imm.findtext("f:version", namespaces=NS) == "2026112802"
    assert imm.findtext("f:name", namespaces=NS) == "预防接种 (Vaccination visit)"
    assert (
        imm.findtext("f:downloadUrl", namespaces=NS)
        == "http://testserver/forms/immunization/form.xml"
    )
    manifest_url = imm.findtext("f:manifestUrl", namespaces=NS)
    assert manifest_url == "http://testserver/forms/immunization/manifest"

    download = collect.request("GET", "/forms/immunization/form.xml")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == xml_bytes

    manifest = collect.request("GET", "/forms/immunization/manifest")
    assert manifest.status_code == 200
    files = _xml(manifest).findall("m:mediaFile", NS)
    names = [f.findtext("m:filename", namespaces=NS) for f in files]
    assert names == ["children.csv", "counties.csv", "townships.csv"]  # children: issue 11
    townships_csv = (built_forms / "immunization-media" / "townships.csv").read_bytes()
    assert files[2].findtext("m:hash", namespaces=NS) == f"md5:{_md5(townships_csv)}"
    media = collect.request("GET", "/forms/immunization/media/townships.csv")
    assert media.status_code == 200
    assert b"".join(media.streaming_content) == townships_csv


def test_anonymous_gets_a_digest_challenge(server, users) -> None:
    for method, path in [("get", "/formList"), ("head", "/submission"), ("post", "/submission")]:
        response = getattr(Client(), method)(path)
        assert response.status_code == 401, path
        assert response["X-OpenRosa-Version"] == "1.0"
        challenge = response["WWW-Authenticate"]
        assert challenge.startswith('Digest realm="Cradle", qop="auth", algorithm=MD5, nonce="')
        assert "Basic" not in challenge  # never offer Basic over plain HTTP


def test_wrong_password_and_basic_over_http_are_refused(server, users) -> None:
    assert Collect("worker", "not-the-password").request("GET", "/formList").status_code == 401
    basic = base64.b64encode(b"worker:field-pass-2026").decode()
    response = Client().get("/formList", HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 401


def test_basic_is_accepted_over_https(server, users) -> None:
    basic = base64.b64encode(b"worker:field-pass-2026").decode()
    response = Client().get("/formList", HTTP_AUTHORIZATION=f"Basic {basic}", secure=True)
    assert response.status_code == 200
    challenge = Client().get("/formList", secure=True)["WWW-Authenticate"]
    assert challenge.endswith(', Basic realm="Cradle"')


def test_analyst_may_not_fill_forms(server, users) -> None:
    response = Collect("analyst").request("GET", "/formList")
    assert response.status_code == 403


def test_head_then_post_stores_one_canonical_document(server, users, built_forms) -> None:
    collect = Collect("worker")
    head = collect.request("HEAD", "/submission")
    assert head.status_code == 204
    assert head["X-OpenRosa-Accept-Content-Length"] == str(50 * 1024 * 1024)
    assert collect.request("GET", "/submission").status_code == 204

    xml = immunization(built_forms, UUID)
    response = collect.submit(xml)
    assert response.status_code == 201
    assert response["X-OpenRosa-Version"] == "1.0"
    assert (
        b'<OpenRosaResponse xmlns="http://openrosa.org/http/response"><message>' in response.content
    )

    doc = cradle_db("submissions").get(UUID)
    stored_xml = cradle_db("submissions").get_attachment(UUID, f"xml/{UUID}.xml")
    assert stored_xml == xml
    received = doc["received_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", received)
    assert {k: v for k, v in doc.items() if k not in ("_rev", "_attachments")} == {
        "_id": UUID,
        "type": "submission",
        "form_id": "immunization",
        "form_version": "2026112802",
        "instance_id": UUID,
        "county_code": COUNTY,
        "township_code": TOWNSHIP,
        "village": "弄岗村",
        "child_id": "450123202505010001",
        "collected_at": "2026-11-20T09:12:00.000+08:00",
        "started_at": "2026-11-20T09:00:00.000+08:00",
        "received_at": received,
        "updated_at": received,
        "source": "openrosa",
        "submitter": "worker",
        "device_id": "collect:tablet01",
        "data": {
            "start": "2026-11-20T09:00:00.000+08:00",
            "end": "2026-11-20T09:12:00.000+08:00",
            "today": "2026-11-20",
            "deviceid": "collect:tablet01",
            "county": COUNTY,
            "township": TOWNSHIP,
            "village": "弄岗村",
            "child_id": "450123202505010001",
            "child_name": "梁宇",
            "child_sex": "male",
            "child_dob": "2025-05-01",
            "vaccination_date": "2025-11-03",
            "doses_given": ["hepb3", "mpsva1"],
            "aefi": "no",
        },
        "extra": {},
        "xml_md5": _md5(xml),
        "edits": 0,
        "review_state": None,
        "deleted": False,
        "versions": [
            {
                "instance_id": UUID,
                "xml_md5": _md5(xml),
                "received_at": received,
                "submitter": "worker",
                "source": "openrosa",
            }
        ],
        "history": [],
    }


def test_attachments_and_incomplete_splits_merge_by_instance_id(server, users, built_forms) -> None:
    collect = Collect("worker")
    xml = immunization(built_forms, UUID)
    first = collect.submit(xml, {"card.jpg": b"\xff\xd8card"}, **{"*isIncomplete*": "yes"})
    assert first.status_code == 201
    second = collect.submit(xml, {"arm.jpg": b"\xff\xd8arm"})
    assert second.status_code == 201
    db = cradle_db("submissions")
    doc = db.get(UUID)
    assert sorted(doc["_attachments"]) == ["media/arm.jpg", "media/card.jpg", f"xml/{UUID}.xml"]
    assert db.get_attachment(UUID, "media/card.jpg") == b"\xff\xd8card"
    assert db.get_attachment(UUID, "media/arm.jpg") == b"\xff\xd8arm"
    assert doc["_attachments"]["media/arm.jpg"]["content_type"] == "image/jpeg"
    assert db.info()["doc_count"] == 1 + _design_docs(db)


def _design_docs(db) -> int:
    return len(db.all_docs(start_key="_design/", end_key="_design/\ufff0"))


def test_identical_resend_changes_nothing(server, users, built_forms) -> None:
    collect = Collect("worker")
    xml = immunization(built_forms, UUID)
    assert collect.submit(xml).status_code == 201
    rev = cradle_db("submissions").get(UUID)["_rev"]
    again = collect.submit(xml)
    assert again.status_code == 201
    assert cradle_db("submissions").get(UUID)["_rev"] == rev


def test_conflicting_resend_is_409_and_kept_in_quarantine(server, users, built_forms) -> None:
    collect = Collect("worker")
    assert collect.submit(immunization(built_forms, UUID)).status_code == 201
    different = immunization(built_forms, UUID, aefi="yes")
    response = collect.submit(different)
    assert response.status_code == 409
    assert (
        "A different submission with this instanceID already exists." in response.content.decode()
    )
    assert cradle_db("submissions").get(UUID)["data"]["aefi"] == "no"
    held = cradle_db("quarantine").find({"type": "quarantine"}).docs
    assert [(q["instance_id"], q["reasons"][0]["code"], q["http_status"]) for q in held] == [
        (UUID, "conflict", 409)
    ]
    assert cradle_db("quarantine").get_attachment(held[0]["_id"], "submission.xml") == different


def test_edit_updates_the_same_document_and_keeps_history(server, users, built_forms) -> None:
    collect = Collect("worker")
    original = immunization(built_forms, UUID)
    assert collect.submit(original).status_code == 201
    edit_id = "uuid:0a0b0c0d-1111-4222-8333-444455556666"
    edit = immunization(built_forms, edit_id, deprecatedID=UUID, aefi="yes")
    assert collect.submit(edit).status_code == 201
    doc = cradle_db("submissions").get(UUID)
    assert doc["instance_id"] == edit_id
    assert doc["data"]["aefi"] == "yes"
    assert doc["edits"] == 1
    assert doc["review_state"] == "edited"
    assert [v["instance_id"] for v in doc["versions"]] == [UUID, edit_id]
    assert doc["history"][0]["instance_id"] == UUID
    assert doc["history"][0]["data"]["aefi"] == "no"
    assert sorted(doc["_attachments"]) == [f"xml/{edit_id}.xml", f"xml/{UUID}.xml"]
    # the same edit again: unchanged
    assert collect.submit(edit).status_code == 201
    assert cradle_db("submissions").get(UUID)["_rev"] == doc["_rev"]

    # an edit of the original, which is no longer the current version: stale
    stale = immunization(
        built_forms, "uuid:99999999-1111-4222-8333-444455556666", deprecatedID=UUID, aefi="no"
    )
    response = collect.submit(stale)
    assert response.status_code == 409
    assert "This edit is based on an older version of the submission." in response.content.decode()
    assert cradle_db("submissions").get(UUID)["instance_id"] == edit_id


def test_second_edit_chains_on_the_first(server, users, built_forms) -> None:
    collect = Collect("worker")
    assert collect.submit(immunization(built_forms, UUID)).status_code == 201
    v2, v3 = (
        "uuid:22222222-1111-4222-8333-444455556666",
        "uuid:33333333-1111-4222-8333-444455556666",
    )
    assert (
        collect.submit(immunization(built_forms, v2, deprecatedID=UUID, aefi="yes")).status_code
        == 201
    )
    assert (
        collect.submit(immunization(built_forms, v3, deprecatedID=v2, village="新村")).status_code
        == 201
    )
    doc = cradle_db("submissions").get(UUID)
    assert (doc["instance_id"], doc["edits"], doc["village"]) == (v3, 2, "新村")
    # deprecating v2 again (an intermediate version) is stale
    late = immunization(built_forms, "uuid:44444444-1111-4222-8333-444455556666", deprecatedID=v2)
    assert collect.submit(late).status_code == 409


@pytest.mark.parametrize(
    ("values", "status", "code", "message"),
    [
        ({"township": "450999101"}, 422, "unknown_township", "Unknown township 450999101."),
        (
            {"township": OTHER_COUNTY_TOWNSHIP},
            403,
            "outside_scope",
            f"You may not submit data for township {OTHER_COUNTY_TOWNSHIP}.",
        ),
        ({"vaccination_date": "2099-01-01"}, 422, "future_date", "cannot be in the future"),
        (
            {"vaccination_date": "2025-04-30"},
            422,
            "before_birth",
            "cannot be before the date of birth",
        ),
        ({"doses_given": "hepb3 flu9"}, 422, "invalid_choice", "doses_given has an invalid choice"),
        ({"child_id": "12"}, 422, "invalid_pattern", "child_id has the wrong format"),
    ],
)
def test_invalid_content_is_refused_with_reason_and_kept(
    server, users, built_forms, values, status, code, message
) -> None:
    xml = immunization(built_forms, UUID, **values)
    response = Collect("worker").submit(xml)
    assert response.status_code == status
    assert 'nature="error"' in response.content.decode()
    assert message in response.content.decode()
    assert cradle_db("submissions").get(UUID) is None
    held = cradle_db("quarantine").find({"instance_id": UUID}).docs
    assert len(held) == 1
    assert held[0]["reasons"][0]["code"] == code
    assert held[0]["submitter"] == "worker"


def test_repeated_wrong_passwords_lock_out_that_user_and_address(server, users, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert Collect("worker", "guess").request("GET", "/formList").status_code == 401
    third = Collect("worker", "guess").request("GET", "/formList")
    assert third.status_code == 429
    assert third["Retry-After"] == "900"
    assert third["X-OpenRosa-Version"] == "1.0"
    assert "Too many failed logins" in third.content.decode()
    # even the right password waits out the cool-off; another user is not affected
    assert Collect("worker").request("GET", "/formList").status_code == 429
    assert Collect("sup").request("GET", "/formList").status_code == 200
