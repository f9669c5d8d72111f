"""One sync run: for each form of a source, read the window of changed rows from Central,
write it oldest first in batches, and move the checkpoint after each durable batch.

Central serves rows newest first while a checkpoint may only move past rows that are
written, so the window is read in time slices, oldest slice first (see `window`), and
each slice is replayed oldest first. Reading the next slice, judging the next batch and
writing the current one overlap, on three threads; writes and checkpoint moves stay in
order on one of them. Rows arriving during the run are newer than the run's high-water
mark and the next run reads them. A killed run repeats the part of its window after its
checkpoint; its writes are idempotent and the documents it wrote count as unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sync import audit
from sync.central.checkpoint import (
    Batch,
    CheckpointStore,
    next_checkpoint,
    parse_time,
    window_start,
)
from sync.central.client import CentralClient
from sync.central.config import Source
from sync.central.lock import DEFAULT_TTL, acquire
from sync.central.restores import bring_back_restored
from sync.central.runs import RunRecorder, fail_run, mark_abandoned, new_run_id, now_iso
from sync.central.upsert import AttachmentSource, Counts, FormTarget, Prepared, Upserter
from sync.central.window import read_window, submitted
from sync.couch import Database
from sync.errors import SourceBusy, SyncError
from sync.ingest.store import Ingestor

log = logging.getLogger(__name__)

# Rows per slice of the window, in pages: the first writes wait for one slice to be read.
SLICE_PAGES = 5


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


def high_water(central: CentralClient, form_id: str) -> str | None:
    """The latest change Central reports for the form: creation, update or deletion."""
    values = [
        central.latest(form_id, "submissionDate"),
        central.latest(form_id, "updatedAt"),
        central.latest(form_id, "deletedAt", deleted=True),
    ]
    present = [v for v in values if v]
    return max(present, key=parse_time) if present else None


class Writer:
    """Commits judged batches on one background thread, in order and one at a time, so
    that the next batch is judged while this one is written. `landed` hears of each
    commit on the caller's thread, when the caller hands over the next batch."""

    def __init__(
        self,
        commit: Callable[[Prepared | None, bool], Counts],
        landed: Callable[[Counts], None],
    ) -> None:
        self._commit = commit
        self._landed = landed
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cradle-couch-write")
        self._pending: Future[Counts] | None = None

    def submit(self, prepared: Prepared | None, *, final: bool = False) -> None:
        """Wait for the batch in flight (raising its error), then start this one."""
        self.wait()
        self._pending = self._pool.submit(self._commit, prepared, final)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._landed(pending.result())

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)  # a batch in flight completes, checkpoint and all


def batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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
    `guard()` is called before every durable write (it raises when the lease was lost).

    Three things overlap: the next slice of the window is read from Central, the next
    batch is judged, and the current batch is written. Writes stay in order, one at a
    time, and the checkpoint moves after each, so it only ever passes written rows.
    """
    key = (source.server, source.project_id, central_form)
    state = checkpoints.load(*key)
    start = window_start(state, source.overlap_seconds)
    high = high_water(central, central_form)
    progress.form, progress.fetched, progress.written, progress.total = central_form, 0, 0, None
    progress.phase = "fetching"
    form_counts = Counts()
    live_total: list[int] = []

    def fetched(n: int) -> None:  # on the reading thread
        progress.fetched += n
        if live_total:
            progress.total = max(live_total[0], progress.fetched)

    def commit(prepared: Prepared | None, final: bool) -> Counts:  # on the writing thread
        nonlocal state
        guard()
        done = upserter.commit(prepared) if prepared is not None else Counts()
        last = submitted(prepared.rows[-1]) if prepared is not None else None
        state = next_checkpoint(state, Batch(last, high, final))
        guard()
        checkpoints.save(*key, state, run_id=run_id, saved_at=now_iso())
        return done

    def landed(done: Counts) -> None:
        form_counts.add(done)
        counts.add(done)
        progress.written += done.fetched
        on_progress(progress, counts)

    rows = read_window(
        central,
        central_form,
        start,
        page_size=source.page_size,
        slice_rows=source.page_size * SLICE_PAGES,
        on_rows=fetched,
        on_total=live_total.append,
    )
    with closing(rows), Writer(commit, landed) as writer:
        on_progress(progress, counts)
        for batch in batches(rows, source.batch_size):
            prepared = upserter.prepare(batch)
            progress.phase = "writing"
            writer.submit(prepared)
        writer.submit(None, final=True)
    restored = bring_back_restored(
        central, upserter, checkpoints.db, key, page_size=source.page_size, guard=guard
    )
    form_counts.add(restored)
    counts.add(restored)
    progress.total = progress.fetched
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

    def close_dead_run(previous: dict[str, Any]) -> None:
        mark_abandoned(state_db, previous["owner"])

    try:
        lease = acquire(state_db, source.name, rid, ttl=lock_ttl, on_take_over=close_dead_run)
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
