"""The manifest and `children.csv` from the children register: exact bytes without a CouchDB
scan, a hash that is the file's md5, the last good list when the register cannot catch up,
and registry media that never wait for the children list."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from analytics import register
from server.due.register import refresh_register, register_state
from tests.integration.due.seeded import ON, TOWNSHIP, B, md5, seed, worker_list
from tests.integration.due.test_due_api import _visit
from tests.integration.openrosa.conftest import Collect
from tests.support.scanguard import no_scans

pytestmark = pytest.mark.django_db

NS = {"m": "http://openrosa.org/xforms/xformsManifest"}
URL = "/forms/immunization/media/children.csv"


@pytest.fixture(autouse=True)
def _fast(settings, monkeypatch) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # the lists are of `ON`, whatever day the suite runs
    monkeypatch.setattr("server.openrosa.views.local_today", lambda: date.fromisoformat(ON))


@pytest.fixture
def seeded(server, users, built_forms: Path) -> Path:
    seed(built_forms)
    return built_forms


def _manifest(collect: Collect, form_id: str = "immunization") -> dict[str, str]:
    response = collect.request("GET", f"/forms/{form_id}/manifest")
    assert response.status_code == 200, response.content
    root = ET.fromstring(response.content)  # noqa: S314 - our own server's answer
    return {
        f.findtext("m:filename", namespaces=NS): f.findtext("m:hash", namespaces=NS)
        for f in root.findall("m:mediaFile", NS)
    }


def _get(collect: Collect, path: str) -> bytes:
    response = collect.request("GET", path)
    assert response.status_code == 200, response.content
    return response.content if not response.streaming else b"".join(response.streaming_content)


def test_manifest_and_children_list_exact_and_without_a_scan(seeded: Path) -> None:
    worker = Collect("worker")
    with no_scans() as log:
        hashes = _manifest(worker)
        content = _get(worker, URL)
    assert set(log.kinds()) == {"_changes"}  # the register catching up, nothing else
    assert content == worker_list()
    assert hashes["children.csv"] == md5(content)
    assert _manifest(worker, "nutrition_pack")["children.csv"] == md5(content)


def test_the_last_good_list_while_the_register_cannot_catch_up(seeded: Path) -> None:
    worker = Collect("worker")
    first = _manifest(worker)["children.csv"]
    content = _get(worker, URL)
    given = _visit(seeded, B, TOWNSHIP, vaccination_date="2026-11-25", doses_given="hepb2")
    assert worker.submit(given).status_code == 201

    state = register_state()
    with state._refresh_lock(None):  # another process is refreshing, for longer than the budget
        assert _manifest(worker)["children.csv"] == first
        assert _get(worker, URL) == content
    refresh_register()
    changed = _manifest(worker)["children.csv"]
    newer = _get(worker, URL)
    assert changed != first and changed == md5(newer)
    assert newer == worker_list({B[0]: ("", "", False)})  # B got hepb2


def test_while_the_register_is_rebuilt_the_last_list_or_503_and_registry_media_at_once(
    seeded: Path, built_forms: Path
) -> None:
    worker, sup = Collect("worker"), Collect("sup")
    first = _manifest(worker)["children.csv"]
    content = _get(worker, URL)
    state = register_state()
    assert not state.refresh(rebuild=True, batch=2, budget=0).caught_up  # begun elsewhere
    assert not register.is_complete(state.connection())
    with state._refresh_lock(None):
        assert _manifest(worker)["children.csv"] == first
        assert _get(worker, URL) == content
        refused = sup.request("GET", "/forms/immunization/manifest")  # never made for sup
        assert refused.status_code == 503 and refused["Retry-After"] == "60"
        assert sup.request("GET", URL).status_code == 503
        with no_scans(expect=False) as log:
            for name in ("counties.csv", "townships.csv"):
                media = built_forms / "immunization-media" / name
                assert _get(sup, f"/forms/immunization/media/{name}") == media.read_bytes()
            form = _get(sup, "/forms/immunization/form.xml")
        assert form == (built_forms / "immunization.xml").read_bytes()
        assert log.requests == []  # neither the register nor CouchDB was asked
    assert refresh_register().caught_up
    assert _manifest(sup)["children.csv"] == md5(_get(sup, URL))
    assert _manifest(worker)["children.csv"] == first
