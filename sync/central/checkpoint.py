"""Where an incremental Central pull resumes: one checkpoint per (server, project, form).

The checkpoint `since` promises that every change Central made before that moment is
durably in CouchDB. A run reads the window of rows changed after `since` minus a small
overlap, newest first as Central serves them, and writes them OLDEST FIRST by
`submissionDate`, in batches. After a batch whose newest row was submitted at S, every
row submitted before S is written, and no other row changed before S (a row changes no
earlier than it is submitted), so the checkpoint may move to S. When the whole window is
written it moves to the run's high-water mark: the latest change Central reported
*before* the run read any page. Changes made while a run pages (a row edited after its
page was read) are therefore always later than the checkpoint and are seen by the next
run, never skipped.

The overlap re-reads a little: Central keeps microseconds but prints milliseconds, rows
submitted in one millisecond may straddle two batches, and a transaction may commit
slightly after its timestamp. Re-read rows are unchanged upserts, so re-reading is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.couch import Database
from sync.errors import CouchConflict


@dataclass(frozen=True)
class Checkpoint:
    """`since`: every change on Central before it is written (None: nothing yet)."""

    since: str | None = None


@dataclass(frozen=True)
class Batch:
    """What a durably written batch tells the checkpoint.

    `last_submitted`: the newest `submissionDate` in the batch (batches go oldest first);
    `high_water`: the latest change Central reported before the run read any row;
    `final`: the batch completes the run's window.
    """

    last_submitted: str | None
    high_water: str | None
    final: bool = False


def parse_time(text: str) -> datetime:
    """A Central timestamp (`2026-11-28T13:26:41.355Z`) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def format_time(moment: datetime) -> str:
    """Central's own format: UTC, milliseconds, `Z`."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _later(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if parse_time(a) >= parse_time(b) else b


def _earlier(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    return a if parse_time(a) <= parse_time(b) else b


def next_checkpoint(state: Checkpoint, batch: Batch) -> Checkpoint:
    """The checkpoint after `batch` is durably written; it never moves backwards.

    >>> high = "2026-11-28T14:00:00.000Z"
    >>> cp = next_checkpoint(Checkpoint(), Batch("2026-11-28T13:00:00.000Z", high))
    >>> cp.since
    '2026-11-28T13:00:00.000Z'
    >>> next_checkpoint(cp, Batch(None, high, final=True)).since
    '2026-11-28T14:00:00.000Z'
    """
    reached = batch.high_water if batch.final else _earlier(batch.last_submitted, batch.high_water)
    return Checkpoint(_later(state.since, reached))


def window_start(state: Checkpoint, overlap_seconds: float) -> str | None:
    """The lower bound a run filters on: the checkpoint minus the overlap."""
    if state.since is None:
        return None
    return format_time(parse_time(state.since) - timedelta(seconds=overlap_seconds))


def live_filter(start: str | None) -> str | None:
    """Rows created or updated after `start` (`updatedAt` is null on unedited rows)."""
    if start is None:
        return None
    return f"__system/submissionDate gt {start} or __system/updatedAt gt {start}"


def deleted_filter(start: str | None) -> str:
    """Soft-deleted rows changed after `start`; Central lists deleted rows only when asked."""
    if start is None:
        return "__system/deletedAt ne null"
    return (
        f"__system/deletedAt ne null and (__system/deletedAt gt {start} or "
        f"__system/submissionDate gt {start} or __system/updatedAt gt {start})"
    )


def checkpoint_id(server: str, project_id: int, form_id: str) -> str:
    """The state document of one (server, project, form)."""
    return f"checkpoint:central:{server}|{project_id}|{form_id}"


class CheckpointStore:
    """Checkpoints as documents in Cradle's `state` database.

    The store remembers each document it last read or wrote, so moving a checkpoint
    after every batch is one PUT; a conflict (someone else wrote it) reads it again.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[str, dict[str, Any]] = {}

    def _read(self, doc_id: str) -> dict[str, Any]:
        doc = self.db.get(doc_id) or {"_id": doc_id}
        self._known[doc_id] = doc
        return doc

    def load(self, server: str, project_id: int, form_id: str) -> Checkpoint:
        doc = self._read(checkpoint_id(server, project_id, form_id))
        return Checkpoint(doc.get("since"))

    def save(
        self,
        server: str,
        project_id: int,
        form_id: str,
        state: Checkpoint,
        *,
        run_id: str | None = None,
        saved_at: str | None = None,
    ) -> Checkpoint:
        """Store `state`, keeping the later of it and what is stored (a checkpoint never
        moves back, even if two writers race)."""
        doc_id = checkpoint_id(server, project_id, form_id)
        current = self._known.get(doc_id) or self._read(doc_id)
        for _ in range(10):
            merged = Checkpoint(_later(current.get("since"), state.since))
            if current.get("since") == merged.since and "_rev" in current:
                return merged
            doc: dict[str, Any] = {
                **current,
                "type": "central_checkpoint",
                "server": server,
                "project_id": project_id,
                "form_id": form_id,
                "since": merged.since,
                "run_id": run_id,
                "saved_at": saved_at,
            }
            try:
                doc["_rev"] = self.db.put(doc)
            except CouchConflict:
                current = self._read(doc_id)
                continue
            self._known[doc_id] = doc
            return merged
        raise CouchConflict("PUT", f"{self.db.name}/{doc_id}", 409, "conflict", "kept losing")
