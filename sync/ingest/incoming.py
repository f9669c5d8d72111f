"""What the ingestion core takes and gives: a submission as it arrived, and what became of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sync.ingest.parse import DEFAULT_MAX_XML_BYTES
from sync.ingest.problems import Problem

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 100
QUARANTINE_KEEP_BYTES = 256 * 1024  # of a body too large to keep whole


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
    more_xml: tuple[bytes, ...] = ()  # further instance parts of one post: refused, kept


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
