"""HTTP Digest as RFC 7616 asks: a captured header cannot be sent again, the nonce count
must grow, RFC 2069 mode (no `qop`) is refused, and the `uri` is the path however it is
percent-encoded. One test logs in with httpx's own Digest client, so that Cradle and its
tests cannot share one misreading of the RFC."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from django.core import signals
from django.db import close_old_connections
from django.test import Client

from server.accounts import digest
from server.accounts.models import DigestNonce
from server.core.couch import cradle_db
from tests.integration.openrosa.conftest import PASSWORD, immunization

pytestmark = pytest.mark.integration

FIRST = "uuid:dddddddd-0000-4000-8000-000000000001"
SECOND = "uuid:dddddddd-0000-4000-8000-000000000002"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _challenge(response) -> dict[str, str]:
    header = response["WWW-Authenticate"]
    assert header.startswith("Digest ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def _authorization(
    nonce: str, method: str, uri: str, *, nc: int = 1, qop: bool = True, password: str = PASSWORD
) -> str:
    """A Digest header as RFC 7616 (or, without `qop`, RFC 2069) computes it."""
    ha1 = _md5(f"worker:Cradle:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if not qop:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
        return (
            f'Digest username="worker", realm="Cradle", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5'
        )
    count, cnonce = f"{nc:08x}", "0a4f113b"
    response = _md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="worker", realm="Cradle", nonce="{nonce}", uri="{uri}", '
        f'qop=auth, nc={count}, cnonce="{cnonce}", response="{response}", algorithm=MD5'
    )


def _nonce(client: Client, path: str = "/formList") -> str:
    return _challenge(client.get(path))["nonce"]


def test_a_replayed_header_is_refused_with_a_fresh_challenge(server, users) -> None:
    client = Client()
    nonce = _nonce(client)
    header = _authorization(nonce, "GET", "/formList")
    assert client.get("/formList", HTTP_AUTHORIZATION=header).status_code == 200

    replayed = Client(REMOTE_ADDR="10.20.30.40").get("/formList", HTTP_AUTHORIZATION=header)
    assert replayed.status_code == 401
    fresh = _challenge(replayed)
    assert fresh["nonce"] != nonce
    assert "stale" not in replayed["WWW-Authenticate"]
    assert digest.nonce_state(fresh["nonce"]) == "ok"


def test_a_captured_submission_header_cannot_post_another_submission(
    server, users, built_forms
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    def post(client: Client, header: str, instance_id: str):
        xml = immunization(built_forms, instance_id)
        data = {"xml_submission_file": SimpleUploadedFile("submission.xml", xml, "text/xml")}
        return client.post("/submission", data=data, HTTP_AUTHORIZATION=header)

    tablet = Client()
    nonce = _challenge(tablet.head("/submission"))["nonce"]
    header = _authorization(nonce, "POST", "/submission")
    assert post(tablet, header, FIRST).status_code == 201

    attacker = Client(REMOTE_ADDR="10.20.30.40")
    assert post(attacker, header, SECOND).status_code == 401
    assert cradle_db("submissions").get(FIRST) is not None
    assert cradle_db("submissions").get(SECOND) is None


def test_each_higher_nonce_count_is_accepted_once(server, users) -> None:
    client = Client()
    nonce = _nonce(client)

    def status(nc: int) -> int:
        header = _authorization(nonce, "GET", "/formList", nc=nc)
        return client.get("/formList", HTTP_AUTHORIZATION=header).status_code

    assert [status(nc) for nc in (1, 2, 2, 1, 16, 3, 17)] == [200, 200, 401, 401, 200, 401, 200]
    assert DigestNonce.objects.get(nonce=nonce).nc == 17


def test_two_challenges_in_the_same_second_carry_different_nonces(server, users) -> None:
    client = Client()
    nonces = {_nonce(client) for _ in range(5)}
    assert len(nonces) == 5
    for nonce in nonces:  # each answered with nc=1 by its own tablet
        header = _authorization(nonce, "GET", "/formList")
        assert Client().get("/formList", HTTP_AUTHORIZATION=header).status_code == 200


def test_rfc_2069_digest_without_qop_is_refused(server, users) -> None:
    client = Client()
    header = _authorization(_nonce(client), "GET", "/formList", qop=False)
    response = client.get("/formList", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert 'qop="auth"' in response["WWW-Authenticate"]


def test_an_equivalent_percent_encoding_of_the_path_is_accepted(server, users) -> None:
    client = Client()
    header = _authorization(_nonce(client), "GET", "/%66orm%4Cist")
    assert client.get("/%66orm%4Cist", HTTP_AUTHORIZATION=header).status_code == 200

    other = _authorization(_nonce(client), "HEAD", "/formList")
    assert client.head("/submission", HTTP_AUTHORIZATION=other).status_code == 401


def test_an_expired_or_old_style_nonce_asks_for_a_new_one(server, users) -> None:
    client = Client()
    expired = digest.make_nonce(now=time.time() - digest.NONCE_LIFETIME_S - 5)
    old_stamp = str(int(time.time()))
    old_style = base64.b64encode(f"{old_stamp}:{digest._sign(old_stamp)}".encode()).decode()
    for nonce in (expired, old_style):
        header = _authorization(nonce, "GET", "/formList")
        response = client.get("/formList", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].endswith(", stale=true")


def test_expired_nonce_records_are_cleaned_up(server, users, monkeypatch) -> None:
    now = time.time()
    old = digest.make_nonce(now=now - 3600)
    live = digest.make_nonce(now=now)
    monkeypatch.setattr(digest, "_last_clean_up", 0.0)
    assert digest.record_use(old, 1, now=now - 3600)  # cleans up nothing yet
    assert digest.record_use(live, 1, now=now)
    assert list(DigestNonce.objects.values_list("nonce", flat=True)) == [live]


@pytest.fixture
def wsgi_client(server, users) -> Iterator[httpx.Client]:
    """httpx, with its own `DigestAuth`, talking to Cradle's WSGI application in-process
    (the test's database connection stays open across requests, as Django's test client
    arranges too)."""
    from server.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        with httpx.Client(
            transport=httpx.WSGITransport(app=application),
            base_url="http://testserver",
            auth=httpx.DigestAuth("worker", PASSWORD),
            headers={"X-OpenRosa-Version": "1.0"},
        ) as client:
            yield client
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_collect_flow_with_httpx_digest_auth(wsgi_client: httpx.Client, built_forms) -> None:
    form_list = wsgi_client.get("/formList")
    assert form_list.status_code == 200
    assert "<formID>immunization</formID>" in form_list.text
    form = wsgi_client.get("/forms/immunization/form.xml")
    assert form.status_code == 200
    assert form.content == (built_forms / "immunization.xml").read_bytes()
    assert wsgi_client.head("/submission").status_code == 204
    for instance_id in (FIRST, SECOND):
        files = {"xml_submission_file": ("submission.xml", immunization(built_forms, instance_id))}
        response = wsgi_client.post("/submission", files=files)
        assert response.status_code == 201, response.text
        assert cradle_db("submissions").get(instance_id)["instance_id"] == instance_id
    # httpx answered the first challenge and then counted up on the same nonce, as Collect
    # does; the server saw every count once.
    assert list(DigestNonce.objects.values_list("nc", flat=True)) == [5]
