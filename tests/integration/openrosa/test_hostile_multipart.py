"""Hostile multipart bodies (issue 15, item 11): each is an OpenRosa refusal a tablet and a
person can read (never Django's HTML page, never a misleading reason), kept in
quarantine, and nothing reaches the submissions database."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from server.core.couch import cradle_db
from tests.integration.openrosa.conftest import TOWNSHIP, immunization
from tests.support.openrosa import digest_authorization

pytestmark = pytest.mark.django_db

UUID = "uuid:0badf00d-0000-4000-8000-00000000a001"
OTHER = "uuid:0badf00d-0000-4000-8000-00000000a002"


def _xml_part(xml: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("submission.xml", xml, "text/xml")


def _post(data, **kwargs):
    """A post signed as the health worker's tablet would sign it, with any body."""
    client = Client()
    challenge = client.head("/submission")["WWW-Authenticate"]
    header = digest_authorization(challenge, "POST", "/submission", "worker", "field-pass-2026")
    return client.post("/submission", data=data, HTTP_AUTHORIZATION=header, **kwargs)


def _body(name: str, xml: bytes, other: bytes) -> tuple[dict, dict]:
    """(data, extra post arguments) of one hostile post."""
    photo = b"\xff\xd8photo"
    return {
        "two_instances": ({"xml_submission_file": [_xml_part(xml), _xml_part(other)]}, {}),
        "too_many_fields": (
            {"xml_submission_file": _xml_part(xml), **{f"f{i}": "x" for i in range(1001)}},
            {},
        ),
        "too_many_attachments": (
            {
                "xml_submission_file": _xml_part(xml),
                **{f"p{i}.jpg": SimpleUploadedFile(f"p{i}.jpg", photo) for i in range(101)},
            },
            {},
        ),
        "long_part_name": ({"xml_submission_file": _xml_part(xml), "n" * 2000: "x"}, {}),
        "no_boundary": (xml, {"content_type": "multipart/form-data"}),
    }[name]


CASES = {
    "two_instances": (
        400,
        "multiple_xml",
        "Send one xml_submission_file part per post (2 were sent).",
    ),
    "too_many_fields": (
        400,
        "too_many_fields",
        "Too many multipart fields (more than 1000); Collect sends only files.",
    ),
    "too_many_attachments": (413, "too_many_attachments", "Too many attachments (more than 100)."),
    "long_part_name": (
        400,
        "part_header_too_large",
        "A part&#x27;s name or file name is too long (over 1024 bytes).",
    ),
    "no_boundary": (
        400,
        "malformed_multipart",
        "The multipart body is malformed (Invalid boundary in multipart: None).",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_multipart_is_refused_readably_and_kept(server, users, built_forms, name) -> None:
    status, code, message = CASES[name]
    xml = immunization(built_forms, UUID)
    data, extra = _body(name, xml, immunization(built_forms, OTHER, aefi="yes"))
    response = _post(data, **extra)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response["X-OpenRosa-Version"] == "1.0"
    text = response.content.decode()
    assert '<message nature="error">' in text
    assert message in text.replace("'", "&#x27;"), text
    assert cradle_db("submissions").find({"type": "submission"}).docs == []
    [held] = cradle_db("quarantine").find({"type": "quarantine"}).docs
    assert ([r["code"] for r in held["reasons"]], held["http_status"]) == ([code], status)
    if name != "no_boundary":  # the instance came first: its bytes are kept
        kept = cradle_db("quarantine").get_attachment(held["_id"], "submission.xml")
        assert kept == xml


def test_two_instances_are_both_kept_and_stay_refused_when_reprocessed(
    server, users, built_forms
) -> None:
    first, second = immunization(built_forms, UUID), immunization(built_forms, OTHER)
    response = _post({"xml_submission_file": [_xml_part(first), _xml_part(second)]})
    assert response.status_code == 400
    [held] = cradle_db("quarantine").find({"type": "quarantine"}).docs
    assert sorted(held["_attachments"]) == ["submission-2.xml", "submission.xml"]
    quarantine = cradle_db("quarantine")
    assert quarantine.get_attachment(held["_id"], "submission.xml") == first
    assert quarantine.get_attachment(held["_id"], "submission-2.xml") == second
    # the first instance says where it belongs, so its supervisor sees it in the list
    assert (held["instance_id"], held["township_code"], held["submitter"]) == (
        UUID,
        TOWNSHIP,
        "worker",
    )

    client = APIClient()
    client.force_login(get_user_model().objects.get(username="sup"))
    again = client.post(f"/api/quarantine/{held['_id']}/reprocess").json()
    assert (again["accepted"], [r["code"] for r in again["reasons"]]) == (False, ["multiple_xml"])
    assert cradle_db("submissions").find({"type": "submission"}).docs == []
    assert cradle_db("quarantine").get(held["_id"])["status"] == "open"
