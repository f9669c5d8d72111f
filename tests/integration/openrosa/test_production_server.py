"""Cradle run as in production (gunicorn, several workers) with users made by the CLI:
chunked uploads, concurrent identical posts, and CouchDB going away and coming back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync.couch import CouchClient, CouchSettings
from sync.schema import DATABASES, db_name
from tests.conftest import unique_name
from tests.integration.cli.test_cli import free_port
from tests.integration.openrosa.conftest import immunization
from tests.support.openrosa import digest_authorization

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "field-pass-2026"


def _cradle(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cradle", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class Server:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cradle", "serve", "--port", str(self.port), "--workers", "3"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/api/health", timeout=5)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("gunicorn never answered")

    def stop(self) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def _multipart(xml: bytes, boundary: str = "cradle-test-boundary") -> tuple[bytes, str]:
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="xml_submission_file"; '
            'filename="submission.xml"\r\n'
            "Content-Type: text/xml\r\n\r\n"
        ).encode()
        + xml
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _post(url: str, xml: bytes, *, chunked: bool = False) -> httpx.Response:
    challenge = httpx.head(f"{url}/submission", timeout=10).headers["WWW-Authenticate"]
    auth = digest_authorization(challenge, "POST", "/submission", "worker", PASSWORD)
    body, content_type = _multipart(xml)
    headers = {"Authorization": auth, "Content-Type": content_type, "X-OpenRosa-Version": "1.0"}
    if chunked:

        def pieces() -> Iterator[bytes]:
            for start in range(0, len(body), 97):
                yield body[start : start + 97]

        return httpx.post(f"{url}/submission", content=pieces(), headers=headers, timeout=30)
    return httpx.post(f"{url}/submission", content=body, headers=headers, timeout=30)


@pytest.fixture
def production(couch: CouchClient, built_forms: Path, tmp_path: Path) -> Iterator[tuple]:
    prefix = unique_name("prod") + "_"
    env = {
        **os.environ,
        "CRADLE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cradle.sqlite3'}",
        "COUCHDB_DB_PREFIX": prefix,
        "COUCHDB_RETRIES": "1",
        "CRADLE_FORMS_DIR": str(built_forms),
    }
    _cradle(env, "setup")
    _cradle(
        env,
        "users", "create", "worker", "--role", "health_worker", "--area", "450123101",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    server = Server(env, free_port())
    server.start()
    yield server, prefix, env
    server.stop()
    for spec in DATABASES:
        db = couch.db(db_name(prefix, spec.key))
        if db.exists():
            db.delete()


def test_users_cli_lists_the_worker(production) -> None:
    _, _, env = production
    assert _cradle(env, "users", "list") == "worker\thealth_worker\t450123101\n"


def test_chunked_upload_is_accepted(production, couch, built_forms) -> None:
    server, prefix, _ = production
    instance_id = "uuid:cccccccc-0000-4000-8000-000000000001"
    response = _post(server.url, immunization(built_forms, instance_id), chunked=True)
    assert response.status_code == 201, response.text
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert couch.db(db_name(prefix, "submissions")).get(instance_id)["form_id"] == "immunization"


def test_concurrent_identical_posts_make_one_document(production, couch, built_forms) -> None:
    server, prefix, _ = production
    instance_id = "uuid:dddddddd-0000-4000-8000-000000000001"
    xml = immunization(built_forms, instance_id)
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def post() -> None:
        barrier.wait()
        statuses.append(_post(server.url, xml).status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 8
    db = couch.db(db_name(prefix, "submissions"))
    found = db.find({"type": "submission"}).docs
    assert [d["_id"] for d in found] == [instance_id]
    assert found[0]["_rev"].startswith("1-")


def test_couchdb_down_gives_503_then_the_resend_is_stored_once(built_forms, tmp_path) -> None:
    """A server of our own, stopped and restarted under Cradle."""
    script = ROOT / "scripts" / "couchdb.sh"
    data, port = tmp_path / "couch", free_port()
    subprocess.run([script, "start", str(data), str(port)], check=True, capture_output=True)
    try:
        user, password = os.environ.get("COUCHDB_USER", "admin"), os.environ["COUCHDB_PASSWORD"]
        env = {
            **os.environ,
            "COUCHDB_URL": f"http://127.0.0.1:{port}",
            "CRADLE_DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cradle.sqlite3'}",
            "COUCHDB_RETRIES": "1",
            "CRADLE_FORMS_DIR": str(built_forms),
        }
        _cradle(env, "setup")
        _cradle(
            env,
            "users", "create", "worker", "--role", "health_worker", "--area", "450123101",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        server = Server(env, free_port())
        server.start()
        try:
            instance_id = "uuid:eeeeeeee-0000-4000-8000-000000000001"
            xml = immunization(built_forms, instance_id)
            subprocess.run([script, "stop", str(data)], check=True, capture_output=True)
            down = _post(server.url, xml)
            assert down.status_code == 503
            assert down.headers["Retry-After"] == "60"
            assert "send again later" in down.text
            health = httpx.get(f"{server.url}/api/health", timeout=10)
            assert health.status_code == 503

            subprocess.run([script, "start", str(data), str(port)], check=True, capture_output=True)
            assert _post(server.url, xml).status_code == 201
            assert _post(server.url, xml).status_code == 201  # Collect retrying: no duplicate
            settings = CouchSettings(f"http://127.0.0.1:{port}", user, password)
            with CouchClient(settings) as client:
                docs = client.db("cradle_submissions").find({"type": "submission"}).docs
            assert [d["_id"] for d in docs] == [instance_id]
        finally:
            server.stop()
    finally:
        subprocess.run([script, "stop", str(data)], check=True, capture_output=True)
