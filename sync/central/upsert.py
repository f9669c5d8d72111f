"""What a Central row does to Cradle's documents, decided purely, then written in bulk.

Central's `__id` (the original instanceID) is the document `_id`. Against the stored
document a row is: new; an edit (`meta/instanceID` changed: the previous version goes to
`history`, `edits` follows Central); a review-state change (recorded in `reviews`, not an
edit); a soft delete (`deleted: true`, the document kept); or unchanged (no write). A row
that fails the one normalizer/validator is quarantined with the row JSON and its reasons,
and so is a row that would change the stored document's form. Central's project decides
who edits, so any township may be written; a row that moves a document to another
township keeps no personal field of earlier versions (`sync.ingest.edits`).
Every `_bulk_docs` result is read: a conflict means someone wrote meanwhile, so the
document is read again and decided again.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sync import audit
from sync.central.checkpoint import parse_time
from sync.central.rows import RowMeta, canonical_bytes, content_md5, parse_row, row_meta
from sync.couch import Database
from sync.errors import CentralNotFound, CouchError
from sync.ingest.edits import carried_history, edit_problems, moves_township
from sync.ingest.parse import ParsedInstance
from sync.ingest.problems import Problem, SubmissionRejected
from sync.ingest.store import Incoming, Ingestor

log = logging.getLogger(__name__)

_WRITE_ATTEMPTS = 6
# Fields of a submission document that follow the current version's answers.
_CONTENT_KEYS = (
    "form_id",
    "form_version",
    "county_code",
    "township_code",
    "village",
    "child_id",
    "collected_at",
    "started_at",
    "source",
    "submitter",
    "device_id",
    "data",
    "extra",
    "xml_md5",
)
_AUDIT_ACTIONS = {
    "new": "submission.created",
    "updated": "submission.updated",
    "review_changes": "submission.reviewed",
    "deleted": "submission.deleted",
    "quarantined": "submission.quarantined",
}


@dataclass
class Counts:
    """What a run did to the rows it fetched: each row counts once, in one outcome."""

    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    review_changes: int = 0

    def add(self, other: Counts) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class FormTarget:
    """Where rows come from and which Cradle form they are."""

    server: str
    project_id: int
    central_form_id: str
    cradle_form_id: str


# (central form id, instance id) -> attachment names; (form, instance, name) -> bytes, type
ListAttachments = Callable[[str, str], list[str]]
GetAttachment = Callable[[str, str, str], tuple[bytes, str]]


@dataclass(frozen=True)
class AttachmentSource:
    names: ListAttachments
    get: GetAttachment


@dataclass
class Built:
    """One row, judged: the candidate document, or the quarantine document."""

    meta: RowMeta
    doc: dict[str, Any] | None = None
    quarantine: dict[str, Any] | None = None


def central_block(target: FormTarget, meta: RowMeta) -> dict[str, Any]:
    return {
        "server": target.server,
        "project_id": target.project_id,
        "form_id": target.central_form_id,
        "form_version": meta.form_version,
        "submission_date": meta.submission_date,
        "updated_at": meta.updated_at,
        "edits": meta.edits,
        "review_state": meta.review_state,
        "deleted_at": meta.deleted_at,
        "submitter_id": meta.submitter_id,
    }


def _received(meta: RowMeta) -> datetime:
    try:
        return parse_time(meta.submission_date)
    except ValueError:
        return datetime.now(UTC)  # a row without a readable date is quarantined anyway


def build(row: Mapping[str, Any], target: FormTarget, ingestor: Ingestor) -> Built:
    """Judge one row with the ingestion core: the document it asks for, or its quarantine."""
    meta = row_meta(row)
    raw = canonical_bytes(row)
    too_large = len(raw) > ingestor.limits.max_xml_bytes
    incoming = Incoming(
        xml=raw,
        source="central",
        submitter=meta.submitter_name,
        received_at=_received(meta),
        raw_name="submission.json",
        truncated_from=len(raw) if too_large else None,
    )
    parsed: ParsedInstance | None = None
    problems: list[Problem]
    if too_large:
        limit = ingestor.limits.max_xml_bytes
        problems = [Problem("too_large", detail=f"{len(raw)} > {limit} bytes")]
    else:
        try:
            parsed = parse_row(row, target.cradle_form_id)
            _readable_dates(meta)
        except SubmissionRejected as rejected:
            problems = rejected.problems
        else:
            doc, problems = ingestor.judge(parsed, incoming, check_version=False)
            if not problems and doc is not None:
                return Built(meta, doc=_central_doc(doc, row, meta, target))
    qdoc, _ = ingestor.quarantine_doc(incoming, problems, parsed)
    qdoc["central"] = {**central_block(target, meta), "id": meta.id or None}
    if not qdoc.get("instance_id"):
        qdoc["instance_id"] = meta.id or None
    if not qdoc.get("form_id"):
        qdoc["form_id"] = target.cradle_form_id
    return Built(meta, quarantine=qdoc)


def _readable_dates(meta: RowMeta) -> None:
    try:
        for moment in (meta.submission_date, meta.updated_at, meta.deleted_at):
            if moment is not None:
                parse_time(moment)
    except ValueError as e:
        raise SubmissionRejected(
            [Problem("invalid_date", field="__system", detail=str(e)[:40])]
        ) from e


def _central_doc(
    doc: dict[str, Any], row: Mapping[str, Any], meta: RowMeta, target: FormTarget
) -> dict[str, Any]:
    """The ingestion core's document, completed with what Central says about the row."""
    md5 = content_md5(row)
    version = dict(doc["versions"][0])
    version.update(
        xml_md5=md5,
        received_at=meta.updated_at if meta.edits and meta.updated_at else meta.submission_date,
    )
    return {
        "_id": meta.id,
        **doc,
        "xml_md5": md5,
        "device_id": doc.get("device_id") or meta.device_id,
        "updated_at": meta.changed_at,
        "edits": meta.edits,
        "review_state": meta.review_state,
        "deleted": meta.deleted_at is not None,
        "versions": [version],
        "central": central_block(target, meta),
    }


def decide(existing: Mapping[str, Any] | None, cand: Mapping[str, Any]) -> tuple[str, dict | None]:
    """(outcome, document to write or None) for a candidate against the stored document.

    Outcomes: new, updated, review_changes, deleted, unchanged, conflict (the id belongs
    to something that is not a submission), form_changed (the row is of another form
    than the stored document: refused, as for any edit).
    """
    if existing is None:
        return ("deleted" if cand["deleted"] else "new"), dict(cand)
    if existing.get("type") != "submission":
        return "conflict", None
    if edit_problems(existing, cand["form_id"], None):
        return "form_changed", None
    versions = existing.get("versions") or []
    edit = cand["instance_id"] != existing.get("instance_id")
    if edit and any(v.get("instance_id") == cand["instance_id"] for v in versions):
        return "unchanged", None  # Central shows a version Cradle has already replaced
    merged: dict[str, Any] = {**existing, **{key: cand.get(key) for key in _CONTENT_KEYS}}
    outcome = "updated"
    if edit or moves_township(existing, cand.get("township_code")):
        merged["history"] = carried_history(existing, cand.get("township_code"), new_version=edit)
    if edit:
        merged.update(instance_id=cand["instance_id"], versions=[*versions, cand["versions"][-1]])
    elif existing.get("review_state") != cand["review_state"]:
        outcome = "review_changes"
        change = {
            "from": existing.get("review_state"),
            "to": cand["review_state"],
            "at": cand["central"]["updated_at"] or cand["updated_at"],
        }
        merged["reviews"] = [*(existing.get("reviews") or []), change]
    merged.update(
        edits=cand["edits"],
        review_state=cand["review_state"],
        deleted=cand["deleted"],
        central=cand["central"],
    )
    if cand["deleted"] and not existing.get("deleted"):
        outcome = "deleted"
    if merged == existing:
        return "unchanged", None
    merged["updated_at"] = cand["updated_at"]
    return outcome, merged


@dataclass(frozen=True)
class Prepared:
    """A batch of rows and what each asks for, judged but not yet written."""

    rows: Sequence[Mapping[str, Any]]
    built: list[Built]


class Upserter:
    """Writes batches of Central rows of one form through the ingestion core."""

    def __init__(
        self,
        ingestor: Ingestor,
        target: FormTarget,
        *,
        attachments: AttachmentSource | None = None,
        audit: Database | None = None,
        run_id: str | None = None,
    ) -> None:
        self.ingestor = ingestor
        self.target = target
        self.attachments = attachments
        self.audit = audit
        self.run_id = run_id

    @property
    def submissions(self) -> Any:
        return self.ingestor.submissions

    def write(self, rows: Sequence[Mapping[str, Any]]) -> Counts:
        """Write a batch durably (documents and quarantine) and say what each row did."""
        return self.commit(self.prepare(rows))

    def prepare(self, rows: Sequence[Mapping[str, Any]]) -> Prepared:
        """Judge a batch without touching CouchDB (CPU only), so that a sync can judge
        the next batch while the previous one is being written."""
        return Prepared(rows, [build(row, self.target, self.ingestor) for row in rows])

    def commit(self, prepared: Prepared) -> Counts:
        """Write a judged batch durably (documents and quarantine); what each row did."""
        rows, built = prepared.rows, prepared.built
        self._write_quarantine([b.quarantine for b in built if b.quarantine is not None])
        outcomes: list[str] = ["quarantined" if b.doc is None else "" for b in built]
        todo = [i for i, b in enumerate(built) if b.doc is not None]
        # A batch of rows Central never updated is almost always new here: write it at
        # once and read only what conflicts (a first sync costs one request per batch).
        guess_new = all(built[i].meta.updated_at is None for i in todo)
        for _ in range(_WRITE_ATTEMPTS):
            if not todo:
                break
            ids = list(dict.fromkeys(built[i].meta.id for i in todo))
            stored: dict[str, Any] = {} if guess_new else self.submissions.bulk_get(ids)
            guess_new = False
            pending: dict[str, dict] = {}
            for i in todo:
                doc_id = built[i].meta.id
                current = pending.get(doc_id, stored.get(doc_id))
                cand = built[i].doc or {}
                outcome, doc = decide(current, cand)
                doc = self._with_media(built[i], current, doc)
                if doc is not None and outcome == "unchanged":
                    outcome = "updated"  # only attachments were added
                if outcome in ("conflict", "form_changed"):
                    problems = (
                        edit_problems(current or {}, cand["form_id"], None)
                        if outcome == "form_changed"
                        else [Problem("conflict")]
                    )
                    outcome = "quarantined"
                    self._write_quarantine([self._refusal(rows[i], problems, cand)])
                outcomes[i] = outcome
                if doc is not None:
                    pending[doc_id] = doc
            results = self.submissions.bulk_docs(list(pending.values()))
            retry: set[str] = set()
            for result in results:
                if result.conflict:
                    retry.add(result.id)
                elif not result.ok:
                    raise CouchError(
                        "POST",
                        f"{self.submissions.name}/_bulk_docs",
                        None,
                        result.error,
                        result.reason,
                    )
            todo = [i for i in todo if built[i].meta.id in retry]
            if todo:
                log.info("%d documents were written meanwhile; deciding again", len(retry))
        else:
            if todo:
                raise CouchError(
                    "POST", f"{self.submissions.name}/_bulk_docs", 409, "conflict", "kept losing"
                )
        counts = Counts(fetched=len(rows))
        for outcome in outcomes:
            setattr(counts, outcome, getattr(counts, outcome) + 1)
        if self.audit is not None:
            targets = [b.meta.id if b.doc else (b.quarantine or {}).get("_id") for b in built]
            self._record(list(zip(outcomes, targets, strict=True)))
        return counts

    def _record(self, done: list[tuple[str, str | None]]) -> None:
        """The batch in the audit trail: one entry per kind of change, naming every row
        it covers (unchanged rows none); a batch of 500 costs one small write, not 500.
        The documents are already durable: a refused entry is logged, not fatal."""
        assert self.audit is not None
        grouped: dict[str, list[str]] = {}
        for outcome, target in done:
            if outcome in _AUDIT_ACTIONS and target:
                grouped.setdefault(_AUDIT_ACTIONS[outcome], []).append(target)
        entries = [
            audit.entry(
                action=action,
                actor="central-sync",
                source="central",
                target=f"run:{self.run_id}" if self.run_id else None,
                detail={"run": self.run_id, "form": self.target.central_form_id, "ids": ids},
            )
            for action, ids in grouped.items()
        ]
        try:
            refused = [r for r in self.audit.bulk_docs(entries) if not r.ok]
        except CouchError as e:
            log.error("audit: %d entries of a Central batch not written: %s", len(entries), e)
            return
        if refused:
            log.error("audit: %d entries refused: %s", len(refused), refused[0].error)

    def _write_quarantine(self, docs: list[dict]) -> None:
        for result in self.ingestor.quarantine_db.bulk_docs(docs):
            if not result.ok and not result.conflict:  # a conflict: the same row, kept before
                raise CouchError(
                    "POST",
                    f"{self.ingestor.quarantine_db.name}/_bulk_docs",
                    None,
                    result.error,
                    result.reason,
                )

    def _refusal(
        self, row: Mapping[str, Any], problems: list[Problem], cand: Mapping[str, Any]
    ) -> dict:
        """The quarantine document of a valid row that the stored document refuses."""
        meta = row_meta(row)
        incoming = Incoming(
            xml=canonical_bytes(row),
            source="central",
            submitter=meta.submitter_name,
            received_at=_received(meta),
            raw_name="submission.json",
        )
        qdoc, _ = self.ingestor.quarantine_doc(incoming, problems, None)
        qdoc.update(
            central=central_block(self.target, meta),
            instance_id=meta.id,
            form_id=cand.get("form_id"),
            township_code=cand.get("township_code"),
            county_code=cand.get("county_code"),
        )
        return qdoc

    def _with_media(
        self, item: Built, current: Mapping[str, Any] | None, doc: dict | None
    ) -> dict | None:
        """Inline the Central attachments the document lacks (only when asked for)."""
        if self.attachments is None or item.meta.attachments_present <= 0:
            return doc
        if item.meta.deleted_at is not None:
            return doc  # Central serves no files of a deleted submission
        base = doc if doc is not None else dict(current or {})
        have = base.get("_attachments") or {}
        form, doc_id = self.target.central_form_id, item.meta.id
        try:
            names = self.attachments.names(form, doc_id)
            missing = [n for n in names if f"media/{n}" not in have]
            files = [(name, *self.attachments.get(form, doc_id, name)) for name in missing]
        except CentralNotFound as e:  # deleted meanwhile: the next run sees the deletion
            log.info("attachments of %s: %s", doc_id, e)
            return doc
        if not files:
            return doc
        added = dict(have)
        for name, data, content_type in files:
            added[f"media/{name}"] = {
                "content_type": content_type,
                "data": base64.b64encode(data).decode("ascii"),
            }
        return {**base, "_attachments": added}
