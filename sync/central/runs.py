"""Sync run records in the `state` database: who ran what, when, how far, how it ended.

A record is `run:<id>` with `status` running / succeeded / failed, the counts so far,
and `heartbeat_at`, written at most every couple of seconds while the run works. A
record still "running" whose heartbeat stopped belongs to a run that died; readers see
it as failed, and the next run of the source marks it so for good.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sync.couch import Database
from sync.errors import CouchConflict

COUNT_KEYS = ("fetched", "new", "updated", "unchanged", "quarantined", "deleted", "review_changes")
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
STALE_AFTER = 120.0  # seconds without a heartbeat before a "running" record counts as dead
_PREFIX = "run:"


def now_iso(clock: Callable[[], float] = time.time) -> str:
    text = datetime.fromtimestamp(clock(), UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def new_run_id(clock: Callable[[], float] = time.time) -> str:
    """Sortable by start time: `20261128T151623.042Z-3f9a1c`."""
    moment = datetime.fromtimestamp(clock(), UTC)
    stamp = moment.strftime("%Y%m%dT%H%M%S") + f".{moment.microsecond // 1000:03d}Z"
    return f"{stamp}-{secrets.token_hex(3)}"


def run_doc_id(run_id: str) -> str:
    return f"{_PREFIX}{run_id}"


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


def create_run(
    db: Database,
    source: str,
    run_id: str | None = None,
    *,
    clock: Callable[[], float] = time.time,
    requested_by: str | None = None,
) -> dict[str, Any]:
    """A new "running" record (the API creates it before spawning the process)."""
    rid = run_id or new_run_id(clock)
    stamp = now_iso(clock)
    doc = {
        "_id": run_doc_id(rid),
        "type": "sync_run",
        "id": rid,
        "source": source,
        "kind": "central",
        "status": RUNNING,
        "started_at": stamp,
        "finished_at": None,
        "heartbeat_at": stamp,
        "counts": zero_counts(),
        "total": None,
        "written": 0,
        "form": None,
        "error": None,
        "requested_by": requested_by,
        "host": socket.gethostname(),
        "pid": None,
    }
    doc["_rev"] = db.put(doc)
    return doc


def get_run(db: Database, run_id: str) -> dict[str, Any] | None:
    doc = db.get(run_doc_id(run_id))
    return doc if doc and doc.get("type") == "sync_run" else None


def list_runs(
    db: Database,
    *,
    source: str | None = None,
    sources: Collection[str] | None = None,
    limit: int = 50,
    page: int = 200,
) -> list[dict]:
    """The latest runs, newest first (ids sort by start time), of `source` or of any of
    `sources` (all when both are None). Read backwards by key, a page at a time, so the
    cost follows `limit` and not the number of runs ever recorded."""
    wanted = {source} if source is not None else (set(sources) if sources is not None else None)
    if wanted is not None and not wanted:
        return []
    kept: list[dict] = []
    start = _PREFIX + "\ufff0"
    first = True
    while len(kept) < limit:
        rows = db.all_docs(
            start_key=start,
            end_key=_PREFIX,
            include_docs=True,
            limit=page + (0 if first else 1),
            descending=True,
        )
        fresh = rows if first else rows[1:]  # a later page starts at the last row read
        for row in fresh:
            doc = row.get("doc")
            if (
                doc
                and doc.get("type") == "sync_run"
                and (wanted is None or doc["source"] in wanted)
            ):
                kept.append(doc)
                if len(kept) == limit:
                    break
        if len(fresh) < page:
            break
        start, first = rows[-1]["id"], False
    return kept


def effective(doc: Mapping[str, Any], *, clock: Callable[[], float] = time.time) -> dict:
    """The record as a reader should see it: a silent "running" run is a failed one."""
    view = {k: v for k, v in doc.items() if not k.startswith("_")}
    if view.get("status") == RUNNING and view.get("heartbeat_at"):
        beat = datetime.fromisoformat(view["heartbeat_at"].replace("Z", "+00:00")).timestamp()
        if clock() - beat > STALE_AFTER:
            view["status"] = FAILED
            view["error"] = view.get("error") or "the run stopped without finishing"
    return view


def fail_run(
    db: Database, run_id: str, error: str, *, clock: Callable[[], float] = time.time
) -> None:
    """Close a record that never got to run (its source was busy)."""
    doc = get_run(db, run_id)
    if doc is None or doc.get("status") != RUNNING:
        return
    doc.update(status=FAILED, finished_at=now_iso(clock), error=error)
    try:
        db.put(doc)
    except CouchConflict:
        pass


def mark_abandoned(db: Database, run_id: str, *, clock: Callable[[], float] = time.time) -> None:
    """Close the record of a run that died holding the lock."""
    doc = get_run(db, run_id)
    if doc is None or doc.get("status") != RUNNING:
        return
    doc.update(status=FAILED, finished_at=now_iso(clock), error="the run stopped without finishing")
    try:
        db.put(doc)
    except CouchConflict:
        pass  # it is being written by someone else: leave it to them


class RunRecorder:
    """Keeps one run's record current: counts and progress at most every `every` seconds."""

    def __init__(
        self,
        db: Database,
        source: str,
        run_id: str | None = None,
        *,
        every: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.clock = clock
        self.every = every
        existing = get_run(db, run_id) if run_id else None
        if existing is not None and existing.get("source") != source:
            raise ValueError(f"run {run_id} belongs to source {existing.get('source')!r}")
        if existing is not None and existing.get("status") != RUNNING:
            raise ValueError(f"run {run_id} has already ended ({existing.get('status')})")
        self._lock = threading.Lock()
        self.doc = existing or create_run(db, source, run_id, clock=clock)
        self.doc.update(status=RUNNING, pid=os.getpid(), host=socket.gethostname())
        self._last = 0.0
        self.save()

    @property
    def id(self) -> str:
        return self.doc["id"]

    def save(self) -> None:
        """Write the record now (also the heartbeat; safe from the lease's thread)."""
        with self._lock:
            self.doc["heartbeat_at"] = now_iso(self.clock)
            for _ in range(5):
                try:
                    self.doc["_rev"] = self.db.put(dict(self.doc))
                    break
                except CouchConflict:
                    current = self.db.get(self.doc["_id"]) or {}
                    self.doc["_rev"] = current.get("_rev")
            self._last = self.clock()

    def progress(
        self,
        counts: Mapping[str, int],
        *,
        written: int,
        total: int | None,
        form: str | None,
        force: bool = False,
    ) -> None:
        with self._lock:
            self.doc.update(counts=dict(counts), written=written, total=total, form=form)
        if force or self.clock() - self._last >= self.every:
            self.save()

    def finish(self, counts: Mapping[str, int], *, error: str | None = None) -> None:
        with self._lock:
            self.doc.update(
                counts=dict(counts),
                status=FAILED if error else SUCCEEDED,
                error=error,
                finished_at=now_iso(self.clock),
            )
        self.save()
