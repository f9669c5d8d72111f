"""Reading submissions and quarantined submissions, always through a Scope.

Lists come from the listing projections (`sync.listing`), brought up to date from CouchDB's
change feed before each read: a page is a bounded index range there, the total a COUNT
over the same rows. The page's documents are then read from CouchDB by key, so what is
shown is always the current document, checked against the scope and redacted as ever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from server.accounts.scope import Scope
from server.core.couch import cradle_db
from server.core.local import local_state
from sync.follow import FeedState, RefreshResult
from sync.listing import (
    QUARANTINE_LISTING,
    SUBMISSION_LISTING,
    Cursor,
    ListingFilter,
    ListingProjection,
    listing_count,
    listing_page,
)

#: Seconds a list request may spend catching the listing up before it answers from the
#: state committed so far (only a cold build takes longer than one feed page).
LISTING_BUDGET = 0.5
LISTINGS: dict[str, ListingProjection] = {
    "submissions": SUBMISSION_LISTING,
    "quarantine": QUARANTINE_LISTING,
}


@dataclass(frozen=True)
class SubmissionFilters:
    form_id: str | None = None
    township_code: str | None = None
    county_code: str | None = None
    child_id: str | None = None
    collected_from: date | None = None  # inclusive
    collected_to: date | None = None  # inclusive, the whole day


@dataclass(frozen=True)
class ListPage:
    """One page of a list: the total of the filtered set, the documents, and the cursors of
    the next and previous pages (None at either end). `caught_up` is False while the
    listing is still being built from CouchDB (then `count` and pages are partial)."""

    count: int
    results: list[dict[str, Any]]
    next: str | None
    previous: str | None
    caught_up: bool


def _listing(db_key: str) -> FeedState:
    return local_state(db_key, LISTINGS[db_key])


def refresh_listings(
    *, rebuild: bool = False, progress: Callable[[str, int, int | None], None] | None = None
) -> dict[str, RefreshResult]:
    """Bring both listings up to date (`rebuild`: from scratch); `progress(name, read,
    total)` while reading the feed. For `cradle index refresh`."""
    results = {}
    for db_key, projection in LISTINGS.items():
        report = None if progress is None else _named(progress, projection.name)
        results[projection.name] = _listing(db_key).refresh(rebuild=rebuild, progress=report)
    return results


def _named(
    progress: Callable[[str, int, int | None], None], name: str
) -> Callable[[int, int | None], None]:
    return lambda read, total: progress(name, read, total)


def _day_after(day: date) -> date | None:
    return None if day == date.max else day + timedelta(days=1)


def _utc_start(day: date | None) -> str | None:
    """The UTC instant (as `received_at` is written) when `day` begins here; None for a
    day at the edge of the calendar, where no bound is needed."""
    if day is None:
        return None
    start = datetime.combine(day, time.min, ZoneInfo(settings.TIME_ZONE))
    try:
        moment = start.astimezone(UTC)
    except OverflowError:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _submission_where(scope: Scope, filters: SubmissionFilters) -> ListingFilter:
    """Collection dates compare with `collected_at` as the tablet wrote it (its local day)."""
    until = _day_after(filters.collected_to) if filters.collected_to else None
    return ListingFilter(
        form_id=filters.form_id,
        township_code=filters.township_code,
        county_code=filters.county_code,
        child_id=filters.child_id,
        sort_from=filters.collected_from.isoformat() if filters.collected_from else None,
        sort_before=until.isoformat() if until else None,
        townships=scope.townships,
    )


def _quarantine_where(scope: Scope, filters: SubmissionFilters) -> ListingFilter:
    """A refused record may not say when it was collected: its dates are the days (here,
    in `TIME_ZONE`) it was received. Records of unknown townships show in whole counties."""
    until = _day_after(filters.collected_to) if filters.collected_to else None
    return ListingFilter(
        form_id=filters.form_id,
        township_code=filters.township_code,
        county_code=filters.county_code,
        child_id=filters.child_id,
        sort_from=_utc_start(filters.collected_from),
        sort_before=_utc_start(until),
        townships=scope.townships,
        counties=scope.counties,
    )


def _list(
    db_key: str,
    where: ListingFilter,
    limit: int,
    cursor: str | None,
    shown: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> ListPage:
    """A page of `db_key` from its listing, documents by key; `shown` decides each one
    again on its current content (None: not shown)."""
    position = Cursor.decode(cursor) if cursor is not None else None
    state = _listing(db_key)
    caught_up = state.refresh(budget=LISTING_BUDGET).caught_up
    conn = state.connection()
    conn.execute("BEGIN")  # page and count from one snapshot, whatever others commit meanwhile
    try:
        page = listing_page(conn, where, limit=limit, cursor=position)
        count = listing_count(conn, where)
    finally:
        conn.execute("COMMIT")
    docs = cradle_db(db_key).bulk_get(page.ids) if page.ids else {}
    results = [view for i in page.ids if i in docs and (view := shown(docs[i])) is not None]
    return ListPage(
        count=count,
        results=results,
        next=page.next.encode() if page.next else None,
        previous=page.previous.encode() if page.previous else None,
        caught_up=caught_up,
    )


def submission_list(
    *, scope: Scope, filters: SubmissionFilters, limit: int = 50, cursor: str | None = None
) -> ListPage:
    """Submissions newest first (by collection time, then id) within the scope; raises
    `InvalidCursor` for a cursor this list did not hand out."""
    return _list(
        "submissions", _submission_where(scope, filters), limit, cursor, _submission_view(scope)
    )


def _submission_view(scope: Scope) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    def shown(doc: dict[str, Any]) -> dict[str, Any] | None:
        if doc.get("type") != "submission" or not scope.allows_township(doc.get("township_code")):
            return None
        return scope.redact(_public(doc))

    return shown


def submission_get(*, scope: Scope, doc_id: str) -> dict[str, Any] | None:
    """The document as this user may see it; None when it is missing or outside the scope
    (the same answer, so that ids outside one's area cannot be probed)."""
    doc = cradle_db("submissions").get(doc_id)
    return _submission_view(scope)(doc) if doc is not None else None


def quarantine_list(
    *, scope: Scope, filters: SubmissionFilters, limit: int = 50, cursor: str | None = None
) -> ListPage:
    """Quarantined records newest first (by receipt, then id) within the scope; raises
    `InvalidCursor` for a cursor this list did not hand out."""
    return _list(
        "quarantine", _quarantine_where(scope, filters), limit, cursor, _quarantine_view(scope)
    )


def _quarantine_view(scope: Scope) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    def shown(doc: dict[str, Any]) -> dict[str, Any] | None:
        if doc.get("type") != "quarantine":
            return None
        if not scope.allows_record(doc.get("township_code"), doc.get("county_code")):
            return None
        return _public(doc)

    return shown


def quarantine_get(*, scope: Scope, doc_id: str) -> dict[str, Any] | None:
    """The record with what arrived (Collect's XML, or the row as ODK Central served it);
    None when it is missing or outside the scope, alike."""
    db = cradle_db("quarantine")
    doc = db.get(doc_id)
    held = _quarantine_view(scope)(doc) if doc is not None else None
    if held is None:
        return None
    kind = "json" if doc.get("source") == "central" else "xml"
    raw = db.get_attachment(doc_id, f"submission.{kind}") or b""
    return {**held, f"raw_{kind}": raw.decode("utf-8", errors="replace")}


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """CouchDB internals out, attachment names kept."""
    out = {k: v for k, v in doc.items() if not k.startswith("_")}
    out["id"] = doc["_id"]
    out["attachments"] = sorted((doc.get("_attachments") or {}).keys())
    return out
