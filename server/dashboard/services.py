"""What the pages change: re-processing a quarantined submission (through the ingestion
core, recorded in the audit trail, as the API does) and starting a sync (through the sync
service of the API); and the replication status the sync page shows."""

from __future__ import annotations

from django.http import HttpRequest

from server.accounts.scope import Scope
from server.core.couch import get_couch
from server.core.errors import ApplicationError
from server.submissions import services as submission_services
from server.syncs import services as syncs
from sync.central import replicate
from sync.central.replicate import ReplicationStatus
from sync.ingest.store import Outcome


def quarantine_reprocess(*, scope: Scope, doc_id: str, request: HttpRequest) -> Outcome:
    """Run a quarantined submission through ingestion again, as the API does (audited with
    source "dashboard"). Raises `PermissionError` outside the scope, `KeyError` if missing."""
    return submission_services.quarantine_reprocess(
        scope=scope, doc_id=doc_id, request=request, source="dashboard"
    )


class SyncRefused(Exception):
    """A sync that cannot start (not configured, unknown source, one already running)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sync_start(*, scope: Scope, source: str) -> str:
    """Start a run of `source` through the sync service (a detached process); its id."""
    try:
        record = syncs.sync_start(scope=scope, source_name=source)
    except ApplicationError as error:
        raise SyncRefused(error.message, error.status_code) from error
    return record["id"]


def replication_status(scope: Scope) -> list[ReplicationStatus]:
    """The replications on the CouchDB this Cradle uses, those touching the user's area.

    Raises `SyncError` when CouchDB cannot be asked.
    """
    found = replicate.status(get_couch())
    if scope.townships is None:
        return found
    counties = {t[:6] for t in scope.townships}
    return [
        r
        for r in found
        if set(_codes(r.area.get("townships"))) & scope.townships
        or set(_codes(r.area.get("counties"))) & counties
    ]


def _codes(value: str | None) -> list[str]:
    return [c for c in (value or "").split(",") if c]
