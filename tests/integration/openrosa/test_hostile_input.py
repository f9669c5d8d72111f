"""Broken and hostile submissions: each gets a specific 4xx, is kept in quarantine with its
reason, and never reaches the submissions database."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from server.core.couch import cradle_db
from tests.integration.openrosa.conftest import Collect, immunization
from tests.support.openrosa import digest_authorization

pytestmark = pytest.mark.django_db

UUID = "uuid:0badf00d-0000-4000-8000-000000000001"


def _held() -> list[dict]:
    return cradle_db("quarantine").find({"type": "quarantine"}).docs


def _submissions() -> list[dict]:
    return cradle_db("submissions").find({"type": "submission"}).docs


DTD = b'<?xml version="1.0"?><!DOCTYPE data [<!ELEMENT data ANY>]><data id="immunization"/>'
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<data id="immunization" version="2026112801"><location><village>&xxe;</village>'
    b"</location><meta><instanceID>uuid:0badf00d-0000-4000-8000-000000000002</instanceID>"
    b"</meta></data>"
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<data id="immunization">&lol3;</data>'
)


def _case(name: str, built_forms) -> tuple[bytes, int, str]:
    valid = immunization(built_forms, UUID)
    return {
        "malformed": (b'<data id="immunization"><unclosed>', 400, "malformed_xml"),
        "dtd": (DTD, 400, "dtd_forbidden"),
        "xxe": (XXE, 400, "dtd_forbidden"),
        "billion_laughs": (LAUGHS, 400, "dtd_forbidden"),
        "huge": (
            valid.replace(b"</data>", b"<pad>" + b"x" * 3_000_000 + b"</pad></data>"),
            413,
            "too_large",
        ),
        "unknown_form": (
            valid.replace(b'id="immunization"', b'id="measles_campaign"'),
            404,
            "unknown_form",
        ),
        "old_version": (
            re.sub(rb'version="\d+"', b'version="2025010101"', valid, count=1),
            409,
            "unknown_version",
        ),
        "no_instance_id": (valid.replace(UUID.encode(), b""), 400, "missing_instance_id"),
        "bad_instance_id": (
            valid.replace(UUID.encode(), b"<script>"[:0] + b"x y"),
            400,
            "malformed_instance_id",
        ),
        "invalid_utf8": (
            valid.replace("弄岗村".encode(), b"\xff\xfe\xfa"),
            400,
            "invalid_encoding",
        ),
        "control_chars": (valid.replace("弄岗村".encode(), b"a\x07b"), 400, "control_characters"),
        "future": (
            immunization(built_forms, UUID, vaccination_date="2999-01-01"),
            422,
            "future_date",
        ),
        "empty": (b"", 400, "empty_body"),
    }[name]


CASES = [
    "malformed", "dtd", "xxe", "billion_laughs", "huge", "unknown_form", "old_version",
    "no_instance_id", "bad_instance_id", "invalid_utf8", "control_chars", "future", "empty",
]  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_hostile_submission_is_refused_and_kept(server, users, built_forms, name) -> None:
    xml, status, code = _case(name, built_forms)
    response = Collect("worker").submit(xml)
    assert response.status_code == status, response.content
    assert response["X-OpenRosa-Version"] == "1.0"
    assert b'<message nature="error">' in response.content
    assert _submissions() == []
    held = _held()
    assert len(held) == 1
    assert held[0]["reasons"][0]["code"] == code
    assert held[0]["http_status"] == status
    kept = cradle_db("quarantine").get_attachment(held[0]["_id"], "submission.xml")
    assert kept == xml[: 256 * 1024]
    # an oversize part is counted until the bound is passed, then skipped unread
    assert held[0]["size"] == len(xml) if status != 413 else held[0]["size"] > 2 * 1024 * 1024


def test_an_earlier_accepted_version_is_stored_with_its_version(server, users, built_forms) -> None:
    # tablets that have not fetched the children list's form still send 2026112801
    earlier = re.sub(rb'version="\d+"', b'version="2026112801"', immunization(built_forms, UUID))
    assert b'version="2026112801"' in earlier and b'version="2026112802"' not in earlier
    assert Collect("worker").submit(earlier).status_code == 201
    assert [(d["_id"], d["form_version"]) for d in _submissions()] == [(UUID, "2026112801")]
    assert _held() == []


def test_same_refused_bytes_twice_make_one_quarantine_document(server, users) -> None:
    for _ in range(2):
        assert Collect("worker").submit(DTD).status_code == 400
    assert len(_held()) == 1


def test_out_of_range_and_non_numeric_measures(server, users, built_forms) -> None:
    from tests.support.openrosa import fill

    base = {
        "start": "2026-11-20T09:00:00.000+08:00",
        "end": "2026-11-20T09:12:00.000+08:00",
        "today": "2026-11-20",
        "deviceid": "collect:tablet01",
        "county": "450123",
        "township": "450123101",
        "village": "弄岗村",
        "child_id": "450123202505010001",
        "child_name": "梁宇",
        "child_sex": "male",
        "child_dob": "2025-05-01",
        "distribution_date": "2026-01-10",
        "packs_given": "30",
        "packs_eaten_7d": "5",
        "counselling": "yes",
        "weight_kg": "99",
        "measured_lying": "yes",
        "length_cm": "abc",
        "oedema": "no",
    }
    xml = fill(built_forms / "nutrition_pack.xml", base, UUID)
    response = Collect("worker").submit(xml)
    assert response.status_code == 422
    reasons = [(r["code"], r["field"]) for r in _held()[0]["reasons"]]
    assert reasons == [("not_a_number", "length_cm"), ("out_of_range", "weight_kg")]
    assert "weight_kg is out of range (99.0 &gt; 25)." in response.content.decode()


def _signed_post(path: str, **kwargs):
    client = Client()
    challenge = client.head("/submission")["WWW-Authenticate"]
    header = digest_authorization(challenge, "POST", path, "worker", "field-pass-2026")
    return client.post(path, HTTP_AUTHORIZATION=header, **kwargs)


def test_wrong_content_type_is_400_and_kept(server, users, built_forms) -> None:
    xml = immunization(built_forms, UUID)
    response = _signed_post("/submission", data=xml, content_type="application/xml")
    assert response.status_code == 400
    assert "Wrong content type: expected multipart/form-data (application/xml)." in (
        response.content.decode()
    )
    held = _held()
    assert [r["code"] for r in held[0]["reasons"]] == ["wrong_content_type"]
    assert cradle_db("quarantine").get_attachment(held[0]["_id"], "submission.xml") == xml


def test_missing_xml_part_is_400_and_the_other_parts_kept(server, users) -> None:
    photo = SimpleUploadedFile("photo.jpg", b"\xff\xd8photo", "image/jpeg")
    response = _signed_post("/submission", data={"photo.jpg": photo})
    assert response.status_code == 400
    assert "The xml_submission_file part is missing." in response.content.decode()
    held = _held()
    assert sorted(held[0]["_attachments"]) == ["media/photo.jpg", "submission.xml"]


def test_huge_attachment_is_413_and_the_submission_kept(
    server, users, built_forms, settings
) -> None:
    settings.CRADLE_LIMITS = {**settings.CRADLE_LIMITS, "MAX_ATTACHMENT_BYTES": 100_000}
    xml = immunization(built_forms, UUID)
    response = Collect("worker").submit(xml, {"huge.jpg": b"\xff" * 150_000})
    assert response.status_code == 413
    assert "Attachment huge.jpg is too large" in response.content.decode()
    held = _held()
    assert held[0]["reasons"][0]["code"] == "attachment_too_large"
    assert cradle_db("quarantine").get_attachment(held[0]["_id"], "submission.xml") == xml
    assert _submissions() == []


def test_script_and_sql_like_text_is_stored_as_text(server, users, built_forms) -> None:
    village = "<script>alert(1)</script>'; DROP TABLE x;--"
    xml = immunization(built_forms, UUID, village=village)
    assert Collect("worker").submit(xml).status_code == 201
    assert cradle_db("submissions").get(UUID)["village"] == village
