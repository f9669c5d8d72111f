"""Conflicting revisions, as replication between a township replica and the central
CouchDB brings them: found with `conflicts=true` and resolved by one deterministic rule.

The revision with the latest `updated_at` wins, ties go to the higher `_rev`; every
losing revision's content is appended to the winner's `history`, the losing revisions
are deleted, and each resolution is written to the audit trail. Nothing is resolved
silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sync import audit
from sync.couch import Database
from sync.errors import CouchError, ReplicationError

_HISTORY_KEYS = (
    "instance_id",
    "form_version",
    "data",
    "received_at",
    "updated_at",
    "submitter",
    "review_state",
    "deleted",
)


def _rev_key(rev: str) -> tuple[int, str]:
    number, _, digest = rev.partition("-")
    return int(number or 0), digest


def winner_of(revisions: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The rule: latest `updated_at` wins; a tie goes to the higher `_rev`.

    >>> winner_of([{"_rev": "2-a", "updated_at": "2026-01-02"},
    ...            {"_rev": "3-b", "updated_at": "2026-01-01"}])["_rev"]
    '2-a'
    """
    return max(revisions, key=lambda d: (str(d.get("updated_at") or ""), _rev_key(d["_rev"])))


def _content(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("_") and k != "history"}


def resolution(
    current: Mapping[str, Any], leaves: Sequence[Mapping[str, Any]], *, resolved_at: str
) -> tuple[dict[str, Any], list[dict[str, Any]], Mapping[str, Any]]:
    """Pure: (the winner's content written on the current revision, deletions of every
    other leaf, the winning leaf). Losers whose content equals the winner's add nothing
    to `history`, so resolving twice on two servers converges."""
    winner = winner_of(leaves)
    history = list(winner.get("history") or [])
    for loser in sorted(leaves, key=lambda d: _rev_key(d["_rev"])):
        if loser["_rev"] == winner["_rev"] or _content(loser) == _content(winner):
            continue
        entry = {key: loser.get(key) for key in _HISTORY_KEYS}
        entry.update(event="conflict", rev=loser["_rev"], resolved_at=resolved_at)
        history.append(entry)
    resolved = {
        **{k: v for k, v in winner.items() if not k.startswith("_")},
        "_id": current["_id"],
        "_rev": current["_rev"],
        "history": history,
    }
    if current.get("_attachments"):
        # Attachment stubs are only valid against their own parent revision: media
        # follow the revision the new one is written on.
        resolved["_attachments"] = current["_attachments"]
    deletions = [
        {
            "_id": current["_id"],
            "_rev": leaf["_rev"],
            "_deleted": True,
            # Tombstones keep the area so the township filter lets them through.
            "township_code": leaf.get("township_code"),
            "county_code": leaf.get("county_code"),
        }
        for leaf in leaves
        if leaf["_rev"] != current["_rev"]
    ]
    return resolved, deletions, winner


@dataclass
class Resolved:
    doc_id: str
    winner_rev: str
    loser_revs: list[str]
    written_rev: str | None = None
    losers_in_history: int = 0


def find_conflicts(db: Database, *, batch: int = 500) -> list[str]:
    """Ids of documents with conflicting revisions (`_changes?conflicts=true`)."""
    ids: list[str] = []
    for page in db.iter_changes(batch=batch, include_docs=True, conflicts=True):
        for change in page.results:
            doc = change.get("doc") or {}
            if doc.get("_conflicts") and not doc.get("_deleted"):
                ids.append(change["id"])
    return list(dict.fromkeys(ids))


def resolve_conflicts(
    db: Database,
    *,
    audit: Database | None = None,
    clock: Callable[[], float] = time.time,
    ids: Iterable[str] | None = None,
) -> list[Resolved]:
    """Resolve every conflicted document of `db` by the rule; each resolution is also
    written to `audit` when given."""
    done: list[Resolved] = []
    for doc_id in ids if ids is not None else find_conflicts(db):
        outcome = _resolve_one(db, doc_id, clock)
        if outcome is None:
            continue
        done.append(outcome)
        if audit is not None:
            _audit(audit, outcome, clock)
    return done


def _stamp(clock: Callable[[], float]) -> str:
    text = datetime.fromtimestamp(clock(), UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _resolve_one(db: Database, doc_id: str, clock: Callable[[], float]) -> Resolved | None:
    for _ in range(5):
        current = db.get(doc_id, conflicts=True)
        if current is None or not current.get("_conflicts"):
            return None
        leaves = [current]
        for rev in current["_conflicts"]:
            leaf = db.get(doc_id, rev=rev)
            if leaf is not None:
                leaves.append(leaf)
        resolved, deletions, winner = resolution(current, leaves, resolved_at=_stamp(clock))
        results = db.bulk_docs([resolved, *deletions])
        if any(r.conflict for r in results):
            continue  # the document moved meanwhile: read it again and decide again
        failed = [r for r in results if not r.ok]
        if failed:
            raise CouchError(
                "POST", f"{db.name}/_bulk_docs", None, failed[0].error, failed[0].reason
            )
        return Resolved(
            doc_id=doc_id,
            winner_rev=winner["_rev"],
            loser_revs=sorted(
                (d["_rev"] for d in leaves if d["_rev"] != winner["_rev"]), key=_rev_key
            ),
            written_rev=results[0].rev,
            losers_in_history=len(resolved["history"]) - len(winner.get("history") or []),
        )
    raise ReplicationError(f"could not resolve the conflict on {doc_id}: it kept changing")


def _audit(trail: Database, outcome: Resolved, clock: Callable[[], float]) -> None:
    audit.record(
        trail,
        action="submission.updated",
        actor="replication",
        source="replication",
        target=outcome.doc_id,
        detail={
            "conflict_resolved": True,
            "winner_rev": outcome.winner_rev,
            "loser_revs": outcome.loser_revs,
            "written_rev": outcome.written_rev,
            "rule": "latest updated_at wins, ties by higher _rev; losers appended to history",
        },
        at=datetime.fromtimestamp(clock(), UTC),
    )
