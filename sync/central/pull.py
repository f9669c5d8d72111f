"""One sync run: for each form of a source, read the window of changed rows from Central,
write it oldest first in batches, and move the checkpoint after each durable batch.

Why the whole window is read before anything is written: Central serves rows newest
first and its `@odata.nextLink` pages backwards in time, while a checkpoint may only move
past rows that are written. So the window's pages are read to the end (kept in a
temporary file, not in memory), then replayed oldest first. Paging is by Central's
`$skiptoken` (keyed on the last row), so rows arriving during the run cannot shift pages;
they are newer than the run's high-water mark and the next run reads them. A killed run
repeats its download; its writes are idempotent and the documents it wrote count as
unchanged the next time.
"""

from __future__ import annotations

import heapq
import logging
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import orjson

from sync import audit
from sync.central.checkpoint import (
    Batch,
    CheckpointStore,
    deleted_filter,
    live_filter,
    next_checkpoint,
    parse_time,
    window_start,
)
from sync.central.client import CentralClient
from sync.central.config import Source
from sync.central.lock import DEFAULT_TTL, acquire
from sync.central.runs import RunRecorder, fail_run, mark_abandoned, new_run_id, now_iso
from sync.central.upsert import AttachmentSource, Counts, FormTarget, Upserter
from sync.couch import Database
from sync.errors import SourceBusy, SyncError
from sync.ingest.store import Ingestor

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """How far a run is: rows fetched and written for the current form; total when known."""

    source: str
    form: str = ""
    fetched: int = 0
    written: int = 0
    total: int | None = None
    phase: str = "starting"  # fetching | writing | done


OnProgress = Callable[[Progress, Counts], None]


def _ignore(progress: Progress, counts: Counts) -> None:
    pass


class Spool:
    """Rows kept in a temporary file while a window is paged, read back newest-last."""

    def __init__(self, *, keep_ids: bool = False) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="cradle-central-")
        self._starts = array("q")
        self._end = 0
        self._keep_ids = keep_ids
        self.ids: set[str] = set()  # the rows' `__id`s, when asked to keep them

    def __len__(self) -> int:
        return len(self._starts)

    def append(self, row: Mapping[str, Any]) -> None:
        data = orjson.dumps(row)
        self._starts.append(self._end)
        self._file.write(data)
        self._end += len(data)
        if self._keep_ids:
            self.ids.add(str(row.get("__id")))

    def reversed(self) -> Iterator[dict[str, Any]]:
        """Rows in the opposite order to how they were appended."""
        self._file.flush()
        end = self._end
        for start in reversed(self._starts):
            self._file.seek(start)
            yield orjson.loads(self._file.read(end - start))
            end = start

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def submitted(row: Mapping[str, Any]) -> str:
    return str((row.get("__system") or {}).get("submissionDate") or "")


def oldest_first(deleted: Spool, live: Spool) -> Iterator[dict[str, Any]]:
    """Both feeds (each newest first as Central served them) merged oldest first by
    `submissionDate`. A row deleted while the run paged may be in both: the deleted one
    is the later state, so the live copy is dropped."""
    live_rows = (r for r in live.reversed() if str(r.get("__id")) not in deleted.ids)
    return heapq.merge(deleted.reversed(), live_rows, key=submitted)


def high_water(central: CentralClient, form_id: str) -> str | None:
    """The latest change Central reports for the form: creation, update or deletion."""
    values = [
        central.latest(form_id, "submissionDate"),
        central.latest(form_id, "updatedAt"),
        central.latest(form_id, "deletedAt", deleted=True),
    ]
    present = [v for v in values if v]
    return max(present, key=parse_time) if present else None


def pull_form(
    central: CentralClient,
    upserter: Upserter,
    checkpoints: CheckpointStore,
    source: Source,
    central_form: str,
    *,
    progress: Progress,
    counts: Counts,
    on_progress: OnProgress = _ignore,
    guard: Callable[[], None] = lambda: None,
    run_id: str | None = None,
) -> Counts:
    """Bring one form up to date; `counts` (the run's running total) is updated in place.
    `guard()` is called before every durable write (it raises when the lease was lost)."""
    key = (source.server, source.project_id, central_form)
    state = checkpoints.load(*key)
    start = window_start(state, source.overlap_seconds)
    high = high_water(central, central_form)
    progress.form, progress.fetched, progress.written, progress.total = central_form, 0, 0, None
    progress.phase = "fetching"
    form_counts = Counts()
    with Spool(keep_ids=True) as deleted, Spool() as live:
        totals: list[int] = []
        for spool, expr in ((deleted, deleted_filter(start)), (live, live_filter(start))):
            first = True
            for page in central.pages(central_form, filter=expr, top=source.page_size):
                if first and isinstance(page.get("@odata.count"), int):
                    totals.append(page["@odata.count"])
                    progress.total = sum(totals) if len(totals) == 2 else None
                first = False
                for row in page.get("value") or []:
                    spool.append(row)
                progress.fetched += len(page.get("value") or [])
                on_progress(progress, counts)
        progress.total = len(deleted) + len(live)
        progress.phase = "writing"
        batch: list[dict[str, Any]] = []

        def flush(final: bool) -> None:
            nonlocal state
            guard()
            if batch:
                done = upserter.write(batch)
                form_counts.add(done)
                counts.add(done)
                progress.written += len(batch)
            last = submitted(batch[-1]) if batch else None
            state = next_checkpoint(state, Batch(last, high, final))
            guard()
            checkpoints.save(*key, state, run_id=run_id, saved_at=now_iso())
            batch.clear()
            on_progress(progress, counts)

        for row in oldest_first(deleted, live):
            batch.append(row)
            if len(batch) >= source.batch_size:
                flush(final=False)
        flush(final=True)
    progress.phase = "done"
    on_progress(progress, counts)
    log.info("%s/%s: %s, checkpoint %s", source.name, central_form, form_counts.as_dict(), state)
    return form_counts


def sync_source(
    central: CentralClient,
    source: Source,
    ingestor: Ingestor,
    checkpoints: CheckpointStore,
    *,
    attachments: bool = False,
    on_progress: OnProgress = _ignore,
    guard: Callable[[], None] = lambda: None,
    run_id: str | None = None,
    counts: Counts | None = None,
    audit_db: Database | None = None,
) -> Counts:
    """Every form of the source, after checking that the project and forms exist (so a
    wrong id fails before anything is written). `counts` is updated in place as batches
    are written."""
    central.check_project()
    for form_id in source.forms:
        central.check_form(form_id)
    media = AttachmentSource(central.attachment_names, central.attachment) if attachments else None
    counts = counts if counts is not None else Counts()
    progress = Progress(source.name)
    for central_form, cradle_form in source.forms.items():
        target = FormTarget(source.server, source.project_id, central_form, cradle_form)
        upserter = Upserter(ingestor, target, attachments=media, audit=audit_db, run_id=run_id)
        pull_form(
            central,
            upserter,
            checkpoints,
            source,
            central_form,
            progress=progress,
            counts=counts,
            on_progress=on_progress,
            guard=guard,
            run_id=run_id,
        )
    return counts


@dataclass
class RunResult:
    run_id: str
    source: str
    counts: Counts
    seconds: float


def run_sync(
    source: Source,
    ingestor: Ingestor,
    state_db: Database,
    *,
    run_id: str | None = None,
    attachments: bool = False,
    on_progress: OnProgress = _ignore,
    lock_ttl: float = DEFAULT_TTL,
    client_factory: Callable[[Source], CentralClient] = CentralClient,
    audit_db: Database | None = None,
    requested_by: str | None = None,
) -> RunResult:
    """A whole recorded run of one source: lock, run record, pull, release.

    Raises `SourceBusy` when another run holds the source (no record is made, except
    that a record the API created for `run_id` is closed); any failure is recorded on
    the run and raised again, with every checkpoint left where its last durable batch
    put it.
    """
    began = time.monotonic()
    rid = run_id or new_run_id()
    try:
        lease = acquire(state_db, source.name, rid, ttl=lock_ttl)
    except SourceBusy as e:
        if run_id:  # a record the API created for this run: it ends here
            fail_run(state_db, run_id, str(e))
        raise
    try:
        recorder = RunRecorder(state_db, source.name, rid)
    except BaseException:
        lease.release()
        raise
    counts = Counts()
    try:
        if lease.previous and lease.previous.get("owner"):
            mark_abandoned(state_db, lease.previous["owner"])
        lease.start_renewing(on_renew=recorder.save)

        def report(progress: Progress, running: Counts) -> None:
            recorder.progress(
                running.as_dict(),
                written=progress.written,
                total=progress.total,
                form=progress.form,
            )
            on_progress(progress, running)

        with client_factory(source) as central:
            sync_source(
                central,
                source,
                ingestor,
                CheckpointStore(state_db),
                attachments=attachments,
                on_progress=report,
                guard=lease.check,
                run_id=recorder.id,
                counts=counts,
                audit_db=audit_db,
            )
    except BaseException as e:
        recorder.finish(counts.as_dict(), error=_one_line(e))
        _record_run(audit_db, recorder, requested_by)
        lease.release()
        raise
    recorder.finish(counts.as_dict())
    _record_run(audit_db, recorder, requested_by)
    lease.release()
    return RunResult(recorder.id, source.name, counts, time.monotonic() - began)


def _record_run(audit_db: Database | None, recorder: RunRecorder, actor: str | None) -> None:
    """The run in the audit trail: who started it, how it ended, what it did."""
    if audit_db is None:
        return
    run = recorder.doc
    try:
        audit.record(
            audit_db,
            action="sync.run",
            actor=actor or run.get("requested_by") or "system",
            source="central",
            target=run["id"],
            detail={
                "source": run["source"],
                "status": run["status"],
                "counts": run["counts"],
                "error": run["error"],
            },
        )
    except SyncError as e:
        log.error("audit: sync run %s not recorded: %s", run["id"], e)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:500]
