"""Crash safety: a real `cradle sync central` process killed with SIGKILL again and again,
then run to the end, leaves CouchDB exactly as one uninterrupted run does; and two runs
of one source never overlap."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sync.central.checkpoint import CheckpointStore
from sync.central.cli import command_argv
from sync.central.lock import acquire, holder, lock_id
from sync.central.runs import list_runs
from sync.couch import CouchClient, Database
from sync.errors import LeaseLost, SourceBusy
from tests.support.central_sync import (
    REPO,
    CentralWorld,
    CradleDbs,
    contents,
    drop_dbs,
    make_dbs,
)

pytest_plugins = ["tests.support.central_sync"]
pytestmark = pytest.mark.integration

KILLS = 20  # issue 9: at least 20 SIGKILL trials per CI run


def start(dbs: CradleDbs, world: CentralWorld, config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command_argv("--source", "gx"),
        cwd=REPO,
        env=dbs.env(world.forms_dir, config),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[float, str]:
    began = time.monotonic()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return time.monotonic() - began, out


def full_run(dbs: CradleDbs, world: CentralWorld, config: Path) -> None:
    finish(start(dbs, world, config))


def changes(world: CentralWorld, rng: random.Random) -> None:
    """A second day on Central: new rows, edits, reviews, deletions and refusals."""
    old = list(world.ids)
    world.tick(60)
    for original in rng.sample(old, 30):
        world.edit(original, original, aefi="yes")
    for reviewed in rng.sample(old, 30):
        world.review(reviewed, rng.choice(["approved", "hasIssues", "rejected"]))
    for gone in rng.sample(old, 15):
        world.delete(gone)
    world.bulk(400, spacing_ms=20)
    for n in range(5):
        bad = world.instance(
            f"uuid:00000000-0000-4000-8000-0000000bad{n:02d}", township="999999999"
        )
        world.double.submit(world.project_id, "immunization", bad, at=world.tick())


def changed_since(db: Database, mark: str) -> int:
    """Documents written after `mark` (the phase-2 work done so far)."""
    return len(list(db.iter_find({"updated_at": {"$gt": mark}}, fields=["_id"])))


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def test_killed_runs_then_a_rerun_equal_one_uninterrupted_run(
    world: CentralWorld, couch: CouchClient
) -> None:
    """Kills land in three phases, in a seeded random order and at random moments:
    while starting and logging in, while paging Central, and while batches are written
    (polling CouchDB until a random number of documents is written)."""
    seed = int(os.environ.get("CRADLE_KILL_SEED") or random.randrange(2**31))
    print(f"kill test seed: {seed} (CRADLE_KILL_SEED={seed} repeats it)")
    rng = random.Random(seed)
    world.bulk(300, spacing_ms=20)
    config = world.write_config(page_size=50, batch_size=25, backoff_seconds=0.05)
    key = (world.double.base_url, world.project_id, "immunization")
    reference, target = make_dbs(couch), make_dbs(couch)
    try:
        full_run(reference, world, config)
        full_run(target, world, config)
        mark = CheckpointStore(target.state).load(*key).since
        changes(world, rng)
        # Pages answer a little late, so that paging lasts long enough to be killed in.
        world.double.faults.add(r"\.svc/Submissions", "delay:0.02", times=10**6)
        began = time.monotonic()
        ref = start(reference, world, config)
        ref.stderr.readline()  # the first progress line: the run is paging
        startup = time.monotonic() - began
        finish(ref)
        expected = changed_since(reference.submissions, mark)

        points: list[str] = []
        attempts = 0
        while len(points) < KILLS and attempts < 4 * KILLS:
            attempts += 1
            phase = ("start", "paging", "writing")[
                rng.randrange(3) if attempts > 3 else attempts - 1
            ]
            done = changed_since(target.submissions, mark)
            if phase == "writing" and expected - done < 50:  # too little left to aim into
                phase = "paging"
            proc = start(target, world, config)
            if phase == "start":
                delay = rng.uniform(0.05, startup)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=delay)
                point = f"{delay:.2f} s"
            elif phase == "paging":
                proc.stderr.readline()
                delay = rng.uniform(0, 0.3)
                time.sleep(delay)
                point = f"first page + {delay:.2f} s"
            else:
                goal = done + rng.randint(1, (expected - done) // 4)
                while proc.poll() is None and changed_since(target.submissions, mark) < goal:
                    time.sleep(0.005)
                point = f"{goal} of {expected} documents written"
            if proc.poll() is not None:  # it finished first (a busy machine): not a kill
                assert proc.wait() == 0
                proc.communicate()
                continue
            kill(proc)
            points.append(f"{phase}: {point} -> {changed_since(target.submissions, mark)}")
        print(f"killed {len(points)} times in {attempts} runs, at:\n  " + "\n  ".join(points))
        assert len(points) >= KILLS

        finish(start(target, world, config))

        assert contents(target.submissions) == contents(reference.submissions)
        assert contents(target.quarantine) == contents(reference.quarantine)
        assert len(contents(reference.submissions)) == 300 + 400
        statuses = {run["status"] for run in list_runs(target.state, limit=100)}
        assert statuses <= {"succeeded", "failed"}
    finally:
        drop_dbs(reference)
        drop_dbs(target)


def test_a_second_run_of_the_same_source_refuses_while_the_first_runs(
    world: CentralWorld, dbs: CradleDbs
) -> None:
    world.bulk(20)
    config = world.write_config(page_size=5)
    world.double.faults.add(r"\.svc/Submissions", "delay:0.4", times=10**6)
    first = start(dbs, world, config)
    deadline = time.monotonic() + 30
    while holder(dbs.state, "gx") is None:
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)

    second = subprocess.run(
        command_argv("--source", "gx"),
        cwd=REPO,
        env=dbs.env(world.forms_dir, config),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 1
    message = second.stderr.strip()
    assert message.startswith("Error: source 'gx' is already being synced by run "), message
    assert "\n" not in message
    world.double.faults.clear()
    finish(first)
    assert len(contents(dbs.submissions)) == 20
    assert [r["status"] for r in list_runs(dbs.state)] == ["succeeded"]
    assert holder(dbs.state, "gx") is None


def test_a_dead_runs_lease_expires_and_the_next_run_takes_over(dbs: CradleDbs) -> None:
    dead = acquire(dbs.state, "gx", "run-a", ttl=0.6)
    lock = dbs.state.get(lock_id("gx"))
    dbs.state.put({**lock, "host": "another-host"})  # not a process this host can check
    with pytest.raises(SourceBusy, match="already being synced by run run-a"):
        acquire(dbs.state, "gx", "run-b", ttl=30)

    time.sleep(0.7)
    taken = acquire(dbs.state, "gx", "run-b", ttl=30)

    assert taken.previous is not None and taken.previous["owner"] == "run-a"
    dead.rev = lock["_rev"]
    with pytest.raises(LeaseLost):
        dead.renew()
    taken.renew()
    taken.release()
    assert holder(dbs.state, "gx") is None
