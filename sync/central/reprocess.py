"""Re-processing a quarantined ODK Central row, after the registry or a form was fixed.

The row is kept in quarantine as Central served it (`submission.json`), so it goes through
exactly what a sync does with it: the one ingestion core judges it (`upsert.build`), and
a valid row is written with the same decision against the stored document (new, edit,
review change, deletion). Its attachments are not fetched here (Cradle holds no Central
connection for this): a sync with `--attachments` adds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from sync.central.upsert import FormTarget, Upserter, build
from sync.ingest.problems import Problem, status_for
from sync.ingest.store import Ingestor, Outcome

RAW_NAME = "submission.json"
_RESULTS = {
    "new": "created",
    "updated": "updated",
    "review_changes": "updated",
    "deleted": "updated",
    "unchanged": "unchanged",
}


def is_central(held: Mapping[str, Any]) -> bool:
    """Whether a quarantine document holds a row from ODK Central."""
    return held.get("source") == "central" and isinstance(held.get("central"), Mapping)


def reprocess_central(ingestor: Ingestor, quarantine_id: str) -> Outcome:
    """Judge a quarantined Central row again and write it when it now passes; the
    quarantine document stays, marked with what became of it. `KeyError` when there is
    no such quarantine document."""
    held = ingestor.held(quarantine_id)
    outcome = _judge_again(ingestor, held)
    ingestor.mark_reprocessed(held, outcome)
    return outcome


def _judge_again(ingestor: Ingestor, held: Mapping[str, Any]) -> Outcome:
    qid = held["_id"]
    raw = ingestor.quarantine_db.get_attachment(qid, RAW_NAME)
    if held.get("size", 0) > held.get("kept_bytes", 0):  # only its start was kept
        return _refused(qid, [Problem("too_large", detail=f"{held['size']} bytes")])
    if raw is None:
        return _refused(qid, [Problem("empty_body")])
    central = held["central"]
    target = FormTarget(
        server=central["server"],
        project_id=central["project_id"],
        central_form_id=central["form_id"],
        cradle_form_id=held.get("form_id") or central["form_id"],
    )
    row = orjson.loads(raw)  # Cradle wrote it from a parsed row: it is JSON
    built = build(row, target, ingestor)
    if built.quarantine is not None:
        reasons = built.quarantine["reasons"]
        return _refused(qid, [Problem(r["code"], r.get("field"), r.get("detail")) for r in reasons])
    counts = Upserter(ingestor, target).write([row]).as_dict()
    done = next(k for k, v in counts.items() if k != "fetched" and v)
    if done not in _RESULTS:  # the id belongs to something that is not a submission
        return _refused(qid, [Problem("conflict")])
    return Outcome(_RESULTS[done], 201, built.meta.id)


def _refused(qid: str, problems: list[Problem]) -> Outcome:
    return Outcome("quarantined", status_for(problems), None, tuple(problems), qid)
