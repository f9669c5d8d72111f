"""Changing submissions on a user's behalf (the API and the pages share this)."""

from __future__ import annotations

from django.http import HttpRequest

from server.accounts.scope import Scope
from server.core.audit import audit_event
from server.core.ingest import get_ingestor
from server.submissions.selectors import quarantine_get
from sync.central.reprocess import is_central, reprocess_central
from sync.ingest.store import Outcome


def quarantine_reprocess(
    *, scope: Scope, doc_id: str, request: HttpRequest, source: str
) -> Outcome:
    """Run a quarantined submission through ingestion again and record who did it.

    Raises `PermissionError` outside the scope and `KeyError` when there is no such document.
    """
    held = quarantine_get(scope=scope, doc_id=doc_id)
    if held is None:
        raise KeyError(doc_id)
    ingestor = get_ingestor()
    if is_central(held):  # the row as Central served it, through what a sync does
        outcome = reprocess_central(ingestor, doc_id)
    else:
        outcome = ingestor.reprocess(doc_id, allowed_townships=None)
    audit_event(
        "submission.reprocessed",
        actor=scope.username,
        source=source,
        request=request,
        target=doc_id,
        detail={"result": outcome.result, "submission": outcome.doc_id},
    )
    return outcome
