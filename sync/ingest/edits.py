"""What an edit may do to a stored submission, and what the edited document keeps.

One rule for both arrival paths (Collect's `deprecatedID`, Central's new instanceID):

- an edit is refused when the editor may not write the **stored** document's township
  (not only the township the new data names), and when it would change the form;
- an edit that moves a document to another township carries no personal field of the
  earlier versions into the new area: every history entry then keeps only the
  non-personal fields (marked `personal_removed`), and the raw XML of earlier versions
  is dropped from the document (replicas of the new area would otherwise receive it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from forms.contract import CONTRACTS
from sync.ingest.problems import Problem

#: What a history entry records of the version it replaces.
HISTORY_KEYS = ("instance_id", "form_version", "data", "received_at", "submitter")

#: Contract fields that name a person (the same ones analysts never see).
PERSONAL_FIELDS: frozenset[str] = frozenset(
    f.name for contract in CONTRACTS.values() for f in contract if f.personal
)


def edit_problems(
    stored: Mapping[str, Any], form_id: str, allowed_townships: frozenset[str] | None
) -> list[Problem]:
    """Why this editor may not apply an edit of form `form_id` to `stored` (empty: may).

    `allowed_townships=None` means any township (an admin, or ODK Central, whose own
    project decides who edits); the form may never change.
    """
    township = stored.get("township_code")
    if allowed_townships is not None and township not in allowed_townships:
        return [Problem("outside_scope", field="deprecatedID", detail=str(township))]
    if stored.get("form_id") != form_id:
        detail = f"{stored.get('form_id')} → {form_id}"
        return [Problem("edit_changes_form", detail=detail)]
    return []


def history_entry(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The entry that keeps the version an edit replaces."""
    return {key: stored.get(key) for key in HISTORY_KEYS}


def moves_township(stored: Mapping[str, Any], new_township: str | None) -> bool:
    return stored.get("township_code") != new_township


def carried_history(
    stored: Mapping[str, Any], new_township: str | None, *, new_version: bool
) -> list[dict[str, Any]]:
    """The history of the edited document: the stored one, plus the replaced version
    when the edit brings a new one, without personal fields when the township changes."""
    entries = [dict(e) for e in stored.get("history") or []]
    if new_version:
        entries.append(history_entry(stored))
    if not moves_township(stored, new_township):
        return entries
    return [_without_personal(entry) for entry in entries]


def _without_personal(entry: Mapping[str, Any]) -> dict[str, Any]:
    data = entry.get("data")
    kept = {k: v for k, v in data.items() if k not in PERSONAL_FIELDS} if data else data
    return {**entry, "data": kept, "personal_removed": True}


def xml_attachment_name(instance_id: str) -> str:
    """Where a submission document keeps the raw XML of one of its versions."""
    return f"xml/{instance_id}.xml"


def without_version_xml(
    attachments: Mapping[str, Any], instance_ids: Iterable[str]
) -> dict[str, Any]:
    """The attachments without the raw XML of the given versions."""
    dropped = {xml_attachment_name(i) for i in instance_ids}
    return {name: stub for name, stub in attachments.items() if name not in dropped}


def edited_document(
    current: Mapping[str, Any],
    doc: Mapping[str, Any],
    version: Mapping[str, Any],
    added: Mapping[str, Any],
) -> dict[str, Any]:
    """`current` edited by a Collect version: the new answers (`doc`), the same id and
    first arrival, one more entry in `versions` and `history`, the new attachments
    (`added`), and no earlier raw XML when the edit moves the township."""
    attachments = {**(current.get("_attachments") or {}), **added}
    if moves_township(current, doc.get("township_code")):
        earlier = [v["instance_id"] for v in current.get("versions") or []]
        attachments = without_version_xml(attachments, earlier)
    return {
        **doc,
        "_id": current["_id"],
        "_rev": current["_rev"],
        "received_at": current["received_at"],
        "edits": current.get("edits", 0) + 1,
        "review_state": "edited",
        "versions": [*(current.get("versions") or []), dict(version)],
        "history": carried_history(current, doc.get("township_code"), new_version=True),
        "_attachments": attachments,
    }
