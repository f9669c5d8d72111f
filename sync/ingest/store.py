"""The one ingestion core: parse, normalize, validate, then write durably to CouchDB.

Every submission, from ODK Collect or from ODK Central, ends here as either one canonical
document in the submissions database or a quarantine document that keeps the raw XML and
attachments with the reasons. Uniqueness is CouchDB's `_id` (the original instanceID),
never a check-then-insert: two concurrent identical posts make one document.

Duplicates and edits follow ODK Central: the same instanceID with identical XML changes
nothing (attachments may top up); different XML without `deprecatedID` is a conflict; a
`deprecatedID` naming the current version is an edit of the same document (the previous
version kept in `history`); one naming an older version is a stale edit.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from forms.catalog import FormCatalog, md5_hex
from forms.contract import FormContract
from sync.couch import Database
from sync.errors import CouchConflict, CouchError
from sync.ingest.normalize import Places, normalize, validate
from sync.ingest.parse import DEFAULT_MAX_XML_BYTES, ParsedInstance, parse_instance
from sync.ingest.problems import Problem, SubmissionRejected, status_for

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 100
QUARANTINE_KEEP_BYTES = 256 * 1024  # of a body too large to keep whole
_WRITE_ATTEMPTS = 6


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Incoming:
    """One submission as it arrived, before anything is decided about it."""

    xml: bytes
    source: str  # "openrosa" | "central"
    submitter: str | None
    received_at: datetime
    attachments: tuple[Attachment, ...] = ()
    remote_addr: str | None = None
    truncated_from: int | None = None  # the real size when `xml` holds only the start
    raw_name: str = "submission.xml"  # what `xml` holds: the XML, or a Central row as JSON


@dataclass(frozen=True)
class Outcome:
    """What happened: `created`, `updated` (an edit), `unchanged`, `topped_up`, or a refusal."""

    result: str
    http_status: int
    doc_id: str | None = None
    problems: tuple[Problem, ...] = ()
    quarantine_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.http_status in (200, 201)


@dataclass
class Limits:
    max_xml_bytes: int = DEFAULT_MAX_XML_BYTES
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    max_attachments: int = MAX_ATTACHMENTS


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _xml_attachment_name(instance_id: str) -> str:
    return f"xml/{instance_id}.xml"


def _media_name(name: str) -> str:
    return f"media/{name}"


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
            return self._store_edit(incoming, parsed, doc)
        return self._store_new(incoming, parsed, doc)

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
                attachments = self._new_attachments(item, parsed, {})
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
        return self._document(incoming, parsed, data, extra), []

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

    # -- documents ----------------------------------------------------------------------

    def _document(
        self,
        incoming: Incoming,
        parsed: ParsedInstance,
        data: dict[str, Any],
        extra: dict[str, str],
    ) -> dict[str, Any]:
        received = utc_iso(incoming.received_at)
        return {
            "type": "submission",
            "form_id": parsed.form_id,
            "form_version": parsed.form_version,
            "instance_id": parsed.instance_id,
            "county_code": data.get("county"),
            "township_code": data.get("township"),
            "village": data.get("village"),
            "child_id": data.get("child_id"),
            "collected_at": data.get("end"),
            "started_at": data.get("start"),
            "received_at": received,
            "updated_at": received,
            "source": incoming.source,
            "submitter": incoming.submitter,
            "device_id": data.get("deviceid"),
            "data": data,
            "extra": extra,
            "xml_md5": md5_hex(incoming.xml),
            "edits": 0,
            "review_state": None,
            "deleted": False,
            "versions": [self._version_entry(incoming, parsed)],
            "history": [],
        }

    @staticmethod
    def _version_entry(incoming: Incoming, parsed: ParsedInstance) -> dict[str, Any]:
        return {
            "instance_id": parsed.instance_id,
            "xml_md5": md5_hex(incoming.xml),
            "received_at": utc_iso(incoming.received_at),
            "submitter": incoming.submitter,
            "source": incoming.source,
        }

    @staticmethod
    def _new_attachments(
        incoming: Incoming, parsed: ParsedInstance, existing: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Inline attachments not yet on the document (the XML of this version, media)."""
        wanted: dict[str, Any] = {}
        xml_name = _xml_attachment_name(parsed.instance_id)
        if xml_name not in existing:
            wanted[xml_name] = {"content_type": "text/xml", "data": _b64(incoming.xml)}
        for item in incoming.attachments:
            name = _media_name(item.name)
            if name not in existing:
                wanted[name] = {"content_type": item.content_type, "data": _b64(item.data)}
        return wanted

    # -- new submissions ----------------------------------------------------------------

    def _store_new(self, incoming: Incoming, parsed: ParsedInstance, doc: dict) -> Outcome:
        """Write first, look only on a conflict: a new submission (the common case) costs
        one request, and CouchDB's `_id` uniqueness decides every race."""
        doc_id = parsed.instance_id
        fresh = {"_id": doc_id, **doc, "_attachments": self._new_attachments(incoming, parsed, {})}
        for _ in range(_WRITE_ATTEMPTS):
            try:
                self.submissions.put(fresh)
            except CouchConflict:
                existing = self.submissions.get(doc_id)
                if existing is None:
                    continue  # deleted meanwhile: write again
                outcome = self._resend(incoming, parsed, existing)
                if outcome is not None:
                    return outcome
                continue
            return Outcome("created", 201, doc_id)
        return self.quarantine(incoming, [Problem("conflict")], parsed)

    def _resend(self, incoming: Incoming, parsed: ParsedInstance, existing: dict) -> Outcome | None:
        """A post for an instanceID already stored: identical → 201 (topping up
        attachments), different → conflict. None means "lost a race, look again"."""
        md5 = md5_hex(incoming.xml)
        version = next(
            (v for v in existing.get("versions", []) if v["instance_id"] == parsed.instance_id),
            None,
        )
        if version is None or version["xml_md5"] != md5:
            return self.quarantine(incoming, [Problem("conflict")], parsed)
        missing = self._new_attachments(incoming, parsed, existing.get("_attachments") or {})
        if not missing:
            return Outcome("unchanged", 201, existing["_id"])
        updated = {**existing, "_attachments": {**existing.get("_attachments", {}), **missing}}
        try:
            self.submissions.put(updated)
        except CouchConflict:
            return None
        return Outcome("topped_up", 201, existing["_id"])

    # -- edits --------------------------------------------------------------------------

    def _store_edit(self, incoming: Incoming, parsed: ParsedInstance, doc: dict) -> Outcome:
        deprecated = parsed.deprecated_id
        assert deprecated is not None
        for _ in range(_WRITE_ATTEMPTS):
            current = self._current_holder(deprecated)
            if current is None:
                already = self._current_holder(parsed.instance_id) or self._version_holder(
                    parsed.instance_id
                )
                if already is not None:
                    outcome = self._resend(incoming, parsed, already)
                    if outcome is None:
                        continue
                    return outcome
                if self.submissions.get(deprecated) or self._version_holder(deprecated):
                    return self.quarantine(incoming, [Problem("stale_edit")], parsed)
                # An edit of a submission this server never saw: keep it under the
                # original's id so that the original, if it ever arrives, is seen as stale.
                return self._create_as(deprecated, incoming, parsed, doc)
            updated = self._apply_edit(current, incoming, parsed, doc)
            try:
                self.submissions.put(updated)
            except CouchConflict:
                continue
            return Outcome("updated", 201, current["_id"])
        return self.quarantine(incoming, [Problem("stale_edit")], parsed)

    def _create_as(
        self, doc_id: str, incoming: Incoming, parsed: ParsedInstance, doc: dict
    ) -> Outcome:
        fresh = {
            "_id": doc_id,
            **doc,
            "edits": 1,
            "_attachments": self._new_attachments(incoming, parsed, {}),
        }
        try:
            self.submissions.put(fresh)
        except CouchConflict:
            return self._store_edit(incoming, parsed, doc)
        return Outcome("created", 201, doc_id)

    def _current_holder(self, instance_id: str) -> dict | None:
        """The document whose current version is `instance_id`."""
        direct = self.submissions.get(instance_id)
        if direct is not None and direct.get("instance_id") == instance_id:
            return direct
        page = self.submissions.find({"instance_id": instance_id}, limit=2)
        found = [d for d in page.docs if d.get("type") == "submission"]
        return found[0] if found else None

    def _version_holder(self, instance_id: str) -> dict | None:
        """The document that has `instance_id` anywhere in its versions (rare path)."""
        page = self.submissions.find(
            {"versions": {"$elemMatch": {"instance_id": instance_id}}}, limit=1
        )
        return page.docs[0] if page.docs else None

    def _apply_edit(
        self, current: dict, incoming: Incoming, parsed: ParsedInstance, doc: dict
    ) -> dict:
        previous = {
            key: current.get(key)
            for key in ("instance_id", "form_version", "data", "received_at", "submitter")
        }
        return {
            **doc,
            "_id": current["_id"],
            "_rev": current["_rev"],
            "received_at": current["received_at"],
            "edits": current.get("edits", 0) + 1,
            "review_state": "edited",
            "versions": [*current.get("versions", []), self._version_entry(incoming, parsed)],
            "history": [*current.get("history", []), previous],
            "_attachments": {
                **current.get("_attachments", {}),
                **self._new_attachments(incoming, parsed, current.get("_attachments") or {}),
            },
        }

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
        digest = hashlib.sha256(incoming.xml).hexdigest()
        identity = hashlib.sha256(digest.encode())
        for item in incoming.attachments:
            identity.update(item.name.encode() + hashlib.sha256(item.data).digest())
        qid = f"q:{identity.hexdigest()[:40]}"
        status = status_for(problems)
        kept = incoming.xml[:QUARANTINE_KEEP_BYTES]
        attachments = {
            incoming.raw_name: {"content_type": "application/octet-stream", "data": _b64(kept)}
        }
        for item in incoming.attachments:
            if len(item.data) <= self.limits.max_attachment_bytes:
                attachments[_media_name(item.name)] = {
                    "content_type": item.content_type,
                    "data": _b64(item.data),
                }
        doc = {
            "_id": qid,
            "type": "quarantine",
            "status": "open",
            "reasons": [p.as_dict() for p in problems],
            "http_status": status,
            "received_at": utc_iso(incoming.received_at),
            "source": incoming.source,
            "submitter": incoming.submitter,
            "remote_addr": incoming.remote_addr,
            "form_id": parsed.form_id if parsed else None,
            "form_version": parsed.form_version if parsed else None,
            "instance_id": parsed.instance_id if parsed else None,
            "deprecated_id": parsed.deprecated_id if parsed else None,
            "township_code": (parsed.fields.get("township") or None) if parsed else None,
            "county_code": (parsed.fields.get("county") or None) if parsed else None,
            "size": incoming.truncated_from or len(incoming.xml),
            "kept_bytes": len(kept),
            "sha256": digest,
            "_attachments": attachments,
        }
        return doc, Outcome("quarantined", status, None, tuple(problems), qid)

    # -- re-processing ------------------------------------------------------------------

    def reprocess(
        self, quarantine_id: str, *, allowed_townships: frozenset[str] | None = None
    ) -> Outcome:
        """Run a quarantined submission through ingestion again (after the registry or a
        form was fixed). The quarantine document stays, marked with what became of it.
        Rows from ODK Central go through `sync.central.reprocess` instead."""
        held = self.held(quarantine_id)
        xml = self.quarantine_db.get_attachment(quarantine_id, "submission.xml") or b""
        attachments = tuple(
            Attachment(
                name.removeprefix("media/"),
                self.quarantine_db.get_attachment(quarantine_id, name) or b"",
                stub.get("content_type", "application/octet-stream"),
            )
            for name, stub in (held.get("_attachments") or {}).items()
            if name.startswith("media/")
        )
        incoming = Incoming(
            xml=xml,
            source=held.get("source") or "openrosa",
            submitter=held.get("submitter"),
            received_at=datetime.fromisoformat(held["received_at"].replace("Z", "+00:00")),
            attachments=attachments,
            remote_addr=held.get("remote_addr"),
            truncated_from=held["size"]
            if held.get("size", 0) > held.get("kept_bytes", 0)
            else None,
        )
        outcome = self.ingest(
            incoming,
            allowed_townships=allowed_townships,
            check_version=held.get("source") != "central",
        )
        self.mark_reprocessed(held, outcome)
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
