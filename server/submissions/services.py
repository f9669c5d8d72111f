"""Changing submissions on a user's behalf (the API and the pages share this)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest

from server.accounts.scope import Scope, scope_for
from server.core.audit import audit_event
from server.core.ingest import get_ingestor
from server.submissions.selectors import quarantine_get
from sync.central.reprocess import is_central, reprocess_central
from sync.ingest.problems import Problem
from sync.ingest.store import Outcome


def submitter_townships(username: str | None) -> frozenset[str] | Problem | None:
    """Where the user who sent a submission may submit today (None: anywhere), or why
    that cannot be known: re-processing never widens what the submitter could do."""
    user = (
        get_user_model().objects.select_related("cradle_profile").filter(username=username).first()
        if username
        else None
    )
    if user is None:
        return Problem("submitter_unknown", detail=username or "-")
    scope = scope_for(user)
    if not scope.can_submit or scope.townships == frozenset():
        return Problem("submitter_no_scope", detail=username)
    return scope.townships


def quarantine_reprocess(
    *,
    scope: Scope,
    doc_id: str,
    request: HttpRequest,
    source: str,
    override_scope: bool = False,
) -> Outcome:
    """Run a quarantined submission through ingestion again and record who did it.

    A Collect submission is judged within its submitter's current scope, whoever clicks;
    `override_scope` (admins only, recorded in the audit trail) judges it within any
    township instead. A row from ODK Central is judged as a sync would (Central's own
    project decides who edits). Raises `KeyError` when there is no such document in the
    caller's area, and `PermissionError` for an override asked by a non-admin.
    """
    held = quarantine_get(scope=scope, doc_id=doc_id)
    if held is None:
        raise KeyError(doc_id)
    if override_scope and not scope.is_admin:
        raise PermissionError(doc_id)
    ingestor = get_ingestor()
    if is_central(held):  # the row as Central served it, through what a sync does
        outcome = reprocess_central(ingestor, doc_id)
    elif override_scope:
        outcome = ingestor.reprocess(doc_id, allowed_townships=None)
    else:
        allowed = submitter_townships(held.get("submitter"))
        if isinstance(allowed, Problem):
            outcome = ingestor.keep_refused(doc_id, [allowed])
        else:
            outcome = ingestor.reprocess(doc_id, allowed_townships=allowed)
    detail = {"result": outcome.result, "submission": outcome.doc_id}
    if override_scope:
        detail["override_scope"] = True
    audit_event(
        "submission.reprocessed",
        actor=scope.username,
        source=source,
        request=request,
        target=doc_id,
        detail=detail,
    )
    return outcome
