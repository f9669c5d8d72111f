"""Submissions restored in ODK Central after a soft delete.

A restore clears the row's `deletedAt`, and nothing else in the row need say that it
happened after the checkpoint (its submission and update dates may be older), so the
incremental window can miss it and the document would stay `deleted` in Cradle. Each run
therefore compares the ids Central lists as deleted with the list it saw at the end of
the previous run (kept in the `state` database): an id that left the list was restored
(its row, read by key, is written like any other and counts again) or purged (Central no
longer has it: the document stays deleted). The list is saved only after the restored
rows are written, so a run killed in between finds them again.
"""

from __future__ import annotations

from collections.abc import Callable

from sync.central.client import CentralClient
from sync.central.upsert import Counts, Upserter
from sync.couch import Database
from sync.errors import CouchConflict


def deleted_ids(central: CentralClient, form_id: str, *, page_size: int) -> set[str]:
    """Every id Central lists as deleted for the form (ids only: a small read)."""
    ids: set[str] = set()
    for page in central.pages(
        form_id, filter="__system/deletedAt ne null", top=page_size, count=False, select="__id"
    ):
        ids.update(str(row["__id"]) for row in page.get("value") or [] if row.get("__id"))
    return ids


def seen_id(server: str, project_id: int, form_id: str) -> str:
    """The state document holding the deleted ids a run of this form saw last."""
    return f"deleted:central:{server}|{project_id}|{form_id}"


def bring_back_restored(
    central: CentralClient,
    upserter: Upserter,
    state_db: Database,
    key: tuple[str, int, str],
    *,
    page_size: int,
    guard: Callable[[], None] = lambda: None,
) -> Counts:
    """Write the rows restored since the last run; what they did (`updated`, mostly)."""
    server, project_id, form_id = key
    now = deleted_ids(central, form_id, page_size=page_size)
    doc_id = seen_id(server, project_id, form_id)
    seen = state_db.get(doc_id) or {"_id": doc_id, "type": "central_deleted"}
    counts = Counts()
    rows = []
    for instance_id in sorted(set(seen.get("ids") or []) - now):
        row = central.row(form_id, instance_id)
        if row is not None:  # None: purged, or deleted again since the list was read
            rows.append(row)
    if rows:
        guard()
        counts = upserter.write(rows)
    if sorted(now) != seen.get("ids"):
        guard()
        try:
            state_db.put({**seen, "ids": sorted(now)})
        except CouchConflict:  # another writer saved a list meanwhile: the next run compares
            pass
    return counts
