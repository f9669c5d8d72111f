"""Central OData rows read the way an XML instance is read, so one normalizer and one
validator serve both routes.

A row's groups are flattened by field name (names are unique within a form), typed JSON
values become the text an instance would carry (numbers as text, a `select_multiple`
answer stays one space-separated string, a GeoJSON point becomes "lat lon alt accuracy"),
and `null` means unanswered, so the field is absent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sync.ingest.parse import MAX_FIELDS, MAX_VALUE_CHARS, ParsedInstance, check_instance_id
from sync.ingest.problems import Problem, SubmissionRejected

_GEO_TYPES = frozenset({"Point", "LineString", "Polygon"})


@dataclass(frozen=True)
class RowMeta:
    """Central's `__id` and `__system` block of one row."""

    id: str  # the original instanceID: Cradle's document `_id`
    submission_date: str
    updated_at: str | None
    deleted_at: str | None
    review_state: str | None
    edits: int
    form_version: str
    submitter_id: str | None
    submitter_name: str | None
    device_id: str | None
    attachments_present: int

    @property
    def changed_at(self) -> str:
        """The latest moment Central changed the row (created, updated or deleted)."""
        return max(t for t in (self.submission_date, self.updated_at, self.deleted_at) if t)


def row_meta(row: Mapping[str, Any]) -> RowMeta:
    """Read `__id` and `__system`; missing parts become empty values, judged later."""
    system = row.get("__system")
    system = system if isinstance(system, dict) else {}
    return RowMeta(
        id=str(row.get("__id") or ""),
        submission_date=str(system.get("submissionDate") or ""),
        updated_at=system.get("updatedAt") or None,
        deleted_at=system.get("deletedAt") or None,
        review_state=system.get("reviewState") or None,
        edits=int(system.get("edits") or 0),
        form_version=str(system.get("formVersion") or ""),
        submitter_id=_text_or_none(system.get("submitterId")),
        submitter_name=system.get("submitterName") or None,
        device_id=system.get("deviceId") or None,
        attachments_present=int(system.get("attachmentsPresent") or 0),
    )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def to_text(value: Any) -> str | None:
    """One answer as instance text; None when unanswered.

    >>> [to_text(v) for v in (35, 3.5, "hepb3 mpsva1", None, True)]
    ['35', '3.5', 'hepb3 mpsva1', None, 'true']
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, dict) and value.get("type") in _GEO_TYPES:
        return geo_text(value)
    return orjson.dumps(value).decode()


def _point(coordinates: list[Any], accuracy: Any = None) -> str:
    lon, lat, *rest = coordinates
    parts = [str(lat), str(lon)]
    if rest or accuracy is not None:
        parts.append(str(rest[0]) if rest else "0")
    if accuracy is not None:
        parts.append(str(accuracy))
    return " ".join(parts)


def geo_text(value: Mapping[str, Any]) -> str:
    """A GeoJSON geometry as ODK writes it: "lat lon alt acc", points joined by ";".

    >>> geo_text({"type": "Point", "coordinates": [105.9, 25.3, 668.1],
    ...           "properties": {"accuracy": 7.3}})
    '25.3 105.9 668.1 7.3'
    """
    kind, coordinates = value.get("type"), value.get("coordinates") or []
    if kind == "Point":
        accuracy = (value.get("properties") or {}).get("accuracy")
        return _point(coordinates, accuracy)
    if kind == "Polygon":
        coordinates = coordinates[0] if coordinates else []
    return ";".join(_point(point) for point in coordinates)


def flatten(row: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """`{field name: text}` and `{field name: path}` of a row's answers.

    Central's own keys (`__id`, `__system`, `...@odata.navigationLink`) are left out, and
    so are repeats (lists): Cradle's forms have none.
    """
    fields: dict[str, str] = {}
    paths: dict[str, str] = {}
    duplicates: list[Problem] = []
    stack: list[tuple[str, str, Any]] = [
        (key, key, value) for key, value in reversed(list(row.items()))
    ]
    while stack:
        name, path, value = stack.pop()
        if name.startswith("__") or "@odata" in name or isinstance(value, list):
            continue
        if isinstance(value, dict) and value.get("type") not in _GEO_TYPES:
            stack.extend(
                (key, f"{path}/{key}", child) for key, child in reversed(list(value.items()))
            )
            continue
        text = to_text(value)
        if text is None:
            continue
        if name in fields:
            duplicates.append(Problem("duplicate_field", field=name))
            continue
        if len(fields) >= MAX_FIELDS:
            raise SubmissionRejected(
                [Problem("too_large", detail=f"more than {MAX_FIELDS} fields")]
            )
        if len(text) > MAX_VALUE_CHARS:
            raise SubmissionRejected([Problem("too_long", field=name, detail=f"{len(text)} chars")])
        fields[name] = text
        paths[name] = path
    if duplicates:
        raise SubmissionRejected(duplicates)
    return fields, paths


def parse_row(row: Mapping[str, Any], form_id: str) -> ParsedInstance:
    """The row as a `ParsedInstance` of Cradle form `form_id`, or `SubmissionRejected`.

    `instance_id` is the current version (`meta/instanceID`); Central's `__id` (the
    original) is the document's identity and is read by `row_meta`.
    """
    meta = row_meta(row)
    check_instance_id(meta.id)
    fields, paths = flatten(row)
    instance_id = check_instance_id(fields.get("instanceID") or meta.id)
    fields["instanceID"] = instance_id
    return ParsedInstance(form_id, meta.form_version, instance_id, None, fields, paths)


def canonical_bytes(row: Mapping[str, Any]) -> bytes:
    """The row as JSON with sorted keys: the same row always gives the same bytes."""
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


def content_md5(row: Mapping[str, Any]) -> str:
    """A hash of the answers alone (not `__system`), so a review does not change it."""
    answers = {k: v for k, v in row.items() if not k.startswith("__") and "@odata" not in k}
    return hashlib.md5(canonical_bytes(answers), usedforsecurity=False).hexdigest()
