"""Which stored submission holds a given instanceID, by key: a CouchDB view over versions.

An edit names the version it replaces (`deprecatedID`), which is the document's `_id`
only for a first edit. Every version of every submission is a key of one view, so
"who holds this version, and is it their current one?" is one key lookup whatever the
size of the database (a Mango `$elemMatch` on `versions` has no index and scans).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.couch import Database
from sync.errors import CouchUnavailable

DESIGN_ID = "_design/cradle-versions"
DDOC = "cradle-versions"
VIEW = "by_version"

#: ES5 only: it runs in PouchDB Server's Node, CouchDB 3's QuickJS and SpiderMonkey alike.
#: The value says whether the version is the document's current one.
MAP_JS = """function (doc) {
  if (doc.type !== 'submission' || !doc.versions || !doc.versions.length) { return; }
  for (var i = 0; i < doc.versions.length; i++) {
    var v = doc.versions[i];
    if (v && typeof v.instance_id === 'string') {
      emit(v.instance_id, v.instance_id === doc.instance_id ? 1 : 0);
    }
  }
}"""

DESIGN: dict[str, Any] = {"language": "javascript", "views": {VIEW: {"map": MAP_JS}}}


@dataclass(frozen=True)
class Holders:
    """The stored documents that know one instanceID."""

    current: dict[str, Any] | None  # whose current version it is
    any: dict[str, Any] | None  # that has it at all: as a version, or as its `_id`


def holders(db: Database, instance_id: str) -> Holders:
    """Who holds `instance_id`: a document read by id first (a first edit names the
    original, which is the `_id`), then one key lookup in the versions view."""
    direct = db.get(instance_id)
    if direct is not None and direct.get("type") != "submission":
        direct = None
    if direct is not None and direct.get("instance_id") == instance_id:
        return Holders(direct, direct)
    rows = db.view(DDOC, VIEW, key=instance_id, include_docs=True)
    docs = [row["doc"] for row in rows if isinstance(row.get("doc"), dict)]
    current = next((d for d in docs if d.get("instance_id") == instance_id), None)
    return Holders(current, current or direct or (docs[0] if docs else None))


def refresh_version_index(
    db: Database, progress: Callable[[str], None] | None = None, *, attempts: int = 120
) -> None:
    """Bring the versions view up to date (CouchDB builds a view when it is read), so
    that the first stale edit after an upgrade or a bulk load does not wait for it.
    A build longer than one request's timeout goes on in the server; ask again."""
    for _ in range(attempts):
        try:
            db.view(DDOC, VIEW, limit=1)
        except CouchUnavailable as exc:
            if exc.error != "ReadTimeout":
                raise
            if progress is not None:
                progress(f"{db.name}: {DESIGN_ID} still building")
            continue
        if progress is not None:
            progress(f"{db.name}: {DESIGN_ID} up to date")
        return
    raise CouchUnavailable("GET", f"{db.name}/{DESIGN_ID}", None, "ReadTimeout", "still building")
