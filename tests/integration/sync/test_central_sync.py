"""`cradle sync central` against the Central double (real pyodk over HTTP) and the real
CouchDB-compatible server: full and incremental syncs, paging, faults, failures."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from sync.audit import entries
from sync.central.checkpoint import CheckpointStore
from sync.central.client import CentralClient
from sync.central.pull import run_sync, sync_source
from sync.central.runs import get_run, list_runs
from sync.couch import CouchClient
from sync.errors import CentralUnavailable
from tests.support.central_sync import (
    COUNTY,
    OTHER_TOWNSHIP,
    REPO,
    TOWNSHIP,
    CentralWorld,
    CradleDbs,
    child_id,
    contents,
    drop_dbs,
    make_dbs,
)

pytest_plugins = ["tests.support.central_sync"]
pytestmark = pytest.mark.integration


def sync(world: CentralWorld, dbs: CradleDbs, **options):
    source = world.source(**{"backoff_seconds": 0.01, **options})
    return run_sync(
        source, dbs.ingestor(world.forms_dir), dbs.state, lock_ttl=30, audit_db=dbs.db("audit")
    )


def counts(result) -> dict[str, int]:
    return result.counts.as_dict()


def checkpoint(world: CentralWorld, dbs: CradleDbs) -> str | None:
    server = world.double.base_url
    return CheckpointStore(dbs.state).load(server, world.project_id, "immunization").since


def test_first_full_sync_writes_exact_documents(world: CentralWorld, dbs: CradleDbs) -> None:
    plain, edited, reviewed, invalid, deleted = world.submit(5)
    new_version = world.edit(edited, edited, village="新村")
    world.review(reviewed, "approved")
    world.delete(deleted)
    bad = world.instance(
        "uuid:00000000-0000-4000-8000-00000000bad0", township="999999999", child_id=child_id(9)
    )
    world.double.submit(world.project_id, "immunization", bad, at=world.tick())

    result = sync(world, dbs)

    assert counts(result) == {
        "fetched": 6,
        "new": 4,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 1,
        "deleted": 1,
        "review_changes": 0,
    }
    docs = contents(dbs.submissions)
    assert sorted(docs) == sorted([plain, edited, reviewed, invalid, deleted])
    server = world.double.base_url
    assert docs[plain] == {
        "_id": plain,
        "type": "submission",
        "form_id": "immunization",
        "form_version": docs[plain]["form_version"],
        "instance_id": plain,
        "county_code": COUNTY,
        "township_code": TOWNSHIP,
        "village": "弄岗村",
        "child_id": child_id(1),
        "collected_at": "2026-11-20T09:12:00.000+08:00",
        "started_at": "2026-11-20T09:00:00.000+08:00",
        "received_at": "2026-11-28T10:00:01.000Z",
        "updated_at": "2026-11-28T10:00:01.000Z",
        "source": "central",
        "submitter": "collector",
        "device_id": "collect:tablet01",
        "data": {
            "start": "2026-11-20T09:00:00.000+08:00",
            "end": "2026-11-20T09:12:00.000+08:00",
            "today": "2026-11-20",
            "deviceid": "collect:tablet01",
            "county": COUNTY,
            "township": TOWNSHIP,
            "village": "弄岗村",
            "child_id": child_id(1),
            "child_name": "梁宇",
            "child_sex": "male",
            "child_dob": "2025-05-01",
            "vaccination_date": "2025-11-03",
            "doses_given": ["hepb3", "mpsva1"],
            "aefi": "no",
            "gps": {"lat": 22.501736, "lon": 109.530718, "alt": 1160.2, "accuracy": 12.4},
        },
        "extra": {},
        "xml_md5": docs[plain]["xml_md5"],
        "edits": 0,
        "review_state": None,
        "deleted": False,
        "versions": [
            {
                "instance_id": plain,
                "xml_md5": docs[plain]["xml_md5"],
                "received_at": "2026-11-28T10:00:01.000Z",
                "submitter": "collector",
                "source": "central",
            }
        ],
        "history": [],
        "central": {
            "server": server,
            "project_id": world.project_id,
            "form_id": "immunization",
            "form_version": docs[plain]["form_version"],
            "submission_date": "2026-11-28T10:00:01.000Z",
            "updated_at": None,
            "edits": 0,
            "review_state": None,
            "deleted_at": None,
            "submitter_id": "2",
        },
    }
    assert len(docs[plain]["xml_md5"]) == 32
    # An edit made before the first sync: one document, the current version, edits from Central.
    assert (docs[edited]["instance_id"], docs[edited]["village"], docs[edited]["edits"]) == (
        new_version,
        "新村",
        1,
    )
    assert docs[edited]["review_state"] == "edited"
    assert docs[edited]["received_at"] == "2026-11-28T10:00:02.000Z"
    assert docs[edited]["updated_at"] == "2026-11-28T10:00:06.000Z"
    assert docs[reviewed]["review_state"] == "approved"
    assert docs[deleted]["deleted"] is True
    assert docs[deleted]["central"]["deleted_at"] == "2026-11-28T10:00:08.000Z"
    quarantined = list(contents(dbs.quarantine).values())
    assert len(quarantined) == 1
    held = quarantined[0]
    assert (held["instance_id"], held["source"], held["form_id"]) == (
        "uuid:00000000-0000-4000-8000-00000000bad0",
        "central",
        "immunization",
    )
    assert [r["code"] for r in held["reasons"]] == ["unknown_township"]
    assert list(held["_attachments"]) == ["submission.json"]
    assert checkpoint(world, dbs) == "2026-11-28T10:00:09.000Z"
    run = get_run(dbs.state, result.run_id)
    assert (run["status"], run["counts"], run["error"]) == ("succeeded", counts(result), None)
    trail = entries(dbs.db("audit"))
    audited = [
        (e["action"], i) for e in trail if e["action"] != "sync.run" for i in e["detail"]["ids"]
    ]
    assert sorted(audited) == (
        sorted(
            [("submission.created", i) for i in (plain, edited, reviewed, invalid)]
            + [("submission.deleted", deleted), ("submission.quarantined", held["_id"])]
        )
    )
    [ran] = [e for e in trail if e["action"] == "sync.run"]
    assert (ran["target"], ran["source"], ran["detail"]["status"]) == (
        result.run_id,
        "central",
        "succeeded",
    )


def test_incremental_sync_sees_new_edited_reviewed_and_deleted(
    world: CentralWorld, dbs: CradleDbs
) -> None:
    first = world.submit(4)
    sync(world, dbs)
    before = contents(dbs.submissions)
    world.tick(10)
    added = world.submit(2, township=OTHER_TOWNSHIP)
    edit_id = world.edit(first[0], first[0], aefi="yes")
    world.review(first[1], "hasIssues")
    world.delete(first[2])

    result = sync(world, dbs)

    # The overlap re-reads the last row of the first sync: fetched, unchanged, not written.
    assert counts(result) == {
        "fetched": 6,
        "new": 2,
        "updated": 1,
        "unchanged": 1,
        "quarantined": 0,
        "deleted": 1,
        "review_changes": 1,
    }
    docs = contents(dbs.submissions)
    assert len(docs) == 6
    assert [docs[i]["township_code"] for i in added] == [OTHER_TOWNSHIP] * 2
    edited = docs[first[0]]
    assert (edited["instance_id"], edited["data"]["aefi"], edited["edits"]) == (edit_id, "yes", 1)
    assert edited["history"] == [
        {
            "instance_id": first[0],
            "form_version": before[first[0]]["form_version"],
            "data": before[first[0]]["data"],
            "received_at": "2026-11-28T10:00:01.000Z",
            "submitter": "collector",
        }
    ]
    assert [v["instance_id"] for v in edited["versions"]] == [first[0], edit_id]
    assert edited["received_at"] == before[first[0]]["received_at"]
    reviewed = docs[first[1]]
    assert (reviewed["review_state"], reviewed["edits"], reviewed["history"]) == (
        "hasIssues",
        0,
        [],
    )
    assert reviewed["reviews"] == [
        {"from": None, "to": "hasIssues", "at": "2026-11-28T10:00:18.000Z"}
    ]
    assert reviewed["data"] == before[first[1]]["data"]
    assert docs[first[2]]["deleted"] is True
    assert docs[first[2]]["data"] == before[first[2]]["data"]
    assert docs[first[3]] == before[first[3]]

    again = sync(world, dbs)  # nothing changed: the overlap re-reads, nothing is written
    assert counts(again)["fetched"] == counts(again)["unchanged"]
    assert contents(dbs.submissions) == docs
    assert [r["status"] for r in list_runs(dbs.state)] == ["succeeded"] * 3


def test_a_submission_restored_in_central_counts_again(world: CentralWorld, dbs: CradleDbs) -> None:
    kept, gone, flipped = world.submit(3)
    world.delete(gone)
    world.delete(flipped)
    sync(world, dbs)
    assert [contents(dbs.submissions)[i]["deleted"] for i in (kept, gone, flipped)] == [
        False,
        True,
        True,
    ]
    before = contents(dbs.submissions)[gone]

    # Restored in Central (deletedAt cleared, nothing else): the window may not see it.
    world.tick(10)
    world.double.restore(world.project_id, world.form_id, gone)
    world.double.restore(world.project_id, world.form_id, flipped)
    world.delete(flipped)  # ... and deleted again before Cradle looked: still deleted
    result = sync(world, dbs)

    # `flipped` is in the window (deleted again, later); `gone` is brought back by key
    assert counts(result) == {
        "fetched": 2,
        "new": 0,
        "updated": 2,
        "unchanged": 0,
        "quarantined": 0,
        "deleted": 0,
        "review_changes": 0,
    }
    docs = contents(dbs.submissions)
    assert (docs[gone]["deleted"], docs[gone]["central"]["deleted_at"]) == (False, None)
    assert docs[gone]["data"] == before["data"] and docs[gone]["history"] == []
    assert docs[flipped]["deleted"] is True
    assert docs[flipped]["central"]["deleted_at"] == "2026-11-28T10:00:16.000Z"
    trail = entries(dbs.db("audit"))
    updated = [e["detail"]["ids"] for e in trail if e["action"] == "submission.updated"]
    assert sorted(updated) == sorted([[flipped], [gone]])

    again = sync(world, dbs)  # nothing left to bring back
    assert counts(again)["updated"] == 0
    assert contents(dbs.submissions) == docs


def test_paging_reads_every_row_once_across_pages(world: CentralWorld, dbs: CradleDbs) -> None:
    ids = world.bulk(2500)
    world.double.clear_requests()

    result = sync(world, dbs, page_size=1000)

    assert counts(result)["fetched"] == counts(result)["new"] == 2500
    assert sorted(contents(dbs.submissions)) == sorted(ids)
    feed = [r for r in world.double.requests if r.path.endswith(".svc/Submissions")]
    next_pages = [r for r in feed if "$skiptoken" in r.query]
    assert len(next_pages) == 2  # pages 2 and 3, through @odata.nextLink
    assert all(r.query["$top"] == "1000" for r in next_pages)
    assert all(r.status == 200 for r in feed)


def rows_at_steps(world: CentralWorld, n: int, step: timedelta) -> list[str]:
    made = []
    for _ in range(n):
        world.clock += step
        made += world.bulk(1, spacing_ms=0)
    return made


def test_slices_read_every_row_once_even_rows_on_their_bounds(
    world: CentralWorld, dbs: CradleDbs
) -> None:
    """page_size 5 makes slices of 25 rows. More rows than a slice share one instant;
    then rows come 0.4 ms apart (Central shows milliseconds, so a bound may fall inside
    one); then 1 ms apart (bounds fall exactly on rows)."""
    ids = world.bulk(30, spacing_ms=0)
    ids += rows_at_steps(world, 40, timedelta(microseconds=400))
    ids += rows_at_steps(world, 40, timedelta(milliseconds=1))
    world.double.clear_requests()

    result = sync(world, dbs, page_size=5, batch_size=7)

    assert counts(result)["fetched"] == counts(result)["new"] == 110
    assert sorted(contents(dbs.submissions)) == sorted(ids)
    probes = [r for r in world.double.requests if "$orderby" in r.query and "$skip" in r.query]
    assert len(probes) >= 4  # the window was read in several slices
    latest = max(d["central"]["submission_date"] for d in contents(dbs.submissions).values())
    assert checkpoint(world, dbs) == latest

    again = sync(world, dbs, page_size=5, batch_size=7)
    assert counts(again)["fetched"] == counts(again)["unchanged"]


class Crash(Exception):
    pass


@pytest.mark.parametrize("guards", [7, 8], ids=["before-a-write", "before-its-checkpoint"])
def test_a_run_stopped_mid_window_resumes_to_the_same_documents(
    world: CentralWorld, dbs: CradleDbs, couch: CouchClient, guards: int
) -> None:
    """The run stops (as a lost lease stops it) at the `guards`-th check: before batch 4
    is written, or after batch 4 is written but before its checkpoint. Every row before
    the checkpoint is written, the checkpoint never passes an unwritten row, and a
    second run leaves CouchDB as one uninterrupted run does."""
    world.bulk(60, spacing_ms=3)
    source = world.source(page_size=5, batch_size=6, backoff_seconds=0.01)
    calls = 0

    def guard() -> None:
        nonlocal calls
        calls += 1
        if calls == guards:
            raise Crash

    with CentralClient(source) as central, pytest.raises(Crash):
        sync_source(central, source, dbs.ingestor(world.forms_dir), CheckpointStore(dbs.state),
                    guard=guard)  # fmt: skip

    written = sorted(contents(dbs.submissions))
    assert written == sorted(world.ids[: 6 * (4 if guards == 8 else 3)])
    mark = checkpoint(world, dbs)
    assert mark == contents(dbs.submissions)[world.ids[17]]["central"]["submission_date"]

    sync(world, dbs, page_size=5, batch_size=6)
    reference = make_dbs(couch)
    try:
        sync(world, reference, page_size=5, batch_size=6)
        assert contents(dbs.submissions) == contents(reference.submissions)
    finally:
        drop_dbs(reference)


def test_429_500_and_dropped_connections_are_survived(world: CentralWorld, dbs: CradleDbs) -> None:
    world.bulk(30)
    faults = world.double.faults
    faults.add(r"\.svc/Submissions", "status:429", times=2, retry_after=0)
    faults.add(r"\.svc/Submissions", "status:500", times=2)
    faults.add(r"\.svc/Submissions", "drop", times=2)
    faults.add(r"\.svc/Submissions", "cut", times=1)
    faults.add(r"/v1/projects/\d+$", "status:503", times=1, retry_after=0)

    # Seven failures in a row on one request: within a budget of eight retries.
    result = sync(world, dbs, page_size=10, retries=8)

    assert faults.pending == []
    assert counts(result)["new"] == 30
    assert len(contents(dbs.submissions)) == 30


def test_failure_after_retries_keeps_the_checkpoint_and_records_the_run(
    world: CentralWorld, dbs: CradleDbs
) -> None:
    world.submit(3)
    sync(world, dbs)
    mark = checkpoint(world, dbs)
    world.tick(5)
    world.submit(2)
    world.double.faults.add(r"skiptoken|\$filter", "status:500", times=1000)

    with pytest.raises(CentralUnavailable, match=r"HTTP 500 after 3 attempts"):
        sync(world, dbs, retries=2, page_size=1)

    assert checkpoint(world, dbs) == mark
    failed = list_runs(dbs.state)[0]
    assert failed["status"] == "failed"
    assert "HTTP 500 after 3 attempts" in failed["error"]
    assert len(contents(dbs.submissions)) == 3


def test_attachments_are_fetched_when_asked(world: CentralWorld, dbs: CradleDbs) -> None:
    xform = world.xform.read_text()
    version = xform.split('<data id="immunization" version="', 1)[1].split('"', 1)[0]
    photo_version = f"{version}9"
    with_photo = (
        xform.replace("<gps/>", "<gps/>\n            <photo/>", 1)
        .replace(
            '<bind nodeset="/data/visit/gps"',
            '<bind nodeset="/data/visit/photo" type="binary"/>\n'
            '      <bind nodeset="/data/visit/gps"',
            1,
        )
        .replace(f'version="{version}"', f'version="{photo_version}"', 1)
    )
    world.double.add_form(world.project_id, with_photo, at=world.tick())
    doc_id = "uuid:00000000-0000-4000-8000-0000000000f1"
    xml = (
        world.instance(doc_id)
        .replace(f'version="{version}"'.encode(), f'version="{photo_version}"'.encode(), 1)
        .replace(b"<gps>", b"<photo>p.jpg</photo><gps>", 1)
    )
    world.double.submit(
        world.project_id, "immunization", xml, {"p.jpg": b"\xff\xd8JPEG"}, at=world.tick()
    )

    sync(world, dbs)
    assert "_attachments" not in dbs.submissions.get(doc_id)

    source = world.source(backoff_seconds=0.01)
    result = run_sync(source, dbs.ingestor(world.forms_dir), dbs.state, attachments=True)
    assert counts(result)["updated"] == 1
    assert dbs.submissions.get_attachment(doc_id, "media/p.jpg") == b"\xff\xd8JPEG"
    assert dbs.submissions.get(doc_id)["extra"] == {"photo": "p.jpg"}


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    from sync.central.cli import command_argv

    return subprocess.run(
        command_argv(*args), capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )


def test_cli_syncs_and_prints_a_summary(world: CentralWorld, dbs: CradleDbs) -> None:
    world.submit(3)
    config = world.write_config()
    done = run_cli("--source", "gx", env=dbs.env(world.forms_dir, config))
    assert done.returncode == 0, done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith(
        "gx: fetched 3, new 3, updated 0, unchanged 0, quarantined 0, deleted 0, review changes 0 ("
    )
    assert "gx/immunization: done, fetched 3 of 3, written 3 of 3" in done.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"password": "wrong"},
            "Error: ODK Central {url} refused the login for sync@example.org (HTTP 401): "
            "wrong email or password",
        ),
        ({"project": 99}, "Error: ODK Central {url} has no project 99 (HTTP 404)"),
        (
            {"form": "nosuchform"},
            "Error: ODK Central {url}: project {pid} has no form 'nosuchform' (HTTP 404)",
        ),
        (
            {"url": "http://127.0.0.1:9"},
            "Error: cannot reach ODK Central at http://127.0.0.1:9 (logging in): "
            "connection refused after 2 attempts",
        ),
    ],
    ids=["credentials", "project", "form", "unreachable"],
)
def test_cli_failures_are_one_line_and_leave_no_checkpoint(
    world: CentralWorld, dbs: CradleDbs, change: dict, message: str
) -> None:
    world.submit(1)
    config = world.write_config(password=change.get("password", "central-pass-2026"), retries=1)
    text = config.read_text()
    if "project" in change:
        text = text.replace(f"project_id = {world.project_id}", f"project_id = {change['project']}")
    if "form" in change:
        text = text.replace("immunization = ", f"{change['form']} = ")
    config.write_text(text)
    pyodk = config.with_name("pyodk_config.toml")
    if "url" in change:
        pyodk.write_text(pyodk.read_text().replace(world.double.base_url, change["url"]))

    done = run_cli("--source", "gx", env=dbs.env(world.forms_dir, config))

    assert done.returncode == 1
    assert done.stderr.strip() == message.format(url=world.double.base_url, pid=world.project_id)
    assert done.stdout == ""
    assert [d for d in contents(dbs.state) if d.startswith("checkpoint:")] == []
    assert len(contents(dbs.submissions)) == 0


def test_client_follows_next_links_on_the_configured_server(world: CentralWorld) -> None:
    world.bulk(5)
    source = world.source()
    with CentralClient(source) as central:
        pages = list(central.pages("immunization", filter=None, top=2))
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert pages[0]["@odata.count"] == 5
    assert Path(source.pyodk_cache).exists()


def test_watch_keeps_pulling_at_an_interval(world: CentralWorld, dbs: CradleDbs) -> None:
    from sync.central.cli import command_argv

    world.submit(2)
    config = world.write_config()
    proc = subprocess.Popen(
        command_argv("--source", "gx", "--watch", "0.2"),
        cwd=REPO,
        env=dbs.env(world.forms_dir, config),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("gx: fetched 2, new 2,"), first
        world.tick(5)
        world.submit(1)
        while True:  # rounds that found nothing new, until the new row arrives
            line = proc.stdout.readline()
            assert line, "the watching process ended"
            if ", new 1," in line:
                break
            assert ", new 0," in line
    finally:
        proc.kill()
        proc.wait()
    assert len(contents(dbs.submissions)) == 3
