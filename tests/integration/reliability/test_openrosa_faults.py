"""Submissions under faults between Cradle and CouchDB: a proxy that drops, delays and cuts
connections, and the server itself stopped and restarted in the middle of a burst.

The guarantee: every submission that got a 201 is in CouchDB; every one that did not can
be sent again and then is; none is there twice."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from sync.couch import CouchClient, CouchSettings
from sync.schema import db_name
from tests.integration.openrosa.conftest import immunization
from tests.integration.openrosa.test_production_server import (
    PASSWORD,
    drop_databases,
    production_env,
)
from tests.support.faultproxy import FaultProxy, Faults
from tests.support.servers import CouchServer, CradleServer, post_submission

SEED = int(os.environ.get("CRADLE_FAULT_SEED", "20261128"))


def _instances(built_forms: Path, n: int, tag: str) -> dict[str, bytes]:
    return {
        f"uuid:{tag}{i:04d}-0000-4000-8000-000000000000": immunization(
            built_forms,
            f"uuid:{tag}{i:04d}-0000-4000-8000-000000000000",
            child_id=f"45012320250501{i:04d}",
        )
        for i in range(n)
    }


def _stored(client: CouchClient, prefix: str) -> dict[str, dict]:
    db = client.db(db_name(prefix, "submissions"))
    return {d["_id"]: d for d in db.iter_find({"type": "submission"}, batch=200)}


def _settle(url: str, pending: dict[str, bytes], attempts: int = 5) -> None:
    """Send again what was not acknowledged, as Collect does, until all are."""
    for _ in range(attempts):
        for instance_id, xml in list(pending.items()):
            try:
                if post_submission(url, xml, "worker", PASSWORD).status_code == 201:
                    del pending[instance_id]
            except Exception:  # noqa: S112 - a transport error means "not yet"
                continue
        if not pending:
            return
        time.sleep(1)


def test_proxy_faults_between_cradle_and_couchdb_lose_nothing(
    couch: CouchClient, built_forms, tmp_path, capsys
) -> None:
    faults = Faults(drop=0.08, cut=0.12, delay=0.1, delay_s=0.3)
    upstream = int(couch.settings.url.rsplit(":", 1)[1])
    with FaultProxy(upstream, seed=SEED, faults=faults) as proxy:
        env = production_env(
            tmp_path, built_forms, COUCHDB_URL=f"http://127.0.0.1:{proxy.port}", COUCHDB_RETRIES="4"
        )
        prefix = env["COUCHDB_DB_PREFIX"]
        try:
            submissions = _instances(built_forms, 40, "f0")
            acknowledged, pending = [], {}
            with CradleServer(env) as server:
                for instance_id, xml in submissions.items():
                    try:
                        status = post_submission(server.url, xml, "worker", PASSWORD).status_code
                    except Exception:
                        status = None
                    if status == 201:
                        acknowledged.append(instance_id)
                    else:
                        pending[instance_id] = xml
                stored = _stored(couch, prefix)
                assert set(acknowledged) <= set(stored), "a 201 was answered but not stored"
                proxy.faults = Faults()  # the network heals
                _settle(server.url, pending)
            assert pending == {}
            stored = _stored(couch, prefix)
            assert sorted(stored) == sorted(submissions)
            assert all(d["_rev"].startswith(("1-", "2-")) for d in stored.values())
            assert all(len(d["versions"]) == 1 for d in stored.values())
            with capsys.disabled():
                print(
                    f"\n[faults] seed={SEED} proxy drops={faults.counts['drop']} "
                    f"cuts={faults.counts['cut']} delays={faults.counts['delay']} "
                    f"submissions={len(submissions)} acknowledged_first={len(acknowledged)} lost=0"
                )
            assert sum(faults.counts.values()) > 0
        finally:
            drop_databases(couch, prefix)


def test_couchdb_restarted_during_a_burst_loses_nothing(built_forms, tmp_path, capsys) -> None:
    rng = random.Random(SEED)
    with CouchServer(tmp_path / "couch") as couch_server:
        env = production_env(tmp_path, built_forms, COUCHDB_URL=couch_server.url)
        submissions = _instances(built_forms, 30, "b0")
        results: dict[str, int | None] = {}
        with CradleServer(env) as server:

            def burst() -> None:
                for instance_id, xml in submissions.items():
                    try:
                        results[instance_id] = post_submission(
                            server.url, xml, "worker", PASSWORD, timeout=20
                        ).status_code
                    except Exception:
                        results[instance_id] = None
                    time.sleep(0.02)

            sender = threading.Thread(target=burst)
            sender.start()
            time.sleep(rng.uniform(0.2, 0.6))
            couch_server.stop()
            time.sleep(rng.uniform(0.5, 1.5))
            couch_server.start()
            sender.join()
            user, password = os.environ.get("COUCHDB_USER", "admin"), os.environ["COUCHDB_PASSWORD"]
            with CouchClient(CouchSettings(couch_server.url, user, password)) as client:
                stored = _stored(client, env["COUCHDB_DB_PREFIX"])
                acknowledged = [i for i, s in results.items() if s == 201]
                assert set(acknowledged) <= set(stored)
                pending = {i: submissions[i] for i, s in results.items() if s != 201}
                refused = sorted({s for s in results.values() if s != 201}, key=str)
                _settle(server.url, pending)
                assert pending == {}
                stored = _stored(client, env["COUCHDB_DB_PREFIX"])
        assert sorted(stored) == sorted(submissions)
        with capsys.disabled():
            print(
                f"\n[faults] seed={SEED} couchdb restart during burst: "
                f"submissions={len(submissions)} acknowledged_first={len(acknowledged)} "
                f"refused_statuses={refused} lost=0"
            )


@pytest.fixture(autouse=True)
def _print_seed(capsys) -> None:
    with capsys.disabled():
        print(f"\n[faults] CRADLE_FAULT_SEED={SEED}")
