"""The audit trail: who did what, when, from where. Append-only, enforced by CouchDB itself
(a `validate_doc_update` function refuses any change to an existing entry, whoever asks).

Entries carry no personal data: a submission is named by its id, never by a child's name.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sync.couch import Database

APPEND_ONLY = """function (newDoc, oldDoc, userCtx) {
  if (oldDoc || newDoc._deleted) {
    throw({forbidden: 'audit entries are append-only'});
  }
  if (!newDoc.at || !newDoc.action) {
    throw({forbidden: 'an audit entry needs at and action'});
  }
}"""

DESIGN = {"validate_doc_update": APPEND_ONLY}

ACTIONS = frozenset(
    {
        "submission.created",
        "submission.updated",
        "submission.topped_up",
        "submission.unchanged",
        "submission.quarantined",
        "submission.reprocessed",
        "submission.deleted",
        "submission.reviewed",
        "sync.run",
        "user.created",
        "user.role_changed",
        "user.password_changed",
    }
)


def record(
    db: Database,
    *,
    action: str,
    actor: str | None,
    source: str,
    target: str | None = None,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> str:
    """Append one entry; its id sorts by time, so `_all_docs` reads the trail in order."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    doc_id = f"{stamp}:{uuid.uuid4().hex[:12]}"
    db.put(
        {
            "_id": doc_id,
            "type": "audit",
            "at": stamp,
            "action": action,
            "actor": actor or "system",
            "source": source,
            "target": target,
            "address": address,
            "detail": detail or {},
        }
    )
    return doc_id


def entries(
    db: Database, *, since: str | None = None, until: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Entries in time order, from `since` (an ISO time, inclusive)."""
    rows = db.all_docs(
        start_key=since or "0",
        end_key=(until or "9") + "\ufff0",
        include_docs=True,
        limit=limit,
    )
    return [
        {k: v for k, v in row["doc"].items() if not k.startswith("_")} | {"id": row["id"]}
        for row in rows
        if not row["id"].startswith("_design/")
    ]
