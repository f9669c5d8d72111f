"""The ODK Central double, exercised through the real pyodk client over HTTP."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pyodk._utils.session import Adapter
from pyodk.client import Client
from pyodk.errors import PyODKError
from pyxform.xls2xform import convert

from tests.doubles.central import CentralDouble, Problem

REPO = Path(__file__).resolve().parents[3]
EMAIL, PASSWORD = "admin@example.org", "correct horse"
T0 = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)

FORM_MD = """
| survey |
| | type | name | label |
| | text | respondent | Respondent |
| | integer | age | Age |
| | begin_group | details | Details |
| | geopoint | location | Location |
| | select_one colors | color | Color |
| | decimal | weight_kg | Weight |
| | select_multiple doses | doses_given | Doses |
| | date | visit_date | Visit date |
| | image | photo | Photo |
| | end_group | | |
| choices |
| | list_name | name | label |
| | colors | blue | Blue |
| | colors | red | Red |
| | doses | hepb3 | HepB3 |
| | doses | mpsva1 | MPSV-A1 |
| settings |
| | form_id | version | instance_name |
| | visit | 1 | ${respondent} |
"""


@pytest.fixture(scope="module")
def xform() -> bytes:
    return convert(xlsform=FORM_MD, file_type=".md").xform.encode()


def instance(
    iid: str,
    *,
    respondent: str = "Alice",
    age: str = "35",
    location: str = "-1.2864 36.8172 1650.5 5",
    doses: str = "hepb3 mpsva1",
    photo: str = "",
    deprecated: str | None = None,
) -> str:
    dep = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    return (
        f'<data id="visit" version="1"><respondent>{respondent}</respondent><age>{age}</age>'
        f"<details><location>{location}</location><color>blue</color>"
        f"<weight_kg>3.50</weight_kg><doses_given>{doses}</doses_given>"
        f"<visit_date>2026-11-01</visit_date><photo>{photo}</photo></details>"
        f"<meta>{dep}<instanceID>{iid}</instanceID><instanceName>{respondent}</instanceName>"
        "</meta></data>"
    )


def handler_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name == "central-double" or "process_request_thread" in t.name
    ]


@pytest.fixture
def central(xform: bytes) -> Iterator[CentralDouble]:
    double = CentralDouble(clock=T0)
    double.add_user(EMAIL, PASSWORD)
    pid = double.add_project("Cradle")
    double.add_form(pid, xform)
    with double:
        yield double
    assert handler_threads() == []
    assert double.errors == []


def write_config(tmp_path: Path, base_url: str, password: str = PASSWORD) -> Path:
    config = tmp_path / "pyodk_config.toml"
    config.write_text(
        f'[central]\nbase_url = "{base_url}"\nusername = "{EMAIL}"\n'
        f'password = "{password}"\ndefault_project_id = 1\n'
    )
    return config


@pytest.fixture
def client(central: CentralDouble, tmp_path: Path) -> Iterator[Client]:
    config = write_config(tmp_path, central.base_url)
    with Client(config_path=config, cache_path=tmp_path / "pyodk_cache.toml") as c:
        yield c


def ids(page: dict) -> list[str]:
    return [row["__id"] for row in page["value"]]


def seed(central: CentralDouble, n: int) -> list[str]:
    """n submissions, one second apart from T0 (uuid:s0 oldest)."""
    return [
        central.submit(1, "visit", instance(f"uuid:s{i}"), at=T0 + timedelta(seconds=i))
        for i in range(n)
    ]


# -- authentication ------------------------------------------------------------------


def test_pyodk_logs_in_once_and_reuses_its_cached_token(central, tmp_path):
    config, cache = write_config(tmp_path, central.base_url), tmp_path / "cache.toml"
    with Client(config_path=config, cache_path=cache) as first:
        assert first.projects.list()[0].name == "Cradle"
    token = cache.read_text()
    with Client(config_path=config, cache_path=cache) as second:
        assert second.forms.list()[0].xmlFormId == "visit"

    assert cache.read_text() == token
    assert [(r.method, r.path, r.status) for r in central.requests] == [
        ("POST", "/v1/sessions", 200),
        ("GET", "/v1/projects", 200),
        ("GET", "/v1/users/current", 200),
        ("GET", "/v1/projects/1/forms", 200),
    ]


def test_wrong_password_raises_pyodk_error_with_central_401_2(central, tmp_path):
    config = write_config(tmp_path, central.base_url, password="wrong")
    with pytest.raises(PyODKError) as raised:
        Client(config_path=config, cache_path=tmp_path / "cache.toml").open()
    response = raised.value.args[1]
    assert response.status_code == 401
    assert response.json() == {
        "message": "Could not authenticate with the provided credentials.",
        "code": 401.2,
    }


def test_requests_without_a_session_are_refused(central):
    url = f"{central.base_url}/v1/projects"
    assert requests.get(url, timeout=5).json()["code"] == 401.2
    basic = requests.get(url, auth=(EMAIL, PASSWORD), timeout=5)
    assert (basic.status_code, basic.json()) == (
        401,
        {"message": "This authentication method is only available over HTTPS", "code": 401.3},
    )
    bogus = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert bogus.json()["code"] == 401.2


def test_basic_auth_is_accepted_behind_an_https_proxy(central):
    response = requests.get(
        f"{central.base_url}/v1/projects/1",
        auth=(EMAIL, PASSWORD),
        headers={"X-Forwarded-Proto": "https"},
        timeout=5,
    )
    assert (response.status_code, response.json()["name"]) == (200, "Cradle")


def test_session_json_and_timestamps_are_central_shaped(central):
    body = requests.post(
        f"{central.base_url}/v1/sessions", json={"email": EMAIL, "password": PASSWORD}, timeout=5
    ).json()
    assert set(body) == {"token", "csrf", "expiresAt", "createdAt"}
    assert len(body["token"]) == 64
    assert body["createdAt"] == "2026-11-28T13:00:00.000Z"
    assert body["expiresAt"] == "2026-11-29T13:00:00.000Z"


def test_a_user_limited_to_another_project_gets_403_1(central, tmp_path):
    central.add_project("Other")
    central.add_user("viewer@example.org", "pw", projects=[2])
    token = requests.post(
        f"{central.base_url}/v1/sessions",
        json={"email": "viewer@example.org", "password": "pw"},
        timeout=5,
    ).json()["token"]
    response = requests.get(
        f"{central.base_url}/v1/projects/1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert (response.status_code, response.json()["code"]) == (403, 403.1)


# -- OData feed ----------------------------------------------------------------------


def test_rows_are_typed_like_central(central, client):
    iid = central.submit(1, "visit", instance("uuid:a1", photo="p.jpg"), device_id="collect:X1")
    central.submit(
        1,
        "visit",
        instance("uuid:a2", age="", location="", doses=""),
        at=T0 + timedelta(milliseconds=1),
    )

    page = client.submissions.get_table(form_id="visit")
    assert page["@odata.context"] == (
        f"{central.base_url}/v1/projects/1/forms/visit.svc/$metadata#Submissions"
    )
    assert ids(page) == ["uuid:a2", iid]
    assert page["value"][1] == {
        "respondent": "Alice",
        "age": 35,
        "details": {
            "location": {
                "type": "Point",
                "coordinates": [36.8172, -1.2864, 1650.5],
                "properties": {"accuracy": 5},
            },
            "color": "blue",
            "weight_kg": 3.5,
            "doses_given": "hepb3 mpsva1",
            "visit_date": "2026-11-01",
            "photo": "p.jpg",
        },
        "meta": {"instanceID": "uuid:a1", "instanceName": "Alice"},
        "__id": "uuid:a1",
        "__system": {
            "submissionDate": "2026-11-28T13:00:00.000Z",
            "updatedAt": None,
            "submitterId": "2",
            "submitterName": "collector",
            "attachmentsPresent": 0,
            "attachmentsExpected": 1,
            "status": None,
            "reviewState": None,
            "deviceId": "collect:X1",
            "edits": 0,
            "formVersion": "1",
            "deletedAt": None,
        },
    }
    empty = page["value"][0]
    assert (empty["age"], empty["details"]["location"], empty["details"]["doses_given"]) == (
        None,
        None,
        None,
    )
    assert empty["details"]["photo"] is None


def test_wkt_and_select(central, client):
    central.submit(1, "visit", instance("uuid:w1"))
    wkt = client.submissions.get_table(form_id="visit", wkt=True)["value"][0]
    assert wkt["details"]["location"] == "POINT (36.8172 -1.2864 1650.5)"
    picked = client.submissions.get_table(
        form_id="visit", select="__id,age,details/color,__system/reviewState"
    )["value"]
    assert picked == [
        {
            "age": 35,
            "details": {"color": "blue"},
            "__id": "uuid:w1",
            "__system": {"reviewState": None},
        }
    ]


def test_rows_come_newest_first_whatever_the_insertion_order(central, client):
    for name, second in [("uuid:b", 2), ("uuid:c", 3), ("uuid:a", 1)]:
        central.submit(1, "visit", instance(name), at=T0 + timedelta(seconds=second))
    central.submit(1, "visit", instance("uuid:a-twin"), at=T0 + timedelta(seconds=1))
    assert ids(client.submissions.get_table(form_id="visit")) == [
        "uuid:c",
        "uuid:b",
        "uuid:a-twin",
        "uuid:a",
    ]


def test_paging_with_top_count_and_the_skiptoken_next_link(central, client):
    seed(central, 5)
    first = client.submissions.get_table(form_id="visit", top=2, count=True)
    assert ids(first) == ["uuid:s4", "uuid:s3"]
    assert first["@odata.count"] == 5
    link = first["@odata.nextLink"]
    assert link.startswith(f"{central.base_url}/v1/projects/1/forms/visit.svc/Submissions?")
    assert "%24skiptoken=01" in link
    token = parse_qs(urlsplit(link).query)["$skiptoken"][0]
    assert json.loads(base64.b64decode(token[2:])) == {"instanceId": "uuid:s3"}

    second = client.session.get(link).json()
    assert ids(second) == ["uuid:s2", "uuid:s1"]
    assert second["@odata.count"] == 5
    third = client.session.get(second["@odata.nextLink"]).json()
    assert ids(third) == ["uuid:s0"]
    assert "@odata.nextLink" not in third


def test_skip_pages_and_its_next_link_drops_skip(central, client):
    seed(central, 5)
    page = client.submissions.get_table(form_id="visit", skip=1, top=2)
    assert ids(page) == ["uuid:s3", "uuid:s2"]
    assert "%24skip=" not in page["@odata.nextLink"]
    assert ids(client.session.get(page["@odata.nextLink"]).json()) == ["uuid:s1", "uuid:s0"]
    assert "@odata.nextLink" not in client.submissions.get_table(form_id="visit", top=5)


def test_orderby_and_single_row(central, client):
    seed(central, 3)
    central.set_review_state(1, "visit", "uuid:s2", "approved")
    page = client.session.get(
        "projects/1/forms/visit.svc/Submissions",
        params={"$orderby": "__system/updatedAt desc,__system/submissionDate asc"},
    ).json()
    assert ids(page) == ["uuid:s2", "uuid:s0", "uuid:s1"]
    one = client.session.get("projects/1/forms/visit.svc/Submissions('uuid:s1')").json()
    assert ids(one) == ["uuid:s1"]


def test_top_zero_with_count_returns_only_the_count(central, client):
    seed(central, 3)
    page = client.submissions.get_table(form_id="visit", top=0, count=True)
    assert (page["value"], page["@odata.count"]) == ([], 3)


def test_incremental_filter_sees_new_and_updated_rows(central, client):
    seed(central, 4)
    since = "2026-11-28T13:00:02.000Z"
    central.set_review_state(1, "visit", "uuid:s0", "approved", at=T0 + timedelta(minutes=5))
    page = client.submissions.get_table(
        form_id="visit",
        count=True,
        filter=f"__system/submissionDate gt {since} or __system/updatedAt gt {since}",
    )
    assert ids(page) == ["uuid:s3", "uuid:s0"]
    assert page["@odata.count"] == 2


def test_filter_grammar_and_null(central, client):
    seed(central, 4)
    central.set_review_state(1, "visit", "uuid:s1", "hasIssues")
    table = client.submissions.get_table
    assert ids(table(form_id="visit", filter="__system/updatedAt eq null")) == [
        "uuid:s3",
        "uuid:s2",
        "uuid:s0",
    ]
    assert ids(table(form_id="visit", filter="__system/reviewState eq 'hasIssues'")) == ["uuid:s1"]
    expr = (
        "(__system/submissionDate ge 2026-11-28T13:00:01Z and "
        "__system/submissionDate lt 2026-11-28T13:00:03Z) or __id eq 'uuid:s0'"
    )
    assert ids(table(form_id="visit", filter=expr)) == ["uuid:s2", "uuid:s1", "uuid:s0"]
    assert ids(table(form_id="visit", filter="not (__system/updatedAt eq null)")) == ["uuid:s1"]
    assert ids(table(form_id="visit", filter="__system/updatedAt gt null")) == []


def test_sub_millisecond_times_match_their_own_serialized_date(central, client):
    """PostgreSQL keeps microseconds; JSON shows milliseconds: `gt` the shown value matches."""
    central.submit(1, "visit", instance("uuid:m"), at=T0 + timedelta(microseconds=355_123))
    row = client.submissions.get_table(form_id="visit")["value"][0]
    assert row["__system"]["submissionDate"] == "2026-11-28T13:00:00.355Z"
    shown = row["__system"]["submissionDate"]
    assert ids(
        client.submissions.get_table(form_id="visit", filter=f"__system/submissionDate gt {shown}")
    ) == ["uuid:m"]


def test_bad_filters_and_tokens_get_central_errors(central, client):
    table = client.submissions.get_table
    cases = [
        ({"filter": "__system/submissionDate gt"}, 400, 400.18),
        ({"filter": "age gt 3"}, 501, 501.5),
        ({"filter": "__system/submissionDate gt 2026-11-28T13:00:00Z", "expand": "x"}, 501, 501.6),
    ]
    for kwargs, status, code in cases:
        with pytest.raises(PyODKError) as raised:
            table(form_id="visit", **kwargs)
        assert (raised.value.args[1].status_code, raised.value.args[1].json()["code"]) == (
            status,
            code,
        )
    bad_token = client.session.get("projects/1/forms/visit.svc/Submissions?$skiptoken=xyz")
    assert (bad_token.status_code, bad_token.json()["code"]) == (400, 400.35)
    assert table(form_id="visit", expand="*")["value"] == []


def test_a_new_form_version_keeps_old_rows_form_version(central, client, xform):
    central.submit(1, "visit", instance("uuid:v1"))
    central.add_form(1, xform.replace(b'version="1"', b'version="2"'))
    with pytest.raises(Problem) as again:
        central.add_form(1, xform)
    assert again.value.code == 409.6
    central.clock = T0 + timedelta(minutes=1)
    central.submit(1, "visit", instance("uuid:v2").replace('version="1"', 'version="2"'))
    rows = client.submissions.get_table(form_id="visit")["value"]
    assert [(r["__id"], r["__system"]["formVersion"]) for r in rows] == [
        ("uuid:v2", "2"),
        ("uuid:v1", "1"),
    ]
    assert client.forms.get("visit").version == "2"
    assert [s.instanceId for s in client.submissions.list(form_id="visit")] == [
        "uuid:v2",
        "uuid:v1",
    ]
    with pytest.raises(Problem) as unknown:
        central.submit(1, "visit", instance("uuid:v3").replace('version="1"', 'version="9"'))
    assert unknown.value.code == 404.6


def test_unknown_form_is_404_1(client):
    with pytest.raises(PyODKError) as raised:
        client.submissions.get_table(form_id="nope")
    assert raised.value.args[1].status_code == 404
    assert raised.value.args[1].json() == {
        "message": "Could not find the resource you were looking for.",
        "code": 404.1,
    }


def test_service_document_and_metadata(central, client):
    doc = client.session.get("projects/1/forms/visit.svc").json()
    assert doc["value"] == [{"name": "Submissions", "kind": "EntitySet", "url": "Submissions"}]
    edmx = client.session.get("projects/1/forms/visit.svc/$metadata").text
    assert '<Property Name="age" Type="Edm.Int64"/>' in edmx
    assert '<Property Name="location" Type="Edm.GeographyPoint"/>' in edmx


# -- edits, reviews, deletions -------------------------------------------------------


def test_an_edit_keeps_id_and_counts_up(central, client):
    central.submit(1, "visit", instance("uuid:orig"))
    central.clock.set(T0 + timedelta(hours=1, microseconds=563_000))
    client.submissions.edit(
        "uuid:orig",
        instance("uuid:v2", respondent="Alice Edited", deprecated="uuid:orig"),
        form_id="visit",
    )
    row = client.submissions.get_table(form_id="visit")["value"][0]
    assert (row["__id"], row["meta"]["instanceID"], row["respondent"]) == (
        "uuid:orig",
        "uuid:v2",
        "Alice Edited",
    )
    assert {k: row["__system"][k] for k in ("edits", "reviewState", "updatedAt")} == {
        "edits": 1,
        "reviewState": "edited",
        "updatedAt": "2026-11-28T14:00:00.563Z",
    }
    assert row["__system"]["submissionDate"] == "2026-11-28T13:00:00.000Z"
    assert client.get("projects/1/forms/visit/submissions/uuid:orig.xml").text == instance(
        "uuid:v2", respondent="Alice Edited", deprecated="uuid:orig"
    )
    rest = client.submissions.get("uuid:orig", form_id="visit")
    assert (rest.instanceId, rest.reviewState, rest.submitterId) == ("uuid:orig", "edited", 2)


def test_central_duplicate_and_edit_rules(central):
    first = instance("uuid:d1")
    assert central.submit(1, "visit", first) == "uuid:d1"
    assert central.submit(1, "visit", first) == "uuid:d1"  # identical: nothing new
    with pytest.raises(Problem) as conflict:
        central.submit(1, "visit", instance("uuid:d1", age="36"))
    assert conflict.value.code == 409.1
    edit = instance("uuid:d2", age="36", deprecated="uuid:d1")
    assert central.submit(1, "visit", edit) == "uuid:d1"
    assert central.submit(1, "visit", edit) == "uuid:d1"  # a retried edit is a no-op
    with pytest.raises(Problem) as stale:
        central.submit(1, "visit", instance("uuid:d3", age="37", deprecated="uuid:d1"))
    assert stale.value.code == 409.9
    with pytest.raises(Problem) as missing:
        central.submit(1, "visit", instance("uuid:d4", deprecated="uuid:zzz"))
    assert missing.value.code == 404.5
    assert central.row(1, "visit", "uuid:d1")["__system"]["edits"] == 1


def test_put_edit_naming_an_old_version_is_409_9(central, client):
    central.submit(1, "visit", instance("uuid:p1"))
    client.submissions.edit("uuid:p1", instance("uuid:p2", deprecated="uuid:p1"), form_id="visit")
    with pytest.raises(PyODKError) as raised:
        client.submissions.edit(
            "uuid:p1", instance("uuid:p3", deprecated="uuid:p1"), form_id="visit"
        )
    assert raised.value.args[1].json()["code"] == 409.9


def test_a_review_sets_updated_at_but_not_edits(central, client):
    central.submit(1, "visit", instance("uuid:r1"))
    central.clock.advance(minutes=2)
    client.submissions.review("uuid:r1", "approved", form_id="visit")
    system = client.submissions.get_table(form_id="visit")["value"][0]["__system"]
    assert (system["reviewState"], system["edits"], system["updatedAt"]) == (
        "approved",
        0,
        "2026-11-28T13:02:00.000Z",
    )


def test_soft_delete_hides_the_row_until_asked_for_and_restore(central, client):
    seed(central, 3)
    central.soft_delete(1, "visit", "uuid:s1", at=T0 + timedelta(hours=1))
    assert ids(client.submissions.get_table(form_id="visit", count=True)) == [
        "uuid:s2",
        "uuid:s0",
    ]
    deleted = client.submissions.get_table(
        form_id="visit", filter="__system/deletedAt ne null", count=True
    )
    assert (ids(deleted), deleted["@odata.count"]) == (["uuid:s1"], 1)
    assert deleted["value"][0]["__system"]["deletedAt"] == "2026-11-28T14:00:00.000Z"
    with pytest.raises(PyODKError):
        client.submissions.get("uuid:s1", form_id="visit")
    central.restore(1, "visit", "uuid:s1")
    assert ids(client.submissions.get_table(form_id="visit")) == ["uuid:s2", "uuid:s1", "uuid:s0"]
    central.soft_delete(1, "visit", "uuid:s1")
    with pytest.raises(Problem) as resubmit:
        central.submit(1, "visit", instance("uuid:s1"))
    assert resubmit.value.code == 409.18


# -- REST submissions and attachments -------------------------------------------------


def test_create_by_rest_and_duplicate_is_409_3(central, client, tmp_path):
    created = client.submissions.create(
        instance("uuid:n1"), form_id="visit", device_id="pyodk-test"
    )
    assert (created.instanceId, created.deviceId, created.userAgent) == (
        "uuid:n1",
        "pyodk-test",
        "pyodk v1.3.0",
    )
    with pytest.raises(PyODKError) as raised:
        client.submissions.create(instance("uuid:n1"), form_id="visit")
    assert raised.value.args[1].json()["code"] == 409.3


def test_attachments_are_listed_and_downloaded(central, client, tmp_path):
    central.submit(1, "visit", instance("uuid:f1", photo="p.jpg"), {"p.jpg": b"\xff\xd8JPEG"})
    base = "projects/1/forms/visit/submissions/uuid:f1/attachments"
    assert client.get(base).json() == [{"name": "p.jpg", "exists": True}]
    photo = client.get(f"{base}/p.jpg")
    assert (photo.content, photo.headers["Content-Type"]) == (b"\xff\xd8JPEG", "image/jpeg")

    path = tmp_path / "q.jpg"
    path.write_bytes(b"QQ")
    made = client.submissions.create(
        instance("uuid:f2", photo="q.jpg"), form_id="visit", attachments=[path]
    )
    assert [(a.name, a.exists) for a in made.attachments] == [("q.jpg", True)]
    row = client.submissions.get_table(form_id="visit")["value"][0]["__system"]
    assert (row["attachmentsPresent"], row["attachmentsExpected"]) == (1, 1)


# -- OpenRosa ------------------------------------------------------------------------


def test_collect_submission_route(central):
    token = central.add_app_user(1, "Tablet 7")
    url = f"{central.base_url}/v1/key/{token}/projects/1/submission"
    headers = {"X-OpenRosa-Version": "1.0"}
    head = requests.head(url, headers=headers, timeout=5)
    assert head.status_code == 204
    assert head.headers["X-OpenRosa-Accept-Content-Length"] == "100000000"

    def post(xml: str) -> requests.Response:
        files = {
            "xml_submission_file": ("submission.xml", xml, "text/xml"),
            "p.jpg": ("p.jpg", b"JPG", "image/jpeg"),
        }
        return requests.post(
            url, files=files, headers=headers, timeout=5, params={"deviceID": "collect:T7"}
        )

    created = post(instance("uuid:o1", photo="p.jpg"))
    assert (created.status_code, created.headers["X-OpenRosa-Version"]) == (201, "1.0")
    assert "full submission upload was successful!" in created.text
    assert post(instance("uuid:o1", photo="p.jpg")).status_code == 201
    conflict = post(instance("uuid:o1", age="1"))
    assert conflict.status_code == 409
    assert 'nature="error"' in conflict.text
    system = central.row(1, "visit", "uuid:o1")["__system"]
    assert (system["submitterName"], system["deviceId"], system["attachmentsPresent"]) == (
        "Tablet 7",
        "collect:T7",
        1,
    )
    no_version = requests.post(url, files={"xml_submission_file": ("s.xml", b"<x/>")}, timeout=5)
    assert no_version.status_code == 400


def test_dtd_in_a_submission_is_stored_as_literal_text(central):
    xml = '<?xml version="1.0"?><!DOCTYPE data [<!ENTITY lol "lol">]>' + instance(
        "uuid:x1", respondent="&lol;"
    )
    central.submit(1, "visit", xml)
    assert central.row(1, "visit", "uuid:x1")["respondent"] == "&lol;"


# -- faults and the request log ------------------------------------------------------


def test_429_then_success_with_pyodks_retrying_adapter(central, client):
    central.faults.add(r"\.svc/Submissions", "status:429", times=1, retry_after=0)
    with pytest.raises(PyODKError) as raised:  # over http:// pyodk does not retry
        client.submissions.get_table(form_id="visit")
    assert raised.value.args[1].headers["Retry-After"] == "0"

    central.faults.add(r"\.svc/Submissions", "status:429", times=1, retry_after=0)
    client.session.mount("http://", Adapter(timeout=5))  # pyodk's https:// retry policy
    assert client.submissions.get_table(form_id="visit")["value"] == []
    statuses = [(r.status, r.fault) for r in central.requests if r.path.endswith("Submissions")]
    assert statuses == [(429, "status:429"), (429, "status:429"), (200, None)]


def test_dropped_and_cut_connections(central, client):
    central.faults.add(r"\.svc/Submissions", "drop", times=1)
    with pytest.raises(requests.ConnectionError):
        client.submissions.get_table(form_id="visit")
    central.faults.add(r"\.svc/Submissions", "cut", times=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.submissions.get_table(form_id="visit")
    central.faults.add(r"\.svc/Submissions", "status:503", times=1)
    with pytest.raises(PyODKError):
        client.submissions.get_table(form_id="visit")
    assert client.submissions.get_table(form_id="visit")["value"] == []
    logged = [(r.status, r.fault) for r in central.requests if r.path.endswith("Submissions")]
    assert logged == [(None, "drop"), (None, "cut"), (503, "status:503"), (200, None)]
    assert central.faults.pending == []


def test_delay_fault_waits(central, client):
    central.faults.add(r"\.svc/Submissions", "delay:0.3", times=1)
    before = datetime.now(UTC)
    client.submissions.get_table(form_id="visit", top=1)
    assert datetime.now(UTC) - before >= timedelta(seconds=0.3)


# -- as a separate process -----------------------------------------------------------


def test_subprocess_serves_a_state_file_and_honours_control_endpoints(xform, tmp_path):
    (tmp_path / "visit.xml").write_bytes(xform)
    state = {
        "clock": "2026-11-28T13:00:00.000Z",
        "users": [{"email": EMAIL, "password": PASSWORD}],
        "projects": [{"name": "Cradle", "forms": [{"path": "visit.xml"}]}],
        "submissions": [
            {
                "project_id": 1,
                "form_id": "visit",
                "xml": instance("uuid:f0"),
                "at": "2026-11-28T12:00:00Z",
            },
        ],
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.doubles.central",
            "--port",
            "0",
            "--state",
            str(tmp_path / "state.json"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert base.startswith("http://127.0.0.1:")
        control = f"{base}/__double__"
        submitted = requests.post(
            f"{control}/submit",
            timeout=5,
            json={
                "project_id": 1,
                "form_id": "visit",
                "xml": instance("uuid:f1"),
            },
        )
        assert submitted.json() == {"instanceId": "uuid:f1"}
        requests.post(f"{control}/clock", json={"advance": 60}, timeout=5)
        requests.post(
            f"{control}/review",
            timeout=5,
            json={
                "project_id": 1,
                "form_id": "visit",
                "instance_id": "uuid:f0",
                "state": "rejected",
            },
        )
        requests.post(
            f"{control}/faults", json={"path": "Submissions", "kind": "status:500"}, timeout=5
        )
        config = write_config(tmp_path, base)
        with Client(config_path=config, cache_path=tmp_path / "cache.toml") as c:
            with pytest.raises(PyODKError):
                c.submissions.get_table(form_id="visit")
            page = c.submissions.get_table(form_id="visit")
        assert ids(page) == ["uuid:f1", "uuid:f0"]
        assert page["value"][1]["__system"]["reviewState"] == "rejected"
        assert page["value"][1]["__system"]["updatedAt"] == "2026-11-28T13:01:00.000Z"
        requests.post(
            f"{control}/delete",
            timeout=5,
            json={"project_id": 1, "form_id": "visit", "instance_id": "uuid:f1"},
        )
        logged = requests.get(f"{control}/requests", timeout=5).json()
        assert [r["status"] for r in logged if r["path"].endswith("Submissions")] == [500, 200]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()  # type: ignore[union-attr]
