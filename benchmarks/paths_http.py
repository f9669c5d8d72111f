"""The processes and clients of `--only paths`: a PouchDB Server on a persistent folder,
Cradle under gunicorn, logged-in clients, and a bounded request timer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.common import percentile

ROOT = Path(__file__).resolve().parents[1]
COUCH_SCRIPT = ROOT / "scripts" / "couchdb.sh"
COUCH_USER, COUCH_PASSWORD = "admin", "cradle-dev-password"
TIMEOUT = 300.0  # seconds a client waits for one answer


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PouchServer:
    """`scripts/couchdb.sh` on a data folder that outlives the run; stopped on exit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, "COUCHDB_USER": COUCH_USER, "COUCHDB_PASSWORD": COUCH_PASSWORD}

    def _script(self, *args: str) -> None:
        done = subprocess.run(
            [str(COUCH_SCRIPT), *args], env=self._env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"paths: couchdb.sh {args[0]}: {done.stderr.strip()[-400:]}")

    def __enter__(self) -> PouchServer:
        self.stop()  # a server left by a run that was killed
        self._script("start", str(self.folder), str(self.port))
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the server whose PID file is in the folder (ours, by its PID only)."""
        self._script("stop", str(self.folder))

    def alive(self) -> bool:
        return (
            subprocess.run([str(COUCH_SCRIPT), "check", str(self.folder)], check=False).returncode
            == 0
        )


class Cradle:
    """`cradle serve` (gunicorn, as in production) on a free port, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 2) -> None:
        self.env, self.log, self.workers = env, log, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Cradle:
        # gunicorn's access and error log, and Cradle's own warnings (stderr), in one file
        with self.log.open("ab") as output:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cradle", "serve", "--port", str(self.port),
                 "--workers", str(self.workers), "--log-file", str(self.log)],
                cwd=ROOT, env=self.env, stdout=output, stderr=output,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"paths: gunicorn exited at start; see {self.log}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=5).status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise SystemExit(f"paths: gunicorn did not answer within 120 s; see {self.log}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: children of the master (`cradle serve` execs gunicorn)."""
        assert self.proc is not None
        return children_of(self.proc.pid)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command may hold spaces and parentheses: the parent pid follows the last ")"
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory (`VmHWM`) of a live process, in MB; NaN when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# -- clients ----------------------------------------------------------------------------------


def digest_client(url: str, user: str, password: str) -> httpx.Client:
    """As ODK Collect: HTTP Digest, the challenge kept and answered on later requests."""
    headers = {"X-OpenRosa-Version": "1.0"}
    return httpx.Client(
        base_url=url, auth=httpx.DigestAuth(user, password), headers=headers, timeout=TIMEOUT
    )


def session_client(url: str, user: str, password: str) -> httpx.Client:
    """As a browser: the login form, then the session cookie (pages and API alike)."""
    client = httpx.Client(base_url=url, timeout=TIMEOUT)
    client.get("/accounts/login/")
    token = client.cookies.get("csrftoken")
    response = client.post(
        "/accounts/login/",
        data={"username": user, "password": password, "csrfmiddlewaretoken": token or ""},
        headers={"Referer": f"{url}/accounts/login/"},
    )
    if response.status_code != 302:
        client.close()
        raise SystemExit(f"paths: login of {user} answered {response.status_code}")
    return client


# -- timing -----------------------------------------------------------------------------------


@dataclass
class Samples:
    """Latencies (ms) of the timed requests, after one untimed request (`first_ms`)."""

    ms: list[float] = field(default_factory=list)
    first_ms: float | None = None
    failures: list[str] = field(default_factory=list)
    stopped: str = ""

    def p(self, q: float) -> float:
        return percentile(self.ms, q)

    def take(self, send: Callable[[], httpx.Response], expect: int) -> float | None:
        """One call of `send`: its latency in ms (None when it raised); a status other
        than `expect` is recorded as a failure."""
        start = time.perf_counter()
        try:
            response = send()
        except httpx.HTTPError as exc:
            self.failures.append(type(exc).__name__)
            return None
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != expect:
            self.failures.append(f"HTTP {response.status_code}")
        return elapsed

    def note(self) -> str:
        parts = []
        if self.first_ms is not None:
            parts.append(f"first {self.first_ms:,.0f} ms")
        if self.failures:
            parts.append(f"{len(self.failures)} failed, e.g. {self.failures[0]}")
        if self.stopped:
            parts.append(self.stopped)
        return "; ".join(parts)


def timed(
    send: Callable[[], httpx.Response],
    n: int,
    expect: int = 200,
    *,
    warm: bool = True,
    budget_s: float = 120.0,
) -> Samples:
    """`n` timed calls of `send` (after one untimed call when `warm`), each answer checked
    for `expect`. Stops early, saying so, when the timed calls pass `budget_s` in all, so a
    path that takes minutes is reported rather than waited on for an hour."""
    samples = Samples()
    if warm:
        samples.first_ms = samples.take(send, expect)
    spent_start = time.perf_counter()
    for _ in range(n):
        elapsed = samples.take(send, expect)
        if elapsed is not None:
            samples.ms.append(elapsed)
        if time.perf_counter() - spent_start > budget_s and len(samples.ms) < n:
            samples.stopped = f"stopped after {len(samples.ms)} of {n} (over {budget_s:.0f} s)"
            break
    return samples
