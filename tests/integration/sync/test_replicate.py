"""Township replicas between TWO real CouchDB-compatible servers: the suite's server holds
the central databases, a second one (started here) is a supervisor's laptop."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync.audit import entries
from sync.central.conflicts import find_conflicts, resolution, resolve_conflicts, winner_of
from sync.central.replicate import Area, Replica, is_pouchdb_server, remove, setup, status
from sync.couch import CouchClient, CouchSettings, Database
from sync.errors import ReplicationError
from tests.support.central_sync import REPO, CradleDbs, drop_dbs, make_dbs

pytestmark = pytest.mark.integration

TOWNSHIP, OTHER, COUNTY = "450123101", "450123102", "450123"
SCRIPT = REPO / "scripts" / "couchdb.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Laptop:
    """A second PouchDB Server, stopped and started at will."""

    dir: Path
    port: int
    user: str
    password: str

    @property
    def url(self) -> str:
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}"

    def _script(self, *args: str) -> None:
        env = {**os.environ, "COUCHDB_USER": self.user, "COUCHDB_PASSWORD": self.password}
        subprocess.run([str(SCRIPT), *args], check=True, env=env, capture_output=True, timeout=60)

    def start(self) -> None:
        self._script("start", str(self.dir), str(self.port))

    def stop(self) -> None:
        self._script("stop", str(self.dir))

    def client(self) -> CouchClient:
        return CouchClient(CouchSettings.from_url(self.url, retries=1))


@pytest.fixture
def laptop(tmp_path: Path, couch: CouchClient) -> Iterator[Laptop]:
    server = Laptop(
        tmp_path / "laptop-couch", free_port(), couch.settings.username, couch.settings.password
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def central(couch: CouchClient) -> Iterator[CradleDbs]:
    dbs = make_dbs(couch)
    yield dbs
    drop_dbs(dbs)


def submission(doc_id: str, township: str, updated_at: str, **extra: object) -> dict:
    return {
        "_id": doc_id,
        "type": "submission",
        "form_id": "immunization",
        "instance_id": doc_id,
        "county_code": COUNTY,
        "township_code": township,
        "updated_at": updated_at,
        "data": {"village": "弄岗村"},
        "history": [],
        **extra,
    }


def ids(db: Database) -> set[str]:
    return {r["id"] for r in db.all_docs() if not r["id"].startswith("_design/")}


def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: S110 - the server may still be starting
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting until {what}")


def run_cli(central: CradleDbs, *args: str) -> subprocess.CompletedProcess:
    from sync.central.cli import cradle_argv

    argv = cradle_argv("replicate", *args)
    env = central.env(REPO / "build" / "forms", REPO / "none.toml")
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


def test_a_replica_carries_one_township_both_ways_and_catches_up_after_being_down(
    central: CradleDbs, laptop: Laptop
) -> None:
    hub = central.submissions
    hub.bulk_docs(
        [submission(f"a{i}", TOWNSHIP, "2026-11-28T10:00:00.000Z") for i in range(5)]
        + [submission(f"b{i}", OTHER, "2026-11-28T10:00:00.000Z") for i in range(3)]
    )
    local_url = f"{laptop.url}/field_{central.prefix}"

    done = run_cli(central, "setup", "--target", local_url, "--townships", TOWNSHIP, "--continuous")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("replica ")
    local = laptop.client().db(f"field_{central.prefix}")
    eventually(lambda: ids(local) == {f"a{i}" for i in range(5)}, "township A is down")

    local.put(submission("l1", TOWNSHIP, "2026-11-28T10:05:00.000Z"))
    local.put(submission("l2", OTHER, "2026-11-28T10:05:00.000Z"))
    eventually(lambda: hub.get("l1") is not None, "the local document is up")
    assert hub.get("l2") is None  # outside the replica's area: never pushed

    shown = run_cli(central, "status", "--target", local_url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(
        line.startswith("cradle-down-") and f"townships={TOWNSHIP}" in line for line in lines
    )
    assert any(line.startswith("cradle-up-") for line in lines)
    assert f"central {hub.name}: 0 conflicted documents" in lines

    laptop.stop()
    hub.bulk_docs([submission(f"a{i}", TOWNSHIP, "2026-11-28T11:00:00.000Z") for i in (5, 6)])
    a0 = hub.get("a0")
    hub.put({**a0, "updated_at": "2026-11-28T11:30:00.000Z", "review_state": "approved"})
    laptop.start()

    local = laptop.client().db(f"field_{central.prefix}")
    eventually(
        lambda: (
            ids(local) == {f"a{i}" for i in range(7)} | {"l1", "l2"}
            and local.get("a0")["review_state"] == "approved"
        ),
        "the replica caught up after being down",
    )
    assert not ids(local) & {"b0", "b1", "b2"}
    states = {item.direction: item.state for item in status(laptop.client())}
    assert set(states) == {"down", "up"}


def test_a_conflict_is_resolved_by_the_rule_and_the_resolution_replicates(
    central: CradleDbs, laptop: Laptop
) -> None:
    hub = central.submissions
    hub.bulk_docs([submission(f"a{i}", TOWNSHIP, "2026-11-28T10:00:00.000Z") for i in range(3)])
    local = laptop.client().db(f"field_{central.prefix}")
    replica = Replica(
        "t1",
        Area(townships=(TOWNSHIP,)),
        central_url=hub.client.db_url(hub.name),
        local_url=local.client.db_url(local.name),
    )
    setup(hub, local, replica, continuous=False)
    assert ids(local) == {"a0", "a1", "a2"}

    # Offline, both sides edit a1: the central one later (it must win), the local one earlier.
    on_hub, on_laptop = hub.get("a1"), local.get("a1")
    hub.put({**on_hub, "updated_at": "2026-11-28T12:00:00.000Z", "data": {"village": "中心"}})
    local.put({**on_laptop, "updated_at": "2026-11-28T11:00:00.000Z", "data": {"village": "乡下"}})
    setup(hub, local, replica, continuous=False)
    assert find_conflicts(hub) == ["a1"]
    assert find_conflicts(local) == ["a1"]

    resolved = resolve_conflicts(hub, audit=central.db("audit"))

    assert [r.doc_id for r in resolved] == ["a1"]
    winner = hub.get("a1", conflicts=True)
    assert "_conflicts" not in winner
    assert (winner["data"], winner["updated_at"]) == (
        {"village": "中心"},
        "2026-11-28T12:00:00.000Z",
    )
    [entry] = winner["history"]
    assert entry["event"] == "conflict"
    assert (entry["data"], entry["updated_at"]) == (
        {"village": "乡下"},
        "2026-11-28T11:00:00.000Z",
    )
    assert entry["rev"] == resolved[0].loser_revs[0]
    [audited] = [e for e in entries(central.db("audit")) if e["target"] == "a1"]
    assert (audited["action"], audited["source"]) == ("submission.updated", "replication")
    assert audited["detail"]["winner_rev"] == resolved[0].winner_rev
    assert audited["detail"]["loser_revs"] == resolved[0].loser_revs

    setup(hub, local, replica, continuous=False)
    assert find_conflicts(local) == []
    assert local.get("a1") == hub.get("a1")
    assert resolve_conflicts(hub) == []  # nothing left: resolving again changes nothing


def test_the_rule_is_deterministic_and_breaks_ties_by_revision() -> None:
    older = {"_id": "x", "_rev": "3-aaa", "updated_at": "2026-01-01T00:00:00.000Z", "v": 1}
    newer = {"_id": "x", "_rev": "2-bbb", "updated_at": "2026-01-02T00:00:00.000Z", "v": 2}
    tie_low = {"_id": "x", "_rev": "4-abc", "updated_at": "2026-01-03T00:00:00.000Z", "v": 3}
    tie_high = {"_id": "x", "_rev": "4-abd", "updated_at": "2026-01-03T00:00:00.000Z", "v": 4}
    assert winner_of([older, newer])["_rev"] == "2-bbb"
    assert winner_of([tie_low, tie_high])["_rev"] == winner_of([tie_high, tie_low])["_rev"]
    assert winner_of([tie_low, tie_high])["_rev"] == "4-abd"
    assert winner_of([{**tie_low, "_rev": "10-a"}, {**tie_high, "_rev": "9-z"}])["_rev"] == "10-a"

    body, deletions, winner = resolution(
        older, [older, newer], resolved_at="2026-11-28T00:00:00.000Z"
    )
    assert winner is newer
    assert (body["_rev"], body["v"]) == ("3-aaa", 2)  # written on the current revision
    assert [d["_rev"] for d in deletions] == ["2-bbb"]
    assert body["history"][0]["rev"] == "3-aaa"
    same, _, _ = resolution(older, [older, {**older, "_rev": "3-bbb"}], resolved_at="t")
    assert same["history"] == []  # identical losers add nothing


def test_an_area_needs_valid_codes() -> None:
    with pytest.raises(ReplicationError, match="at least one township or county"):
        Area()
    with pytest.raises(ReplicationError, match="9 digits"):
        Area(townships=("4501",))
    area = Area(townships=(TOWNSHIP,), counties=("450124",))
    assert area.query_params() == {"townships": TOWNSHIP, "counties": "450124"}
    assert area.matches({"township_code": TOWNSHIP}) and area.matches({"county_code": "450124"})
    assert not area.matches({"township_code": OTHER, "county_code": COUNTY})


def test_a_running_replica_is_removed_where_the_server_allows_it(
    central: CradleDbs, laptop: Laptop
) -> None:
    local = laptop.client().db(f"field_{central.prefix}")
    replica = Replica(
        "t2",
        Area(counties=(COUNTY,)),
        central_url=central.submissions.client.db_url(central.submissions.name),
        local_url=local.client.db_url(local.name),
    )
    setup(central.submissions, local, replica, continuous=True)
    assert {item.id for item in status(laptop.client())} == {"cradle-down-t2", "cradle-up-t2"}
    setup(central.submissions, local, replica, continuous=True)  # the same: left running
    eventually(
        lambda: {i.state for i in status(laptop.client())} in ({"triggered"}, {"running"}),
        "both replications run",
    )
    if is_pouchdb_server(laptop.client()):
        # Deleting a running replication document crashes PouchDB Server 4.2: refused.
        with pytest.raises(ReplicationError, match="cannot stop the running replications"):
            remove(laptop.client(), "t2")
        other = Replica("t2", Area(townships=(TOWNSHIP,)), replica.central_url, replica.local_url)
        with pytest.raises(ReplicationError, match="choose another --name"):
            setup(central.submissions, local, other, continuous=True)
        assert laptop.client().server_info()  # still up
    else:
        assert remove(laptop.client(), "t2") == 2
        assert status(laptop.client()) == []
