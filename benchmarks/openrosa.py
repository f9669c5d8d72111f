"""OpenRosa ingestion as in production: gunicorn workers, clients posting as ODK Collect
does (multipart, Digest), at several concurrencies; baseline: single-document PUTs of the
very same stored documents straight to CouchDB at the same concurrency."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks.common import Result, couch_from_env, percentile
from forms.build import build_forms
from sync.couch import CouchClient
from sync.schema import DATABASES, db_name
from tests.support.openrosa import digest_authorization, fill
from tests.support.servers import CradleServer, cradle_cli, multipart

PASSWORD = "bench-pass-2026"  # noqa: S105 - a throw-away benchmark login
TOWNSHIPS = ("450123101", "450123102", "450123103")


def _submission(xform: Path, i: int) -> bytes:
    return fill(
        xform,
        {
            "start": "2026-11-20T09:00:00.000+08:00",
            "end": "2026-11-20T09:12:00.000+08:00",
            "today": "2026-11-20",
            "deviceid": f"collect:bench{i % 50:04d}",
            "county": "450123",
            "township": TOWNSHIPS[i % 3],
            "village": "弄岗村",
            "child_id": f"4501232025{i:08d}",
            "child_name": "梁宇",
            "child_sex": "male" if i % 2 else "female",
            "child_dob": "2025-05-01",
            "vaccination_date": "2025-11-03",
            "doses_given": "hepb3 mpsva1",
            "aefi": "no",
        },
        f"uuid:{uuid.UUID(int=i + (7 << 100), version=4)}",
    )


def _post_all(url: str, bodies: list[bytes], clients: int) -> tuple[float, list[float], list[int]]:
    """Post every body with `clients` concurrent clients; (seconds, latencies ms, statuses)."""
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    local = threading.local()

    def session() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
            challenge(local.client)
        return local.client

    def challenge(client: httpx.Client) -> None:
        local.challenge = client.head(f"{url}/submission").headers["WWW-Authenticate"]
        local.nc = 0

    def authorization() -> str:
        """As Collect: the cached challenge answered pre-emptively, its count going up
        (Cradle refuses a nonce count it has seen)."""
        local.nc += 1
        return digest_authorization(
            local.challenge, "POST", "/submission", "bench", PASSWORD, nc=local.nc
        )

    def post(xml: bytes) -> None:
        client = session()
        body, content_type = multipart(xml)
        start = time.perf_counter()
        headers = {"Authorization": authorization(), "Content-Type": content_type}
        response = client.post(f"{url}/submission", content=body, headers=headers)
        if response.status_code == 401:  # the nonce went stale: a new challenge, once
            challenge(client)
            headers["Authorization"] = authorization()
            response = client.post(f"{url}/submission", content=body, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        with lock:
            latencies.append(elapsed)
            statuses.append(response.status_code)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: session(), range(clients)))  # log in before the clock starts
        start = time.perf_counter()
        list(pool.map(post, bodies))
        seconds = time.perf_counter() - start
    return seconds, latencies, statuses


def _copy(doc: dict) -> dict:
    """The stored document (attachments inline) under a new id, for the baseline."""
    return {k: v for k, v in doc.items() if k != "_rev"} | {"_id": f"copy:{doc['_id']}"}


def _put_all(
    couch: CouchClient, db_name_: str, docs: list[dict], clients: int
) -> tuple[float, list[float]]:
    db = couch.db(db_name_)
    db.ensure(member_roles=["cradle"])
    latencies: list[float] = []
    lock = threading.Lock()

    def put(doc: dict) -> None:
        start = time.perf_counter()
        db.put(doc)
        with lock:
            latencies.append((time.perf_counter() - start) * 1000)

    with ThreadPoolExecutor(clients) as pool:
        start = time.perf_counter()
        list(pool.map(put, docs))
        seconds = time.perf_counter() - start
    db.delete()
    return seconds, latencies


def run(
    per_level: int = 600, levels: tuple[int, ...] = (1, 8, 32), workers: int = 4
) -> list[Result]:
    couch = couch_from_env()
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        forms_dir = tmp_path / "forms"
        build_forms(forms_dir)
        prefix = f"bench_{uuid.uuid4().hex[:8]}_"
        env = {
            **os.environ,
            "CRADLE_DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cradle.sqlite3'}",
            "COUCHDB_DB_PREFIX": prefix,
            "CRADLE_FORMS_DIR": str(forms_dir),
            "CRADLE_LOG_LEVEL": "WARNING",
        }
        cradle_cli(env, "setup")
        cradle_cli(
            env, "users", "create", "bench", "--role", "health_worker", "--area", "450123",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        xform = forms_dir / "immunization.xml"
        try:
            with CradleServer(env, workers=workers) as server:
                offset = 0
                for clients in levels:
                    bodies = [_submission(xform, offset + i) for i in range(per_level)]
                    offset += per_level
                    seconds, latencies, statuses = _post_all(server.url, bodies, clients)
                    bad = [s for s in statuses if s != 201]
                    if bad:
                        raise SystemExit(f"openrosa benchmark: {len(bad)} posts failed: {bad[:5]}")
                    stored = couch.db(db_name(prefix, "submissions"))
                    ids = [
                        f"uuid:{uuid.UUID(int=offset - per_level + i + (7 << 100), version=4)}"
                        for i in range(per_level)
                    ]
                    docs = [_copy(stored.get(i, attachments="true")) for i in ids]
                    put_seconds, put_latencies = _put_all(
                        couch, f"{prefix}baseline_{clients}", docs, clients
                    )
                    rate, put_rate = per_level / seconds, len(docs) / put_seconds
                    tag = f"openrosa.c{clients}"
                    note = "baseline: single-document PUTs of the same docs, same concurrency"
                    results.append(
                        Result(
                            f"{tag}.throughput", rate, "submissions/s", put_rate, per_level, note
                        )
                    )
                    for q in (50, 99):
                        ours, theirs = percentile(latencies, q), percentile(put_latencies, q)
                        results.append(Result(f"{tag}.p{q}", ours, "ms", theirs, per_level))
        finally:
            for spec in DATABASES:
                db = couch.db(db_name(prefix, spec.key))
                if db.exists():
                    db.delete()
    return results
