"""The canonical submission document, built from a judged instance (pure functions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forms.catalog import md5_hex
from sync.ingest.edits import xml_attachment_name
from sync.ingest.incoming import Incoming, utc_iso
from sync.ingest.parse import ParsedInstance
from sync.ingest.quarantine import b64, media_name


def submission_document(
    incoming: Incoming, parsed: ParsedInstance, data: dict[str, Any], extra: dict[str, str]
) -> dict[str, Any]:
    """The document of a new submission, without `_id` and attachments."""
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
        "versions": [version_entry(incoming, parsed)],
        "history": [],
    }


def version_entry(incoming: Incoming, parsed: ParsedInstance) -> dict[str, Any]:
    """What `versions` records of one version: its id, hash, arrival and sender."""
    return {
        "instance_id": parsed.instance_id,
        "xml_md5": md5_hex(incoming.xml),
        "received_at": utc_iso(incoming.received_at),
        "submitter": incoming.submitter,
        "source": incoming.source,
    }


def new_attachments(
    incoming: Incoming, parsed: ParsedInstance, existing: Mapping[str, Any]
) -> dict[str, Any]:
    """Inline attachments not yet on the document (the XML of this version, media)."""
    wanted: dict[str, Any] = {}
    xml_name = xml_attachment_name(parsed.instance_id)
    if xml_name not in existing:
        wanted[xml_name] = {"content_type": "text/xml", "data": b64(incoming.xml)}
    for item in incoming.attachments:
        name = media_name(item.name)
        if name not in existing:
            wanted[name] = {"content_type": item.content_type, "data": b64(item.data)}
    return wanted
