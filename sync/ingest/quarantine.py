"""The quarantine document of a refused submission, and the submission read back from it.

A refused submission is kept whole (or the start of an oversize body) with its reasons;
identical refused bytes map to one quarantine document. Re-processing reads back exactly
what was kept, so a second judgement sees what the first one saw.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sync.ingest.incoming import (
    QUARANTINE_KEEP_BYTES,
    Attachment,
    Incoming,
    Limits,
    Outcome,
    utc_iso,
)
from sync.ingest.parse import ParsedInstance
from sync.ingest.problems import Problem, status_for

MEDIA_PREFIX = "media/"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def media_name(name: str) -> str:
    return f"{MEDIA_PREFIX}{name}"


def more_xml_name(position: int) -> str:
    """Where the second, third... instance part of one post is kept (position 2, 3, ...)."""
    return f"submission-{position}.xml"


def quarantine_doc(
    incoming: Incoming, problems: list[Problem], parsed: ParsedInstance | None, limits: Limits
) -> tuple[dict[str, Any], Outcome]:
    """The quarantine document for a refusal, and the outcome to answer with."""
    digest = hashlib.sha256(incoming.xml).hexdigest()
    identity = hashlib.sha256(digest.encode())
    for extra in incoming.more_xml:
        identity.update(b"xml" + hashlib.sha256(extra).digest())
    for item in incoming.attachments:
        identity.update(item.name.encode() + hashlib.sha256(item.data).digest())
    qid = f"q:{identity.hexdigest()[:40]}"
    status = status_for(problems)
    kept = incoming.xml[:QUARANTINE_KEEP_BYTES]
    attachments = {
        incoming.raw_name: {"content_type": "application/octet-stream", "data": b64(kept)}
    }
    for position, extra in enumerate(incoming.more_xml, start=2):
        attachments[more_xml_name(position)] = {
            "content_type": "application/octet-stream",
            "data": b64(extra[:QUARANTINE_KEEP_BYTES]),
        }
    for item in incoming.attachments:
        if len(item.data) <= limits.max_attachment_bytes:
            attachments[media_name(item.name)] = {
                "content_type": item.content_type,
                "data": b64(item.data),
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


def held_incoming(held: Mapping[str, Any], read: Callable[[str], bytes | None]) -> Incoming:
    """The submission a quarantine document keeps, as it arrived; `read(name)` gives the
    bytes of one of its attachments."""
    stubs = held.get("_attachments") or {}
    more = []
    position = 2
    while more_xml_name(position) in stubs:
        more.append(read(more_xml_name(position)) or b"")
        position += 1
    attachments = tuple(
        Attachment(
            name.removeprefix(MEDIA_PREFIX),
            read(name) or b"",
            stub.get("content_type", "application/octet-stream"),
        )
        for name, stub in stubs.items()
        if name.startswith(MEDIA_PREFIX)
    )
    return Incoming(
        xml=read("submission.xml") or b"",
        source=held.get("source") or "openrosa",
        submitter=held.get("submitter"),
        received_at=datetime.fromisoformat(held["received_at"].replace("Z", "+00:00")),
        attachments=attachments,
        remote_addr=held.get("remote_addr"),
        truncated_from=held["size"] if held.get("size", 0) > held.get("kept_bytes", 0) else None,
        more_xml=tuple(more),
    )


def refused(quarantine_id: str, problems: list[Problem]) -> Outcome:
    """The outcome of a submission that stays in quarantine for these reasons."""
    return Outcome("quarantined", status_for(problems), None, tuple(problems), quarantine_id)
