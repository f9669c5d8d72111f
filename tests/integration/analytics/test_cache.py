"""The columnar cache against the real server: same answers as a cold read, reading only
what changed, surviving crashes, rebuildable."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

from analytics import cache as cache_module
from analytics import columns as C
from analytics.cache import MAX_SEGMENTS, SUBMISSIONS, ColumnarCache
from analytics.flatten import flatten_quarantine, flatten_submissions
from analytics.service import coverage_report
from analytics.source import CouchSource, Dataset, FrameSource
from server.accounts.scope import Scope
from sync.couch import CouchClient
from sync.schema import db_name
from tests.unit.analytics import factories as f

ANALYST = Scope("analyst", None, "test")


def cold(couch: CouchClient, prefix: str) -> FrameSource:
    """Everything read straight from CouchDB, flattened, no cache."""
    frames = []
    for key, flatten in (("submissions", flatten_submissions), ("quarantine", flatten_quarantine)):
        rows = [
            {"id": r["id"], "doc": r["doc"]}
            for r in couch.db(db_name(prefix, key)).iter_all_docs()
            if not r["id"].startswith("_design/")
        ]
        frames.append(flatten(rows))
    return FrameSource(Dataset(*frames))


def tables(source, period: str = "2026-Q3") -> tuple[pd.DataFrame, pd.DataFrame]:
    report = coverage_report(period=period, scope=ANALYST, source=source)
    return report.table, report.quality


def assert_same(a: tuple[pd.DataFrame, pd.DataFrame], b: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1], check_like=True)


def test_cache_equals_a_cold_read_after_new_edited_and_deleted_documents(
    couch: CouchClient, loaded: tuple[str, list[dict], list[dict]], cache_root: Path
) -> None:
    prefix, docs, _ = loaded
    source = CouchSource(couch, prefix, cache_root)
    assert [s.full for s in source.load().stats] == [True, True]
    first = tables(source)
    assert_same(first, tables(cold(couch, prefix)))

    subs = couch.db(db_name(prefix, "submissions"))
    current = subs.bulk_get([d["_id"] for d in docs[:40]])
    ids = list(current)
    changed: list[dict] = []
    for doc_id in ids[:10]:  # edited: another dose, one more edit
        doc = copy.deepcopy(current[doc_id])
        doc["edits"] += 1
        doc["review_state"] = "edited"
        if doc["form_id"] == "immunization":
            doc["data"]["doses_given"] = ["dtap3", "hepb3"]
        doc["data"]["child_sex"] = "male" if doc["data"]["child_sex"] == "female" else "female"
        changed.append(doc)
    for doc_id in ids[10:15]:  # soft-deleted in Central
        changed.append({**current[doc_id], "deleted": True})
    new = [
        f.immunization(
            f"N{i:03d}",
            "2026-08-01",
            ["hepb3", "mpsva1"],
            dob="2025-12-01",
            township=docs[i]["township_code"],
        )
        for i in range(20)
    ]
    results = subs.bulk_docs(changed + new)
    assert all(r.ok for r in results)
    for doc_id in ids[15:20]:  # hard-deleted: tombstones in the feed
        subs.delete_doc(doc_id, current[doc_id]["_rev"])
    q = couch.db(db_name(prefix, "quarantine"))
    assert all(r.ok for r in q.bulk_docs([f.quarantined("out_of_range")]))

    second = tables(source)
    stats = source.load().stats  # nothing new since the refresh above
    assert [s.rows_read for s in stats] == [0, 0]
    assert_same(second, tables(cold(couch, prefix)))
    assert not second[0].equals(first[0])
    total = second[1].loc[second[1][C.LEVEL] == "programme"].iloc[0]
    assert total["rejected_out_of_range"] == 1

    rebuilt = CouchSource(couch, prefix, cache_root / "elsewhere")
    assert_same(second, tables(rebuilt))
    source.load(rebuild=True)
    assert_same(second, tables(source))


def test_a_second_run_reads_only_the_changes(
    couch: CouchClient, loaded: tuple[str, list[dict], list[dict]], cache_root: Path
) -> None:
    prefix, docs, _ = loaded
    db = couch.db(db_name(prefix, "submissions"))
    cache = ColumnarCache(cache_root, SUBMISSIONS)
    first = cache.refresh(db)
    assert first.full and first.rows_read == len(docs)
    again = cache.refresh(db)
    assert (again.full, again.rows_read, again.segments_written) == (False, 0, 0)
    db.bulk_docs([f.newborn(f"M{i}", "2026-09-01", dob="2026-08-30") for i in range(7)])
    third = cache.refresh(db)
    assert (third.full, third.rows_read, third.segments_written) == (False, 7, 1)
    assert len(cache.read()) == len(docs) + 7


def test_a_feed_that_moved_without_new_rows_keeps_the_generation(
    couch: CouchClient, loaded: tuple[str, list[dict], list[dict]], cache_root: Path
) -> None:
    """Reports are kept per generation: a change that adds no row (here a design
    document) moves the feed position but must not make the same data look new."""
    prefix, _, _ = loaded
    db = couch.db(db_name(prefix, "submissions"))
    cache = ColumnarCache(cache_root, SUBMISSIONS)
    cache.refresh(db)
    before = cache.manifest()
    db.put({"_id": "_design/unrelated", "views": {}})
    cache.refresh(db)
    after = cache.manifest()
    assert after["last_seq"] != before["last_seq"]
    assert (after["generation"], after["segments"]) == (before["generation"], before["segments"])


def test_a_crash_mid_write_leaves_the_previous_state(
    couch: CouchClient, loaded: tuple[str, list[dict], list[dict]], cache_root: Path
) -> None:
    prefix, _, _ = loaded
    db = couch.db(db_name(prefix, "submissions"))
    cache = ColumnarCache(cache_root, SUBMISSIONS)
    cache.refresh(db)
    before = cache.read().sort_values(C.DOC_ID).reset_index(drop=True)
    # What a crash between writing a segment and the manifest leaves behind:
    (cache_root / "submissions-99999999-deadbeef.parquet").write_bytes(b"half a segment")
    (cache_root / ".submissions.json.tmp").write_text('{"version": "torn', encoding="utf-8")
    fresh = ColumnarCache(cache_root, SUBMISSIONS)
    pd.testing.assert_frame_equal(fresh.read().sort_values(C.DOC_ID).reset_index(drop=True), before)
    fresh.refresh(db)
    assert not (cache_root / "submissions-99999999-deadbeef.parquet").exists()
    assert not (cache_root / ".submissions.json.tmp").exists()
    # Throwing the cache away is always safe: the next refresh rebuilds the same rows.
    fresh.clear()
    assert fresh.refresh(db).full
    after = fresh.read().sort_values(C.DOC_ID).reset_index(drop=True)
    pd.testing.assert_frame_equal(after, before, check_categorical=False)


def test_many_small_refreshes_are_compacted(
    couch: CouchClient, prefix: str, cache_root: Path
) -> None:
    db = couch.db(db_name(prefix, "submissions"))
    cache = ColumnarCache(cache_root, SUBMISSIONS)
    db.bulk_docs([f.newborn(f"B{i}", "2026-09-01", dob="2026-08-30") for i in range(40)])
    cache.refresh(db)
    for round_ in range(8):
        db.bulk_docs(
            [f.newborn(f"R{round_}-{i}", "2026-09-01", dob="2026-08-30") for i in range(3)]
        )
        cache.refresh(db)
    manifest = cache.manifest()
    assert manifest is not None and len(manifest["segments"]) <= MAX_SEGMENTS
    assert manifest["segments"][0]["rows"] > 40  # the first segment absorbed later ones
    assert len(cache.read()) == 40 + 8 * 3
    assert sorted(p.name for p in cache_root.glob("submissions-*.parquet")) == sorted(
        s["file"] for s in manifest["segments"]
    )


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(C.DOC_ID).reset_index(drop=True)


def test_a_cold_load_in_many_segments_reads_the_same_rows(
    couch: CouchClient,
    loaded: tuple[str, list[dict], list[dict]],
    cache_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix, docs, _ = loaded
    db = couch.db(db_name(prefix, "submissions"))
    whole = ColumnarCache(cache_root / "whole", SUBMISSIONS)
    assert whole.refresh(db).segments_written == 1
    monkeypatch.setattr(cache_module, "SEGMENT_ROWS", 250)
    split = ColumnarCache(cache_root / "split", SUBMISSIONS)
    stats = split.refresh(db, batch=100)
    assert stats.segments_written > 1 and stats.compacted
    manifest = split.manifest()
    assert manifest is not None and len(manifest["segments"]) == 1
    assert manifest["segments"][0]["rows"] == len(docs)
    pd.testing.assert_frame_equal(split.read(), whole.read())


def test_compaction_keeps_the_last_version_and_drops_deleted_documents(
    couch: CouchClient,
    loaded: tuple[str, list[dict], list[dict]],
    cache_root: Path,
) -> None:
    prefix, docs, _ = loaded
    db = couch.db(db_name(prefix, "submissions"))
    cache = ColumnarCache(cache_root, SUBMISSIONS)
    cache.refresh(db)
    current = db.bulk_get([d["_id"] for d in docs[:30]])
    ids = list(current)
    for round_ in range(MAX_SEGMENTS):  # a segment per round: the last one compacts
        edited = {**current[ids[round_]], "edits": 5 + round_, "review_state": "edited"}
        gone = current[ids[10 + round_]]
        assert all(r.ok for r in db.bulk_docs([edited]))
        db.delete_doc(gone["_id"], gone["_rev"])
        stats = cache.refresh(db)
    assert stats.compacted
    manifest = cache.manifest()
    assert manifest is not None and len(manifest["segments"]) == 1
    frame = by_id(cache.read())
    assert len(frame) == len(docs) - MAX_SEGMENTS
    edits = frame.set_index(C.DOC_ID)[C.EDITS]
    assert [int(edits[i]) for i in ids[:MAX_SEGMENTS]] == list(range(5, 5 + MAX_SEGMENTS))
    assert not set(ids[10 : 10 + MAX_SEGMENTS]) & set(frame[C.DOC_ID])
    fresh = ColumnarCache(cache_root / "fresh", SUBMISSIONS)
    fresh.refresh(db)
    pd.testing.assert_frame_equal(frame, by_id(fresh.read()), check_categorical=False)
