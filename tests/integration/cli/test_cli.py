"""The `cradle` command line, run as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sync.couch import CouchClient
from sync.schema import DATABASES, db_name
from tests.conftest import unique_name

ROOT = Path(__file__).resolve().parents[3]


def run_cradle(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cradle", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_couch_check_reports_server_and_missing_then_ready_databases(couch: CouchClient) -> None:
    prefix = unique_name("cli") + "_"
    env = {"COUCHDB_DB_PREFIX": prefix}
    try:
        before = run_cradle("couch", "check", env=env)
        assert before.returncode == 3, before.stderr
        version = couch.server_info()["version"]
        assert f"server: {couch.settings.url} (" in before.stdout
        assert f" {version})" in before.stdout
        assert f"  {prefix}submissions: missing" in before.stdout

        setup = run_cradle("setup", env=env)
        assert setup.returncode == 0, setup.stderr

        after = run_cradle("couch", "check", env=env)
        assert after.returncode == 0, after.stderr
        assert f"  {prefix}submissions: ready, " in after.stdout
        assert "missing" not in after.stdout
    finally:
        for spec in DATABASES:
            db = couch.db(db_name(prefix, spec.key))
            if db.exists():
                db.delete()


def test_couch_check_unreachable_is_one_line_and_non_zero() -> None:
    result = run_cradle(
        "couch", "check", env={"COUCHDB_URL": "http://127.0.0.1:9", "COUCHDB_RETRIES": "0"}
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Error: CouchDB GET http://127.0.0.1:9/ failed (no response): ConnectError: "
        "[Errno 111] Connection refused"
    ]


def test_couch_check_wrong_password_is_one_line_and_never_shows_it(couch: CouchClient) -> None:
    result = run_cradle("couch", "check", env={"COUCHDB_PASSWORD": "wrong-secret-xyz"})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "HTTP 401" in lines[0]
    assert "wrong-secret-xyz" not in result.stdout + result.stderr


def test_serve_runs_gunicorn_and_answers_health(couch: CouchClient, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CRADLE_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "server.settings",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cradle", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None, "gunicorn never answered"
        # Django's own tables are not migrated in tmp_path, yet the database answers.
        assert response.status_code == 200, response.text
        assert response.json()["couchdb"]["version"] == couch.server_info()["version"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
