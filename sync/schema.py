"""Which CouchDB databases and Mango indexes Cradle keeps, and how to create or check them."""

from __future__ import annotations

from dataclasses import dataclass

from sync import audit
from sync.couch import CouchClient, Database
from sync.ingest import versions

# The CouchDB role Cradle's own service account (or a server admin) carries.
SERVICE_ROLE = "cradle"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class DatabaseSpec:
    key: str
    purpose: str
    indexes: tuple[IndexSpec, ...] = ()
    design: tuple[tuple[str, dict], ...] = ()


DATABASES: tuple[DatabaseSpec, ...] = (
    DatabaseSpec(
        "submissions",
        "accepted submissions, one canonical document each",
        (
            IndexSpec("by-form-township", ("form_id", "township_code")),
            IndexSpec("by-child", ("child_id",)),
            IndexSpec("by-received", ("received_at",)),
        ),
        # Every version's instanceID, for edits and stale edits (one key lookup). PouchDB
        # Server reads every design document on every write: keep views in this one.
        design=((versions.DESIGN_ID, versions.DESIGN),),
    ),
    DatabaseSpec(
        "quarantine",
        "rejected submissions kept whole with their reasons",
        (IndexSpec("by-received", ("received_at",)),),
    ),
    DatabaseSpec("state", "sync checkpoints, locks and run records"),
    DatabaseSpec("audit", "append-only audit trail", design=(("_design/audit", audit.DESIGN),)),
)


def db_name(prefix: str, key: str) -> str:
    """The CouchDB name of one of Cradle's databases, e.g. `cradle_submissions`."""
    if key not in {spec.key for spec in DATABASES}:
        raise KeyError(key)
    return f"{prefix}{key}"


@dataclass(frozen=True)
class DatabaseStatus:
    name: str
    exists: bool
    missing_indexes: tuple[str, ...]  # Mango indexes and design documents (views)
    doc_count: int | None

    @property
    def ready(self) -> bool:
        return self.exists and not self.missing_indexes


def ensure_schema(client: CouchClient, prefix: str) -> list[DatabaseStatus]:
    """Create every database (with `_security`) and index that is missing. Idempotent."""
    for spec in DATABASES:
        db = client.db(db_name(prefix, spec.key))
        db.ensure(member_roles=[SERVICE_ROLE], admin_roles=["_admin"])
        present = {ix["name"] for ix in db.indexes()}
        for index in spec.indexes:
            if index.name not in present:
                db.create_index(index.fields, name=index.name, ddoc=f"cradle-{index.name}")
        for ddoc_id, body in spec.design:
            db.ensure_design(ddoc_id, body)
    return check_schema(client, prefix)


def _current(db: Database, ddoc_id: str, body: dict) -> bool:
    """Whether the design document exists and equals what Cradle installs."""
    stored = db.get(ddoc_id)
    return stored is not None and {k: v for k, v in stored.items() if k != "_rev"} == {
        "_id": ddoc_id,
        **body,
    }


def check_schema(client: CouchClient, prefix: str) -> list[DatabaseStatus]:
    """Report, without changing anything, which databases, indexes and design documents
    (missing or out of date) there are."""
    existing = set(client.all_dbs())
    report = []
    for spec in DATABASES:
        name = db_name(prefix, spec.key)
        if name not in existing:
            wanted = (*(i.name for i in spec.indexes), *(ddoc_id for ddoc_id, _ in spec.design))
            report.append(DatabaseStatus(name, False, wanted, None))
            continue
        db = client.db(name)
        present = {ix["name"] for ix in db.indexes()}
        missing = tuple(i.name for i in spec.indexes if i.name not in present)
        missing += tuple(
            ddoc_id for ddoc_id, body in spec.design if not _current(db, ddoc_id, body)
        )
        report.append(DatabaseStatus(name, True, missing, db.info().get("doc_count")))
    return report
