"""The audit trail: who did what, when, from where. Append-only, enforced by CouchDB itself
(a `validate_doc_update` function refuses any change to an existing entry, whoever asks).

Entries carry no personal data: a submission is named by its id, never by a child's name.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from sync.couch import Database
from sync.errors import SyncError

log = logging.getLogger(__name__)

APPEND_ONLY = """function (newDoc, oldDoc, userCtx) {
  if (oldDoc || newDoc._deleted) {
    throw({forbidden: 'audit entries are append-only'});
  }
  if (!newDoc.at || !newDoc.action) {
    throw({forbidden: 'an audit entry needs at and action'});
  }
}"""

DESIGN = {"validate_doc_update": APPEND_ONLY}

ACTIONS = frozenset(
    {
        "submission.created",
        "submission.updated",
        "submission.topped_up",
        "submission.unchanged",
        "submission.quarantined",
        "submission.reprocessed",
        "submission.deleted",
        "submission.reviewed",
        "sync.run",
        "user.created",
        "user.role_changed",
        "user.password_changed",
        "user.deactivated",
        "user.activated",
    }
)


def entry(
    *,
    action: str,
    actor: str | None,
    source: str,
    target: str | None = None,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One entry; its id sorts by time, so `_all_docs` reads the trail in order."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return {
        "_id": f"{stamp}:{uuid.uuid4().hex[:12]}",
        "type": "audit",
        "at": stamp,
        "action": action,
        "actor": actor or "system",
        "source": source,
        "target": target,
        "address": address,
        "detail": detail or {},
    }


def record(db: Database, **fields: Any) -> str:
    """Append one entry now (for rare events: roles, syncs, re-processing)."""
    doc = entry(**fields)
    db.put(doc)
    return doc["_id"]


class AuditBuffer:
    """Appends high-volume entries (one per submission) in batches from a background
    thread: one `_bulk_docs` per 100 ms instead of one request per submission. The window
    a crash can lose is that 100 ms; each submission document also keeps its own
    `versions` (who, when, from where), so the trail can be rebuilt from the data."""

    def __init__(self, *, interval: float = 0.1, max_batch: int = 500) -> None:
        self._interval = interval
        self._max_batch = max_batch
        self._queue: queue.Queue[tuple[Database, dict[str, Any]]] = queue.Queue(maxsize=50_000)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._pending = 0

    def add(self, db: Database, **fields: Any) -> str:
        doc = entry(**fields)
        with self._idle:
            self._pending += 1
        self._queue.put((db, doc))
        self._start()
        return doc["_id"]

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            try:
                while len(batch) < self._max_batch:
                    batch.append(self._queue.get(timeout=self._interval))
            except queue.Empty:
                pass
            by_db: dict[str, tuple[Database, list[dict[str, Any]]]] = {}
            for db, doc in batch:
                by_db.setdefault(db.name, (db, []))[1].append(doc)
            for db, docs in by_db.values():
                self._write(db, docs)

    def _write(self, db: Database, batch: list[dict[str, Any]]) -> None:
        try:
            for attempt in range(5):
                try:
                    results = db.bulk_docs(batch)
                    failed = [r for r in results if not r.ok]
                    if failed:
                        log.error("audit: %d entries refused: %s", len(failed), failed[0].error)
                    return
                except SyncError as exc:
                    log.warning("audit: batch of %d not written yet (%s)", len(batch), exc)
                    threading.Event().wait(0.5 * (attempt + 1))
            log.error("audit: %d entries could not be written", len(batch))
        except Exception:  # the writer thread must outlive any one batch
            log.exception("audit: %d entries could not be written", len(batch))
        finally:
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything added so far is written; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)


def entries(
    db: Database, *, since: str | None = None, until: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Entries in time order, from `since` (an ISO time, inclusive)."""
    rows = db.all_docs(
        start_key=since or "0",
        end_key=(until or "9") + "\ufff0",
        include_docs=True,
        limit=limit,
    )
    return [
        {k: v for k, v in row["doc"].items() if not k.startswith("_")} | {"id": row["id"]}
        for row in rows
        if not row["id"].startswith("_design/")
    ]
