"""Real processes for tests: Cradle under gunicorn, its CLI, and a Collect-like poster."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.openrosa import digest_authorization

ROOT = Path(__file__).resolve().parents[2]
COUCH_SCRIPT = ROOT / "scripts" / "couchdb.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cradle_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
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


class CradleServer:
    """`cradle serve` (gunicorn) on a free port."""

    def __init__(self, env: dict[str, str], workers: int = 3) -> None:
        self.env, self.workers = env, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> CradleServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cradle", "serve", "--port", str(self.port),
             "--workers", str(self.workers)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/api/health", timeout=5)
                return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("gunicorn never answered")

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


class CouchServer:
    """A PouchDB Server of the test's own, to stop and start under Cradle."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        subprocess.run(
            [COUCH_SCRIPT, "start", str(self.data), str(self.port)], check=True, capture_output=True
        )

    def stop(self) -> None:
        subprocess.run([COUCH_SCRIPT, "stop", str(self.data)], check=True, capture_output=True)

    def __enter__(self) -> CouchServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def multipart(xml: bytes, boundary: str = "cradle-test-boundary") -> tuple[bytes, str]:
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


def post_submission(
    url: str, xml: bytes, user: str, password: str, *, chunked: bool = False, timeout: float = 30
) -> httpx.Response:
    """HEAD for the Digest challenge, then the multipart POST, as ODK Collect does."""
    challenge = httpx.head(f"{url}/submission", timeout=timeout).headers["WWW-Authenticate"]
    auth = digest_authorization(challenge, "POST", "/submission", user, password)
    body, content_type = multipart(xml)
    headers = {"Authorization": auth, "Content-Type": content_type, "X-OpenRosa-Version": "1.0"}
    if chunked:

        def pieces() -> Iterator[bytes]:
            for start in range(0, len(body), 97):
                yield body[start : start + 97]

        return httpx.post(f"{url}/submission", content=pieces(), headers=headers, timeout=timeout)
    return httpx.post(f"{url}/submission", content=body, headers=headers, timeout=timeout)
