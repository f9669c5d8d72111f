"""The one ingestion core: parse, normalize, validate, then write durably to CouchDB.

Every submission, from ODK Collect or from ODK Central, ends here as either one canonical
document in the submissions database or a quarantine document that keeps the raw XML and
attachments with the reasons. Uniqueness is CouchDB's `_id` (the original instanceID),
never a check-then-insert: two concurrent identical posts make one document.

Duplicates and edits follow ODK Central: the same instanceID with identical XML changes
nothing (attachments may top up); different XML without `deprecatedID` is a conflict; a
`deprecatedID` naming the current version is an edit of the same document (the previous
version kept in `history`); one naming an older version is a stale edit. An edit is
refused when the editor may not write the stored document's township or when it would
change the form (`sync.ingest.edits` holds that rule for Collect and Central alike); the
version it names is found by key (`sync.ingest.versions`), never by a scan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from forms.catalog import FormCatalog, md5_hex
from forms.contract import FormContract
from sync.couch import Database
from sync.errors import CouchConflict, CouchError
from sync.ingest.documents import new_attachments, submission_document, version_entry
from sync.ingest.edits import edit_problems, edited_document
from sync.ingest.incoming import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    QUARANTINE_KEEP_BYTES,
    Attachment,
    Incoming,
    Limits,
    Outcome,
    utc_iso,
)
from sync.ingest.normalize import Places, normalize, validate
from sync.ingest.parse import ParsedInstance, parse_instance
from sync.ingest.problems import Problem, SubmissionRejected
from sync.ingest.quarantine import held_incoming, quarantine_doc, refused
from sync.ingest.versions import holders

__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "MAX_ATTACHMENTS",
    "QUARANTINE_KEEP_BYTES",
    "Attachment",
    "Incoming",
    "Ingestor",
    "Limits",
    "Outcome",
    "utc_iso",
]

_WRITE_ATTEMPTS = 6


@dataclass
class Ingestor:
    """Writes submissions into `submissions`, refusals into `quarantine`."""

    submissions: Database
    quarantine_db: Database
    catalog: FormCatalog
    places: Places
    today: Callable[[], date]
    limits: Limits = field(default_factory=Limits)

    # -- entry point --------------------------------------------------------------------

    def ingest(
        self,
        incoming: Incoming,
        *,
        allowed_townships: frozenset[str] | None = None,
        check_version: bool = True,
    ) -> Outcome:
        """Accept or quarantine one submission. `allowed_townships=None` means any."""
        parsed, doc, problems = self._prepare(incoming, allowed_townships, check_version)
        if problems:
            return self.quarantine(incoming, problems, parsed)
        assert parsed is not None and doc is not None
        if parsed.deprecated_id:
            return self._store_edit(incoming, parsed, doc, allowed_townships)
        return self._store_new(incoming, parsed, doc, allowed_townships)

    def ingest_many(
        self, batch: Sequence[Incoming], *, check_version: bool = True
    ) -> list[Outcome]:
        """The same decisions as `ingest`, for a batch, in a few bulk requests: one
        `_bulk_get` to see what exists, one `_bulk_docs` for the new documents, one for the
        quarantine. Edits, resends and conflicts fall back to the one-by-one path."""
        outcomes: list[Outcome | None] = [None] * len(batch)
        fresh: list[tuple[int, dict]] = []
        held: list[tuple[int, dict]] = []
        slow: list[int] = []
        prepared = [self._prepare(item, None, check_version) for item in batch]
        simple_ids = [
            parsed.instance_id
            for parsed, _, problems in prepared
            if parsed is not None and not problems and not parsed.deprecated_id
        ]
        existing = self.submissions.bulk_get(list(dict.fromkeys(simple_ids)))
        claimed: set[str] = set()
        for i, (item, (parsed, doc, problems)) in enumerate(zip(batch, prepared, strict=True)):
            if problems:
                qdoc, outcomes[i] = self.quarantine_doc(item, problems, parsed)
                held.append((i, qdoc))
            elif (
                parsed.deprecated_id
                or parsed.instance_id in existing
                or parsed.instance_id in claimed
            ):
                slow.append(i)
            else:
                claimed.add(parsed.instance_id)
                attachments = new_attachments(item, parsed, {})
                fresh.append((i, {"_id": parsed.instance_id, **doc, "_attachments": attachments}))
        for (i, _), result in zip(
            fresh, self.submissions.bulk_docs([d for _, d in fresh]), strict=True
        ):
            if result.ok:
                outcomes[i] = Outcome("created", 201, result.id)
            else:
                slow.append(i)  # written meanwhile by someone else: decide one by one
        for result in self.quarantine_db.bulk_docs([d for _, d in held]):
            if not result.ok and not result.conflict:  # a conflict: already kept before
                raise CouchError("POST", self.quarantine_db.name, None, result.error, result.reason)
        for i in sorted(slow):
            outcomes[i] = self.ingest(batch[i], check_version=check_version)
        return [o for o in outcomes if o is not None]

    def _prepare(
        self,
        incoming: Incoming,
        allowed_townships: frozenset[str] | None,
        check_version: bool,
    ) -> tuple[ParsedInstance | None, dict[str, Any] | None, list[Problem]]:
        """Parse, type and check; the document to write, or the reasons not to."""
        parsed: ParsedInstance | None = None
        if incoming.more_xml:  # one post, several instances: none is chosen silently
            try:
                parsed = parse_instance(incoming.xml, max_bytes=self.limits.max_xml_bytes)
            except SubmissionRejected:
                parsed = None  # kept without what the first part says
            detail = str(1 + len(incoming.more_xml))
            return parsed, None, [Problem("multiple_xml", detail=detail)]
        try:
            if incoming.truncated_from is not None:
                limit = self.limits.max_xml_bytes
                raise SubmissionRejected(
                    [Problem("too_large", detail=f"{incoming.truncated_from} > {limit} bytes")]
                )
            self._check_attachments(incoming.attachments)
            parsed = parse_instance(incoming.xml, max_bytes=self.limits.max_xml_bytes)
        except SubmissionRejected as rejected:
            return parsed, None, rejected.problems
        doc, problems = self.judge(
            parsed, incoming, allowed_townships=allowed_townships, check_version=check_version
        )
        return parsed, doc, problems

    def judge(
        self,
        parsed: ParsedInstance,
        incoming: Incoming,
        *,
        allowed_townships: frozenset[str] | None = None,
        check_version: bool = True,
    ) -> tuple[dict[str, Any] | None, list[Problem]]:
        """Type and check an already parsed instance (from XML, or from a Central row):
        the canonical document without `_id`, or the reasons to refuse it."""
        try:
            contract = self._contract(parsed, check_version)
        except SubmissionRejected as rejected:
            return None, rejected.problems
        data, extra, problems = normalize(parsed.fields, contract)
        unreadable = {p.field for p in problems}
        problems += [
            p
            for p in validate(data, contract, self.places, self.today())
            if not (p.code == "required" and p.field in unreadable)  # already said why
        ]
        township = data.get("township")
        known = township in self.places.county_of_township
        if allowed_townships is not None and known and township not in allowed_townships:
            problems.insert(0, Problem("outside_scope", field="township", detail=str(township)))
        if problems:
            return None, problems
        return submission_document(incoming, parsed, data, extra), []

    def _check_attachments(self, attachments: tuple[Attachment, ...]) -> None:
        if len(attachments) > self.limits.max_attachments:
            detail = f"{len(attachments)} > {self.limits.max_attachments}"
            raise SubmissionRejected([Problem("too_many_attachments", detail=detail)])
        for item in attachments:
            if len(item.data) > self.limits.max_attachment_bytes:
                detail = f"{len(item.data)} > {self.limits.max_attachment_bytes} bytes"
                raise SubmissionRejected(
                    [Problem("attachment_too_large", field=item.name, detail=detail)]
                )

    def _contract(self, parsed: ParsedInstance, check_version: bool) -> FormContract:
        form = self.catalog.get(parsed.form_id)
        if form is None:
            raise SubmissionRejected([Problem("unknown_form", detail=parsed.form_id[:60])])
        if check_version and not form.accepts(parsed.form_version):
            detail = f"{parsed.form_id} {parsed.form_version[:20]} ≠ {form.version}"
            raise SubmissionRejected([Problem("unknown_version", detail=detail)])
        return form.contract

    # -- new submissions ----------------------------------------------------------------

    def _store_new(
        self,
        incoming: Incoming,
        parsed: ParsedInstance,
        doc: dict,
        allowed_townships: frozenset[str] | None,
    ) -> Outcome:
        """Write first, look only on a conflict: a new submission (the common case) costs
        one request, and CouchDB's `_id` uniqueness decides every race."""
        doc_id = parsed.instance_id
        fresh = {"_id": doc_id, **doc, "_attachments": new_attachments(incoming, parsed, {})}
        for _ in range(_WRITE_ATTEMPTS):
            try:
                self.submissions.put(fresh)
            except CouchConflict:
                existing = self.submissions.get(doc_id)
                if existing is None:
                    continue  # deleted meanwhile: write again
                outcome = self._resend(incoming, parsed, existing, allowed_townships)
                if outcome is not None:
                    return outcome
                continue
            return Outcome("created", 201, doc_id)
        return self.quarantine(incoming, [Problem("conflict")], parsed)

    def _resend(
        self,
        incoming: Incoming,
        parsed: ParsedInstance,
        existing: dict,
        allowed_townships: frozenset[str] | None,
    ) -> Outcome | None:
        """A post for an instanceID already stored: identical → 201 (topping up
        attachments, within the stored document's township), different → conflict.
        None means "lost a race, look again"."""
        md5 = md5_hex(incoming.xml)
        version = next(
            (v for v in existing.get("versions", []) if v["instance_id"] == parsed.instance_id),
            None,
        )
        if version is None or version["xml_md5"] != md5:
            return self.quarantine(incoming, [Problem("conflict")], parsed)
        missing = new_attachments(incoming, parsed, existing.get("_attachments") or {})
        if not missing:
            return Outcome("unchanged", 201, existing["_id"])
        township = existing.get("township_code")
        if allowed_townships is not None and township not in allowed_townships:
            problem = Problem("outside_scope", field="instanceID", detail=str(township))
            return self.quarantine(incoming, [problem], parsed)
        updated = {**existing, "_attachments": {**existing.get("_attachments", {}), **missing}}
        try:
            self.submissions.put(updated)
        except CouchConflict:
            return None
        return Outcome("topped_up", 201, existing["_id"])

    # -- edits --------------------------------------------------------------------------

    def _store_edit(
        self,
        incoming: Incoming,
        parsed: ParsedInstance,
        doc: dict,
        allowed_townships: frozenset[str] | None,
    ) -> Outcome:
        """An edit (`deprecatedID`): applied to the document whose current version it
        names, if the editor may write that document's township and keeps its form."""
        deprecated = parsed.deprecated_id
        assert deprecated is not None
        for _ in range(_WRITE_ATTEMPTS):
            target = holders(self.submissions, deprecated)
            if target.current is not None:
                problems = edit_problems(target.current, parsed.form_id, allowed_townships)
                if problems:
                    return self.quarantine(incoming, problems, parsed)
                stored = target.current.get("_attachments") or {}
                updated = edited_document(
                    target.current,
                    doc,
                    version_entry(incoming, parsed),
                    new_attachments(incoming, parsed, stored),
                )
                try:
                    self.submissions.put(updated)
                except CouchConflict:
                    continue
                return Outcome("updated", 201, target.current["_id"])
            already = holders(self.submissions, parsed.instance_id).any
            if already is not None:  # this edit was applied before: a resend
                outcome = self._resend(incoming, parsed, already, allowed_townships)
                if outcome is None:
                    continue
                return outcome
            if target.any is not None:  # names a version that was replaced since
                problems = edit_problems(target.any, parsed.form_id, allowed_townships)
                return self.quarantine(incoming, problems or [Problem("stale_edit")], parsed)
            # An edit of a submission this server never saw: keep it under the
            # original's id so that the original, if it ever arrives, is seen as stale.
            return self._create_as(deprecated, incoming, parsed, doc, allowed_townships)
        return self.quarantine(incoming, [Problem("stale_edit")], parsed)

    def _create_as(
        self,
        doc_id: str,
        incoming: Incoming,
        parsed: ParsedInstance,
        doc: dict,
        allowed_townships: frozenset[str] | None,
    ) -> Outcome:
        fresh = {
            "_id": doc_id,
            **doc,
            "edits": 1,
            "_attachments": new_attachments(incoming, parsed, {}),
        }
        try:
            self.submissions.put(fresh)
        except CouchConflict:
            return self._store_edit(incoming, parsed, doc, allowed_townships)
        return Outcome("created", 201, doc_id)

    # -- quarantine ---------------------------------------------------------------------

    def quarantine(
        self, incoming: Incoming, problems: list[Problem], parsed: ParsedInstance | None
    ) -> Outcome:
        """Keep the refused submission whole (or the start of an oversize body) with its
        reasons. Identical refused bytes map to one quarantine document."""
        doc, outcome = self.quarantine_doc(incoming, problems, parsed)
        try:
            self.quarantine_db.put(doc)
        except CouchConflict:
            pass  # the same bytes were refused before and are already kept
        return outcome

    def quarantine_doc(
        self, incoming: Incoming, problems: list[Problem], parsed: ParsedInstance | None
    ) -> tuple[dict[str, Any], Outcome]:
        return quarantine_doc(incoming, problems, parsed, self.limits)

    # -- re-processing ------------------------------------------------------------------

    def reprocess(
        self, quarantine_id: str, *, allowed_townships: frozenset[str] | None = None
    ) -> Outcome:
        """Run a quarantined submission through ingestion again (after the registry or a
        form was fixed), within `allowed_townships` (the submitter's scope; None: any).
        The quarantine document stays, marked with what became of it.
        Rows from ODK Central go through `sync.central.reprocess` instead."""
        held = self.held(quarantine_id)
        incoming = held_incoming(
            held, lambda name: self.quarantine_db.get_attachment(quarantine_id, name)
        )
        outcome = self.ingest(
            incoming,
            allowed_townships=allowed_townships,
            check_version=held.get("source") != "central",
        )
        self.mark_reprocessed(held, outcome)
        return outcome

    def keep_refused(self, quarantine_id: str, problems: list[Problem]) -> Outcome:
        """Re-processing refused before judging (e.g. the submitter no longer exists):
        the submission stays quarantined, with these reasons recorded on it."""
        outcome = refused(quarantine_id, problems)
        self.mark_reprocessed(self.held(quarantine_id), outcome)
        return outcome

    def held(self, quarantine_id: str) -> dict[str, Any]:
        """The quarantine document `quarantine_id`; `KeyError` when there is none."""
        held = self.quarantine_db.get(quarantine_id)
        if held is None or held.get("type") != "quarantine":
            raise KeyError(quarantine_id)
        return held

    def mark_reprocessed(self, held: Mapping[str, Any], outcome: Outcome) -> None:
        """Record on the quarantine document what re-processing made of it: the document
        it became, or the reasons it is still refused."""
        now = utc_iso(datetime.now(UTC))
        current = self.quarantine_db.get(held["_id"]) or held
        if outcome.accepted:
            update = {"status": "reprocessed", "resolved_as": outcome.doc_id, "reprocessed_at": now}
        else:
            update = {
                "reasons": [p.as_dict() for p in outcome.problems],
                "http_status": outcome.http_status,
                "reprocessed_at": now,
            }
        self.quarantine_db.put({**current, **update})
