"""The Central sync under faults of the network and of CouchDB, run as a real process:
a proxy of our own between Cradle and the Central test double that drops, delays and
cuts connections, and the CouchDB-compatible server stopped and restarted mid-sync.
Running again until a run succeeds must leave exactly an uninterrupted run's documents."""

from __future__ import annotations

import os
import random
import subprocess
import time

from sync.couch import CouchClient, CouchSettings
from tests.integration.sync.test_central_kill import changes, finish, full_run, start
from tests.support.central_sync import CentralWorld, contents, drop_dbs, make_dbs
from tests.support.faultproxy import FaultProxy, Faults
from tests.support.servers import CouchServer

pytest_plugins = ["tests.support.central_sync"]

SEED = int(os.environ.get("CRADLE_FAULT_SEED", "20261128"))


def _until_success(run, attempts: int = 12) -> int:
    """Run again, as an operator (or --watch) would, until a run ends well; returns runs."""
    for n in range(1, attempts + 1):
        proc = run()
        try:
            proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            continue
        if proc.returncode == 0:
            return n
        time.sleep(0.5)
    raise AssertionError(f"no successful run in {attempts}")


def test_proxy_faults_between_cradle_and_central(
    world: CentralWorld, couch: CouchClient, capsys
) -> None:
    rng = random.Random(SEED)
    world.bulk(300, spacing_ms=20)
    changes(world, rng)
    config = world.write_config(page_size=50, batch_size=50, backoff_seconds=0.05, retries=3)
    reference, target = make_dbs(couch), make_dbs(couch)
    port = int(world.double.base_url.rsplit(":", 1)[1].split("/")[0])
    # pyodk keeps connections alive: cut most of them somewhere in their stream of pages.
    faults = Faults(drop=0.2, cut=0.7, delay=0.2, delay_s=0.2, cut_within=400_000)
    try:
        # Both runs go through the proxy (the server's address is part of each document);
        # only the second one meets faults.
        with FaultProxy(port, seed=SEED, faults=Faults()) as proxy:
            pyodk = config.parent / "pyodk_config.toml"
            pyodk.write_text(
                pyodk.read_text().replace(world.double.base_url, f"http://127.0.0.1:{proxy.port}")
            )
            full_run(reference, world, config)
            proxy.faults = faults
            runs = _until_success(lambda: start(target, world, config))
        assert contents(target.submissions) == contents(reference.submissions)
        assert contents(target.quarantine) == contents(reference.quarantine)
        assert sum(faults.counts.values()) > 0
        with capsys.disabled():
            print(
                f"\n[faults] seed={SEED} central proxy drops={faults.counts['drop']} "
                f"cuts={faults.counts['cut']} delays={faults.counts['delay']} runs={runs} lost=0"
            )
    finally:
        drop_dbs(reference)
        drop_dbs(target)


def test_couchdb_restarted_during_a_sync(
    world: CentralWorld, couch: CouchClient, tmp_path, capsys
) -> None:
    world.bulk(1500, spacing_ms=5)
    config = world.write_config(page_size=100, batch_size=50, backoff_seconds=0.05)
    reference = make_dbs(couch)
    user, password = couch.settings.username, couch.settings.password
    with CouchServer(tmp_path / "couch") as server:
        with CouchClient(CouchSettings(server.url, user, password, retries=1)) as own:
            target = make_dbs(own)
            try:
                full_run(reference, world, config)
                proc = start(target, world, config)
                proc.stderr.readline()  # paging: the run is under way
                time.sleep(random.Random(SEED).uniform(0.2, 0.8))
                server.stop()
                time.sleep(1.0)
                server.start()
                try:
                    proc.communicate(timeout=180)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                first_ok = proc.returncode == 0
                if not first_ok:
                    finish(start(target, world, config))
                assert contents(target.submissions) == contents(reference.submissions)
                with capsys.disabled():
                    print(
                        f"\n[faults] couchdb restarted mid-sync: first run "
                        f"{'survived' if first_ok else 'failed and was run again'}, "
                        f"{len(contents(target.submissions))} documents, lost=0"
                    )
            finally:
                drop_dbs(target)
                drop_dbs(reference)
