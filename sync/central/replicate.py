"""Township replicas: CouchDB's own replication between the central CouchDB and a
supervisor's local CouchDB, and a deterministic rule for the conflicts it brings.

Both directions go through the design-document filter `cradle/by_township` with
`query_params` (the one filtered replication that works on PouchDB Server as on Apache
CouchDB 3; `selector` crashes PouchDB Server): down, the central documents of the
supervisor's townships or counties; up, what the supervisor's side holds for them.
The replication documents live in the LOCAL server's `_replicator`, so the local server
pulls and pushes whenever it is up and resumes from CouchDB's own checkpoints after
being offline.

The conflicts replication brings are found and resolved in `sync.central.conflicts`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sync.couch import CouchClient, CouchSettings, Database
from sync.errors import CouchConflict, ReplicationError

DESIGN_ID = "_design/cradle"
FILTER_NAME = "by_township"
FILTER = f"cradle/{FILTER_NAME}"
REPLICATOR = "_replicator"
DOC_PREFIX = "cradle-"

#: ES5 only: it runs in PouchDB Server's Node, CouchDB 3's QuickJS and SpiderMonkey alike.
FILTER_JS = """function (doc, req) {
  if (doc._id.indexOf('_design/') === 0 || doc._id.indexOf('_local/') === 0) { return false; }
  var q = req.query || {};
  var townships = q.townships ? String(q.townships).split(',') : [];
  var counties = q.counties ? String(q.counties).split(',') : [];
  if (doc.township_code && townships.indexOf(String(doc.township_code)) !== -1) { return true; }
  if (doc.county_code && counties.indexOf(String(doc.county_code)) !== -1) { return true; }
  return false;
}"""


@dataclass(frozen=True)
class Area:
    """Which documents a replica carries: townships (9 digits) and/or counties (6)."""

    townships: tuple[str, ...] = ()
    counties: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.townships and not self.counties:
            raise ReplicationError("a replica needs at least one township or county")
        for code in self.townships:
            if not re.fullmatch(r"[0-9]{9}", code):
                raise ReplicationError(f"township codes have 9 digits: {code!r}")
        for code in self.counties:
            if not re.fullmatch(r"[0-9]{6}", code):
                raise ReplicationError(f"county codes have 6 digits: {code!r}")

    def query_params(self) -> dict[str, str]:
        return {"townships": ",".join(self.townships), "counties": ",".join(self.counties)}

    def matches(self, doc: Mapping[str, Any]) -> bool:
        """What the filter function decides, in Python (for tests and reports)."""
        return doc.get("township_code") in self.townships or doc.get("county_code") in self.counties

    @property
    def key(self) -> str:
        text = ",".join(self.townships) + "|" + ",".join(self.counties)
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:10]


def ensure_filter(db: Database) -> bool:
    """Install `cradle/by_township` in `db`, keeping anything else in that design
    document; True when it was written."""
    for _ in range(5):
        current = db.get(DESIGN_ID) or {"_id": DESIGN_ID}
        filters = dict(current.get("filters") or {})
        if filters.get(FILTER_NAME) == FILTER_JS and current.get("language", "javascript") == (
            "javascript"
        ):
            return False
        filters[FILTER_NAME] = FILTER_JS
        try:
            db.put({**current, "language": "javascript", "filters": filters})
        except CouchConflict:
            continue
        return True
    raise ReplicationError(f"could not install {FILTER} in {db.name}: kept conflicting")


def split_db_url(url: str) -> tuple[CouchSettings, str | None]:
    """`http://user:pw@host:5984/db` -> (server settings, "db"); no path -> (settings, None)."""
    parts = urlsplit(url)
    name = parts.path.strip("/") or None
    server = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return CouchSettings.from_url(server), name


@dataclass(frozen=True)
class Replica:
    """A supervisor's replica: the local database and the area it carries."""

    name: str
    area: Area
    central_url: str  # the central database URL as the local server reaches it
    local_url: str  # the local database URL as the local server reaches it

    @property
    def down_id(self) -> str:
        return f"{DOC_PREFIX}down-{self.name}"

    @property
    def up_id(self) -> str:
        return f"{DOC_PREFIX}up-{self.name}"

    def documents(self, *, continuous: bool) -> list[dict[str, Any]]:
        """The two replication documents (down first)."""
        common = {
            "filter": FILTER,
            "query_params": self.area.query_params(),
            "continuous": continuous,
            "cradle": {"area": self.area.query_params(), "replica": self.name},
        }
        return [
            {"_id": self.down_id, "source": self.central_url, "target": self.local_url, **common},
            {"_id": self.up_id, "source": self.local_url, "target": self.central_url, **common},
        ]


def setup(
    central: Database,
    local: Database,
    replica: Replica,
    *,
    continuous: bool,
) -> list[dict[str, Any]]:
    """Start the two replications, run by the local server.

    Continuous: replication documents in the local `_replicator`, which the server
    restarts by itself after being down (a document with other settings is updated on
    CouchDB 3; PouchDB Server cannot change a running one and says so). One-shot: `_replicate`
    on the local server, down then up; the answers are returned.
    """
    local.ensure(member_roles=["cradle"], admin_roles=["_admin"])
    ensure_filter(central)
    ensure_filter(local)
    docs = replica.documents(continuous=continuous)
    if not continuous:
        results = []
        for doc in docs:
            body = {k: v for k, v in doc.items() if k not in ("_id", "cradle", "continuous")}
            results.append(local.client.replicate(body.pop("source"), body.pop("target"), **body))
        return results
    replicator = local.client.db(REPLICATOR)
    pouchdb = is_pouchdb_server(local.client)
    written = []
    for doc in docs:
        current = replicator.get(doc["_id"])
        if current is None:
            replicator.put(doc)
            written.append(doc)
            continue
        wanted = {k: v for k, v in doc.items() if k != "_id"}
        same = {k: current.get(k) for k in wanted} == wanted
        running = current.get("_replication_state") not in ("error", "failed", "completed")
        if same and running:
            written.append(current)
            continue
        if pouchdb and running:
            raise ReplicationError(
                f"{doc['_id']} already runs with other settings, and PouchDB Server can "
                "neither change nor stop a running replication document: choose another --name"
            )
        # CouchDB 3 restarts the job when its document changes; a stopped job on PouchDB
        # Server can be deleted and written again.
        if pouchdb:
            replicator.delete_doc(doc["_id"], current["_rev"])
            replicator.put(doc)
        else:
            replicator.put({**doc, "_rev": current["_rev"]})
        written.append(doc)
    return written


def is_pouchdb_server(client: CouchClient) -> bool:
    """PouchDB Server answers `GET /` with an `express-pouchdb` greeting."""
    info = client.server_info()
    return "express-pouchdb" in info or "PouchDB" in str((info.get("vendor") or {}).get("name"))


def remove(local_client: CouchClient, name: str) -> int:
    """Stop a replica's continuous replications; the number of documents removed.

    PouchDB Server 4.2 crashes when a running replication document is deleted (its
    replicator then fails to record the cancelled job), so there a running replica is
    refused with a `ReplicationError` rather than taking the server down.
    """
    replicator = local_client.db(REPLICATOR)
    pouchdb = is_pouchdb_server(local_client)
    found = [
        doc
        for doc_id in (f"{DOC_PREFIX}down-{name}", f"{DOC_PREFIX}up-{name}")
        if (doc := replicator.get(doc_id)) is not None
    ]
    running = [d["_id"] for d in found if d.get("_replication_state") == "triggered"]
    if pouchdb and running:
        raise ReplicationError(
            f"PouchDB Server cannot stop the running replications {', '.join(running)} "
            "without crashing; stop that server, or use Apache CouchDB"
        )
    for doc in found:
        replicator.delete_doc(doc["_id"], doc["_rev"])
    return len(found)


@dataclass
class ReplicationStatus:
    id: str
    direction: str
    state: str
    source: str
    target: str
    area: dict[str, str]
    docs_written: int | None = None
    error: str | None = None
    updated: str | None = None


def _redact(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def status(local_client: CouchClient) -> list[ReplicationStatus]:
    """Cradle's replications on the local server, with their state: from
    `/_scheduler/docs` on Apache CouchDB 3, else from the document's own
    `_replication_state` (PouchDB Server, CouchDB 2)."""
    replicator = local_client.db(REPLICATOR)
    if not replicator.exists():
        return []
    found = []
    for row in replicator.all_docs(start_key=DOC_PREFIX, end_key=DOC_PREFIX + "\ufff0"):
        doc = replicator.get(row["id"])
        if doc is None:
            continue
        direction = "down" if doc["_id"].startswith(f"{DOC_PREFIX}down-") else "up"
        item = ReplicationStatus(
            id=doc["_id"],
            direction=direction,
            state=doc.get("_replication_state") or "pending",
            source=_redact(_url_of(doc.get("source"))),
            target=_redact(_url_of(doc.get("target"))),
            area=dict(doc.get("query_params") or {}),
            error=doc.get("_replication_state_reason"),
            updated=doc.get("_replication_state_time"),
        )
        stats = doc.get("_replication_stats") or {}
        item.docs_written = stats.get("docs_written")
        job = local_client.scheduler_doc(REPLICATOR, doc["_id"])
        if job is not None:
            item.state = job.get("state") or item.state
            info = job.get("info") or {}
            item.docs_written = info.get("docs_written", item.docs_written)
            item.error = (info.get("error") if isinstance(info, dict) else None) or item.error
            item.updated = job.get("last_updated") or item.updated
        found.append(item)
    return found


def _url_of(value: Any) -> str:
    if isinstance(value, dict):  # CouchDB's object form {"url": ..., "headers": ...}
        return str(value.get("url") or "")
    return str(value or "")
