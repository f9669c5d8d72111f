"""Reading submissions and quarantined submissions from CouchDB, always through a Scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.accounts.scope import Scope
from server.core.couch import cradle_db


@dataclass(frozen=True)
class SubmissionFilters:
    form_id: str | None = None
    township_code: str | None = None
    county_code: str | None = None
    child_id: str | None = None
    collected_from: str | None = None  # ISO date, inclusive
    collected_to: str | None = None  # ISO date, inclusive


def _selector(scope: Scope, filters: SubmissionFilters, doc_type: str) -> dict[str, Any]:
    where = scope.couch_selector() if doc_type == "submission" else scope.couch_record_selector()
    selector: dict[str, Any] = {"type": doc_type, **where}
    for key, value in (
        ("form_id", filters.form_id),
        ("county_code", filters.county_code),
        ("child_id", filters.child_id),
    ):
        if value:
            selector[key] = value
    if filters.township_code:
        selector["township_code"] = (
            filters.township_code
            if scope.allows_township(filters.township_code)
            else {"$in": []}  # outside the scope: matches nothing
        )
    collected: dict[str, str] = {}
    if filters.collected_from:
        collected["$gte"] = filters.collected_from
    if filters.collected_to:
        collected["$lt"] = filters.collected_to + "T99"  # the whole last day
    if collected:
        selector["collected_at"] = collected
    return selector


def _page(db_key: str, selector: dict, limit: int, offset: int) -> list[dict]:
    page = cradle_db(db_key).find(selector, limit=limit, skip=offset)
    return page.docs


def submission_list(
    *, scope: Scope, filters: SubmissionFilters, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    docs = _page("submissions", _selector(scope, filters, "submission"), limit, offset)
    return [scope.redact(_public(doc)) for doc in docs]


def submission_get(*, scope: Scope, doc_id: str) -> dict[str, Any] | None:
    """The document, None when missing; raises PermissionError when outside the scope."""
    doc = cradle_db("submissions").get(doc_id)
    if doc is None or doc.get("type") != "submission":
        return None
    if not scope.allows_township(doc.get("township_code")):
        raise PermissionError(doc_id)
    return scope.redact(_public(doc))


def quarantine_list(
    *, scope: Scope, filters: SubmissionFilters, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    docs = _page("quarantine", _selector(scope, filters, "quarantine"), limit, offset)
    return [_public(doc) for doc in docs]


def quarantine_get(*, scope: Scope, doc_id: str) -> dict[str, Any] | None:
    db = cradle_db("quarantine")
    doc = db.get(doc_id)
    if doc is None or doc.get("type") != "quarantine":
        return None
    if not scope.allows_record(doc.get("township_code"), doc.get("county_code")):
        raise PermissionError(doc_id)
    # what arrived: Collect's XML, or the row as ODK Central served it
    kind = "json" if doc.get("source") == "central" else "xml"
    raw = db.get_attachment(doc_id, f"submission.{kind}") or b""
    return {**_public(doc), f"raw_{kind}": raw.decode("utf-8", errors="replace")}


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """CouchDB internals out, attachment names kept."""
    out = {k: v for k, v in doc.items() if not k.startswith("_")}
    out["id"] = doc["_id"]
    out["attachments"] = sorted((doc.get("_attachments") or {}).keys())
    return out
