"""Who may do what, where: every named route × every role × inside and outside the scope,
from ONE table. A route without a rule fails the test, so nothing new ships unguarded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from server.accounts.services import user_create
from server.core.couch import cradle_db
from tests.integration.openrosa.conftest import PASSWORD, Collect, immunization

pytestmark = pytest.mark.django_db

IN_SCOPE = "uuid:a0a0a0a0-0000-4000-8000-000000000001"
ROLES = ("anonymous", "worker", "sup", "other_sup", "analyst", "admin")


@dataclass(frozen=True)
class Rule:
    method: str
    path: Callable[[dict], str]
    expect: dict[str, int]  # role -> status
    openrosa: bool = False  # authenticated with Digest, as ODK Collect does


def _all(status: int, **overrides: int) -> dict[str, int]:
    return {role: overrides.get(role, status) for role in ROLES}


READ_API = _all(200, anonymous=401, worker=403)
QUARANTINE_API = _all(200, anonymous=401, worker=403, analyst=403)

SYNC_API = _all(200, anonymous=401, worker=403, analyst=403)
COVERAGE = _all(200, anonymous=401, worker=403, other_sup=403)
COVERAGE_QUERY = "?period=2026-Q3&county=450123"

RULES: dict[str, Rule] = {
    "health": Rule("GET", lambda f: "/api/health", _all(200)),
    "schema": Rule("GET", lambda f: "/api/schema/", _all(200)),
    "api-docs": Rule("GET", lambda f: "/api/docs/", _all(200)),
    "audit": Rule("GET", lambda f: "/api/audit/", _all(403, anonymous=401, admin=200)),
    "submission-list": Rule("GET", lambda f: "/api/submissions/", READ_API),
    "submission-detail": Rule(
        "GET", lambda f: f"/api/submissions/{IN_SCOPE}", {**READ_API, "other_sup": 404}
    ),
    "quarantine-list": Rule("GET", lambda f: "/api/quarantine/", QUARANTINE_API),
    "quarantine-detail": Rule(
        "GET", lambda f: f"/api/quarantine/{f['qid']}", {**QUARANTINE_API, "other_sup": 404}
    ),
    "quarantine-reprocess": Rule(
        "POST",
        lambda f: f"/api/quarantine/{f['qid']}/reprocess",
        {**QUARANTINE_API, "other_sup": 404},
    ),
    "coverage": Rule("GET", lambda f: f"/api/coverage/{COVERAGE_QUERY}", COVERAGE),
    "coverage-map": Rule(
        "GET", lambda f: f"/api/coverage/map.png{COVERAGE_QUERY}&indicator=imm_hepb3", COVERAGE
    ),
    "coverage-geojson": Rule(
        "GET", lambda f: f"/api/coverage/geojson{COVERAGE_QUERY}&indicator=imm_hepb3", COVERAGE
    ),
    "due": Rule(
        "GET", lambda f: "/api/due/?township=450123101", _all(200, anonymous=401, other_sup=403)
    ),
    "due-page": Rule(
        "GET",
        lambda f: "/dashboard/due/?township=450123101",
        _all(200, anonymous=302, other_sup=403),
    ),
    "sync-list": Rule("GET", lambda f: "/api/syncs/", SYNC_API),
    "sync-detail": Rule(
        "GET",
        lambda f: "/api/syncs/no-such-run",
        {**SYNC_API, "sup": 404, "other_sup": 404, "admin": 404},
    ),
    "source-list": Rule("GET", lambda f: "/api/sources/", SYNC_API),
    # -- pages: anonymous users go to the login page, health workers to the Collect page
    "dashboard:root": Rule("GET", lambda f: "/", _all(302)),
    "dashboard:login": Rule("GET", lambda f: "/accounts/login/", _all(302, anonymous=200)),
    "dashboard:logout": Rule("POST", lambda f: "/accounts/logout/", _all(302)),
    "dashboard:set_language": Rule("POST", lambda f: "/i18n/setlang/", _all(302)),
    "dashboard:home": Rule("GET", lambda f: "/dashboard/", _all(302)),
    "dashboard:collect": Rule("GET", lambda f: "/dashboard/collect/", _all(200, anonymous=302)),
    "dashboard:coverage": Rule(
        "GET",
        lambda f: f"/dashboard/coverage/{COVERAGE_QUERY}",
        _all(200, anonymous=302, worker=302, other_sup=400),
    ),
    "dashboard:township": Rule(
        "GET",
        lambda f: "/dashboard/townships/450123101/",
        _all(200, anonymous=302, worker=302, other_sup=403),
    ),
    "dashboard:quality": Rule(
        "GET", lambda f: "/dashboard/quality/", _all(200, anonymous=302, worker=302)
    ),
    "dashboard:quarantine": Rule(
        "GET",
        lambda f: f"/dashboard/quarantine/{f['qid']}/",
        _all(200, anonymous=302, worker=302, other_sup=404, analyst=403),
    ),
    "dashboard:quarantine-reprocess": Rule(
        "POST",
        lambda f: f"/dashboard/quarantine/{f['qid']}/reprocess",
        _all(302, other_sup=404, analyst=403),
    ),
    "dashboard:sync": Rule(
        "GET", lambda f: "/dashboard/sync/", _all(200, anonymous=302, worker=302, analyst=403)
    ),
    "dashboard:sync-start": Rule(
        "POST",
        lambda f: "/dashboard/sync/start",  # no source chosen: 400 for those allowed
        _all(400, anonymous=302, worker=302, analyst=403),
    ),
    "openrosa-form-list": Rule(
        "GET", lambda f: "/formList", _all(200, anonymous=401, analyst=403), openrosa=True
    ),
    "openrosa-submission": Rule(
        "HEAD", lambda f: "/submission", _all(204, anonymous=401, analyst=403), openrosa=True
    ),
    "openrosa-form": Rule(
        "GET",
        lambda f: "/forms/immunization/form.xml",
        _all(200, anonymous=401, analyst=403),
        openrosa=True,
    ),
    "openrosa-manifest": Rule(
        "GET",
        lambda f: "/forms/immunization/manifest",
        _all(200, anonymous=401, analyst=403),
        openrosa=True,
    ),
    "openrosa-media": Rule(
        "GET",
        lambda f: "/forms/immunization/media/townships.csv",
        _all(200, anonymous=401, analyst=403),
        openrosa=True,
    ),
}


def _route_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list, namespace: str | None) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace == "admin":
                    continue  # Django's admin guards itself (staff only)
                walk(p.url_patterns, p.namespace or namespace)
            elif isinstance(p, URLPattern) and p.name:
                names.add(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver().url_patterns, None)
    return names


def test_every_route_has_a_rule() -> None:
    missing = sorted(_route_names() - set(RULES))
    assert missing == [], f"routes without an authorization rule: {missing}"


@pytest.fixture
def world(server, users, built_forms) -> dict:
    user_create(username="admin_user", password=PASSWORD, role="admin")
    assert Collect("worker").submit(immunization(built_forms, IN_SCOPE)).status_code == 201
    bad = immunization(built_forms, "uuid:a0a0a0a0-0000-4000-8000-000000000002", aefi="maybe")
    assert Collect("worker").submit(bad).status_code == 422
    qid = cradle_db("quarantine").find({"type": "quarantine"}).docs[0]["_id"]
    return {"qid": qid}


def _as(role: str) -> Client:
    client = Client()
    if role != "anonymous":
        name = "admin_user" if role == "admin" else role
        client.force_login(get_user_model().objects.get(username=name))
    return client


@pytest.mark.parametrize("name", sorted(RULES))
def test_matrix(world, name: str) -> None:
    rule = RULES[name]
    path = rule.path(world)
    seen = {}
    for role in ROLES:
        if rule.openrosa and role != "anonymous":
            username = "admin_user" if role == "admin" else role
            response = Collect(username).request(rule.method, path)
        else:
            response = getattr(_as(role), rule.method.lower())(path)
        seen[role] = response.status_code
    assert seen == rule.expect
