"""What an analyst gets of a stored submission through the API: the rule of
`forms.deidentify`, with the server's own pseudonym secret."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from forms.deidentify import child_key
from server.core.couch import cradle_db
from tests.integration.openrosa.conftest import Collect, immunization

pytestmark = pytest.mark.django_db

INSTANCE = "uuid:bbbbbbbb-0000-4000-8000-000000000001"
CHILD = "450123202505010042"


def _client(username: str) -> APIClient:
    client = APIClient()
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def stored(server, users, built_forms) -> dict:
    xml = immunization(built_forms, INSTANCE, child_id=CHILD, end="2026-11-12T09:12:00.000+08:00")
    assert Collect("worker").submit(xml).status_code == 201
    return cradle_db("submissions").get(INSTANCE)


def test_an_analyst_gets_no_name_id_birth_date_village_gps_or_device(stored, settings) -> None:
    body = _client("analyst").get(f"/api/submissions/{INSTANCE}").json()
    data = stored["data"]
    pseudonym = child_key(CHILD, key=settings.PSEUDONYM_KEY)
    assert body["child_key"] == body["data"]["child_key"] == pseudonym
    hidden = {"child_id", "child_name", "child_dob", "village", "gps", "deviceid", "device_id"}
    assert hidden.isdisjoint(body) and hidden.isdisjoint(body["data"])
    assert set(body["data"]) == (set(data) - hidden) | {"child_key", "child_age_months"}
    assert body["data"]["child_age_months"] == body["child_age_months"]
    assert body["data"]["vaccination_date"] == data["vaccination_date"]
    assert body["township_code"] == stored["township_code"]
    raw = _client("analyst").get(f"/api/submissions/{INSTANCE}").content.decode()
    for value in (CHILD, data["child_name"], data["child_dob"], stored["village"]):
        assert value not in raw

    supervisor = _client("sup").get(f"/api/submissions/{INSTANCE}").json()
    assert (supervisor["child_id"], supervisor["data"]["child_dob"]) == (CHILD, data["child_dob"])


def test_the_pseudonym_follows_the_configured_secret(stored, settings) -> None:
    settings.PSEUDONYM_KEY = b"another secret"
    body = _client("analyst").get(f"/api/submissions/{INSTANCE}").json()
    assert body["child_key"] == child_key(CHILD, key=b"another secret")
