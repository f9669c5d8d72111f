"""A Cradle server on real CouchDB databases, real built forms and real users."""

from __future__ import annotations

from pathlib import Path

from django.test import Client

from tests.support.openrosa import digest_authorization, fill

TOWNSHIP = "450123101"
COUNTY = "450123"
OTHER_TOWNSHIP = "450123102"
OTHER_COUNTY_TOWNSHIP = "450124101"
PASSWORD = "field-pass-2026"


class Collect:
    """Talks to Cradle as ODK Collect does: unauthenticated first, then Digest."""

    def __init__(self, username: str, password: str = PASSWORD) -> None:
        self.client = Client()
        self.username, self.password = username, password

    def request(self, method: str, path: str, **kwargs):
        call = getattr(self.client, method.lower())
        first = call(path, **kwargs)
        if first.status_code != 401:
            return first
        header = digest_authorization(
            first["WWW-Authenticate"], method.upper(), path, self.username, self.password
        )
        return call(path, HTTP_AUTHORIZATION=header, **kwargs)

    def submit(self, xml: bytes, attachments: dict[str, bytes] | None = None, **extra):
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = {"xml_submission_file": SimpleUploadedFile("submission.xml", xml, "text/xml")}
        for name, content in (attachments or {}).items():
            data[name] = SimpleUploadedFile(name, content, "image/jpeg")
        data.update(extra)
        # As Collect does: HEAD first, answer the challenge, then POST with credentials.
        challenge = self.client.head("/submission")["WWW-Authenticate"]
        header = digest_authorization(
            challenge, "POST", "/submission", self.username, self.password
        )
        return self.client.post("/submission", data=data, HTTP_AUTHORIZATION=header)


#: A valid immunization visit in the health worker's township, as a tablet would fill it.
IMMUNIZATION_VALUES = {
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
    "doses_given": "hepb3 mpsva1",
    "aefi": "no",
}


def immunization(built_forms: Path, instance_id: str | None = None, **values: str) -> bytes:
    return fill(built_forms / "immunization.xml", {**IMMUNIZATION_VALUES, **values}, instance_id)
