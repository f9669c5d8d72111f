"""Changes a run makes to the persistent data set, and how they are undone.

"Keeping up" changes 1% of the submissions (a third new, a third edited, a third deleted)
and the stale-edit row posts new submissions. Everything is first written to a journal
file: at the end of the run, or at the start of the next one if a run died, the journal
puts every original back and deletes what was created, so each run starts from the
generator's data and runs stay comparable.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sync.couch import Database
from sync.ingest.store import utc_iso

RANGE = 100  # documents per key range read
CHUNK = 500  # documents per `_bulk_docs`


def _restorable(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as read with `attachments=true`, ready to be written again anywhere
    (over a later revision or a deletion): no revision, attachments inline."""
    body = {k: v for k, v in doc.items() if k not in ("_rev", "_revisions", "_conflicts")}
    if "_attachments" in body:
        body["_attachments"] = {
            name: {"content_type": a.get("content_type"), "data": a["data"]}
            for name, a in body["_attachments"].items()
        }
    return body


def sample_documents(
    db: Database, fraction: float, seed: int, exclude: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """About `fraction` of the submissions, whole (attachments inline), read as bounded
    key ranges from seeded random points of the `uuid:` id space (no full listing)."""
    wanted = max(3, round(db.info()["doc_count"] * fraction))
    rng = random.Random(seed)
    picked: dict[str, dict[str, Any]] = {}
    for _ in range(3 * (wanted // RANGE + 1)):
        start = f"uuid:{rng.getrandbits(32):08x}"
        params = {
            "start_key": orjson.dumps(start).decode(),
            "limit": RANGE,
            "include_docs": "true",
            "attachments": "true",
        }
        rows = db.client.request("GET", f"{db.path}/_all_docs", params=params)["rows"]
        for row in rows:
            doc = row.get("doc") or {}
            if doc.get("type") == "submission" and row["id"] not in exclude:
                picked.setdefault(row["id"], doc)
        if len(picked) >= wanted:
            break
    return list(picked.values())[:wanted]


class Journal:
    """What this run changed, on disk before the change is made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.created: list[str] = []
        self.originals: list[dict[str, Any]] = []

    def add(self, *, created: Sequence[str] = (), originals: Sequence[dict[str, Any]] = ()) -> None:
        self.created += created
        self.originals += [_restorable(d) for d in originals]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"created": self.created, "originals": self.originals}))
        tmp.replace(self.path)


def churn(db: Database, docs: Sequence[dict[str, Any]], journal: Journal, seed: int) -> int:
    """Change `docs` as a day of field work would: a third arrive again as new submissions,
    a third are edited (village corrected), a third deleted. Returns how many changed."""
    rng = random.Random(seed)
    now = utc_iso(datetime.now(UTC))
    third = len(docs) // 3
    new: list[dict[str, Any]] = []
    for doc in docs[:third]:
        new_id = f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        body = {k: v for k, v in doc.items() if not k.startswith("_")}
        versions = [{**v, "instance_id": new_id} for v in (doc.get("versions") or [])[:1]]
        new.append(
            body
            | {"_id": new_id, "instance_id": new_id, "versions": versions}
            | {"received_at": now, "updated_at": now}
        )
    edited = [
        {
            **doc,
            "_attachments": {
                name: {k: v for k, v in a.items() if k != "data"} | {"stub": True}
                for name, a in doc.get("_attachments", {}).items()
            },
            "village": f"{doc.get('village') or ''}（更正）",
            "data": {**doc.get("data", {}), "village": f"{doc.get('village') or ''}（更正）"},
            "edits": doc.get("edits", 0) + 1,
            "review_state": "edited",
            "updated_at": now,
        }
        for doc in docs[third : 2 * third]
    ]
    deleted = [{"_id": d["_id"], "_rev": d["_rev"], "_deleted": True} for d in docs[2 * third :]]
    journal.add(created=[d["_id"] for d in new], originals=docs[third:])
    for batch in (new, edited, deleted):
        _write(db, batch)
    return len(docs)


def _write(db: Database, docs: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(docs), CHUNK):
        failed = [r for r in db.bulk_docs(docs[start : start + CHUNK]) if not r.ok]
        if failed:
            raise SystemExit(f"paths: writing {failed[0].id}: {failed[0].error} {failed[0].reason}")


def revert(db: Database, path: Path) -> int:
    """Undo a journal (idempotent: safe after a run that died half-way); documents written."""
    try:
        journal = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return 0
    originals = {d["_id"]: d for d in journal["originals"]}
    ids = [*originals, *journal["created"]]
    current: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        current.update(db.bulk_get(ids[start : start + CHUNK]))
    writes = [
        {**doc, "_rev": current[doc_id]["_rev"]} if doc_id in current else doc
        for doc_id, doc in originals.items()
    ]
    writes += [
        {"_id": i, "_rev": current[i]["_rev"], "_deleted": True}
        for i in journal["created"]
        if i in current and i not in originals
    ]
    _write(db, writes)
    path.unlink()
    return len(writes)
