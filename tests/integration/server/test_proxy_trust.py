"""`X-Forwarded-Proto` and `X-Forwarded-For` are believed only with DJANGO_BEHIND_TLS_PROXY
on, and only from DJANGO_TRUSTED_PROXIES: over plain HTTP a local client cannot claim
HTTPS to get Basic accepted, nor make django-axes lock a user out for everyone."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.test import Client, RequestFactory

from server.core.lockout import client_ip
from sync.couch import CouchClient
from sync.schema import DATABASES, db_name
from tests.conftest import unique_name
from tests.integration.openrosa.conftest import PASSWORD, Collect
from tests.support.servers import CradleServer, cradle_cli

pytestmark = pytest.mark.integration

BASIC = {"Authorization": "Basic " + base64.b64encode(f"worker:{PASSWORD}".encode()).decode()}
CLAIMS_HTTPS = {**BASIC, "X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def installation(
    tmp_path_factory: pytest.TempPathFactory, couch: CouchClient, built_forms: Path
) -> Iterator[dict[str, str]]:
    """One Cradle installation (SQLite, CouchDB databases, a health worker) that each
    test serves with gunicorn under its own proxy settings."""
    data = tmp_path_factory.mktemp("proxy")
    prefix = unique_name("proxy") + "_"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "CRADLE_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'cradle.sqlite3'}",
        "COUCHDB_DB_PREFIX": prefix,
        "CRADLE_FORMS_DIR": str(built_forms),
    }
    cradle_cli(env, "setup")
    cradle_cli(
        env,
        "users", "create", "worker", "--role", "health_worker", "--area", "450123101",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    yield env
    for spec in DATABASES:
        db = couch.db(db_name(prefix, spec.key))
        if db.exists():
            db.delete()


def _form_list(server: CradleServer, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{server.url}/formList", headers=headers, timeout=30)


def test_with_the_setting_off_a_forwarded_https_claim_is_ignored(installation) -> None:
    with CradleServer(installation, workers=1) as server:
        claimed = _form_list(server, CLAIMS_HTTPS)
        assert claimed.status_code == 401
        assert "Basic" not in claimed.headers["WWW-Authenticate"]


def test_with_the_setting_on_the_trusted_proxy_is_believed(installation) -> None:
    env = {**installation, "DJANGO_BEHIND_TLS_PROXY": "on"}  # default proxy: 127.0.0.1
    with CradleServer(env, workers=1) as server:
        assert _form_list(server, CLAIMS_HTTPS).status_code == 200
        plain = _form_list(server, BASIC)  # the proxy says nothing: plain HTTP
        assert plain.status_code == 401
        assert "Basic" not in plain.headers["WWW-Authenticate"]


def test_with_the_setting_on_an_untrusted_address_is_not_believed(installation) -> None:
    env = {**installation, "DJANGO_BEHIND_TLS_PROXY": "on", "DJANGO_TRUSTED_PROXIES": "10.0.0.1"}
    with CradleServer(env, workers=1) as server:
        claimed = _form_list(server, CLAIMS_HTTPS)
        assert claimed.status_code == 401
        assert "Basic" not in claimed.headers["WWW-Authenticate"]


# -- which address django-axes locks -----------------------------------------------------


def _ip(remote: str, forwarded: str | None = None) -> str | None:
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_ip(RequestFactory().get("/formList", REMOTE_ADDR=remote, **headers))


def test_the_client_address_is_the_peer_unless_a_trusted_proxy_reports_it(settings) -> None:
    settings.BEHIND_TLS_PROXY, settings.TRUSTED_PROXIES = False, []
    assert _ip("127.0.0.1", "203.0.113.7") == "127.0.0.1"

    settings.BEHIND_TLS_PROXY, settings.TRUSTED_PROXIES = True, ["127.0.0.1", "10.1.0.0/16"]
    assert _ip("127.0.0.1", "203.0.113.7") == "203.0.113.7"
    # the right-most address our proxies did not write; what the client wrote is ignored
    assert _ip("127.0.0.1", "198.51.100.1, 203.0.113.7, 10.1.2.3") == "203.0.113.7"
    assert _ip("127.0.0.1", "not-an-address") == "127.0.0.1"
    assert _ip("127.0.0.1") == "127.0.0.1"
    assert _ip("192.0.2.9", "203.0.113.7") == "192.0.2.9"  # not our proxy: its own address


def test_behind_the_proxy_failed_logins_lock_only_the_attackers_address(
    server, users, settings
) -> None:
    settings.BEHIND_TLS_PROXY, settings.TRUSTED_PROXIES = True, ["127.0.0.1"]
    settings.AXES_FAILURE_LIMIT = 3

    def via_proxy(client_address: str, password: str = PASSWORD) -> int:
        collect = Collect("worker", password)
        collect.client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=client_address)
        return collect.request("GET", "/formList").status_code

    assert [via_proxy("203.0.113.66", "guess") for _ in range(3)] == [401, 401, 429]
    assert via_proxy("203.0.113.66") == 429
    assert via_proxy("198.51.100.20") == 200  # the health worker, from their own address
