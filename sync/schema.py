"""Which CouchDB databases and Mango indexes Cradle keeps, and how to create or check them."""

from __future__ import annotations

from dataclasses import dataclass

from sync import audit
from sync.couch import CouchClient

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
            IndexSpec("by-instance", ("instance_id",)),
            IndexSpec("by-form-township", ("form_id", "township_code")),
            IndexSpec("by-child", ("child_id",)),
            IndexSpec("by-received", ("received_at",)),
        ),
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
    missing_indexes: tuple[str, ...]
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


def check_schema(client: CouchClient, prefix: str) -> list[DatabaseStatus]:
    """Report, without changing anything, which databases and indexes exist."""
    existing = set(client.all_dbs())
    report = []
    for spec in DATABASES:
        name = db_name(prefix, spec.key)
        if name not in existing:
            report.append(DatabaseStatus(name, False, tuple(i.name for i in spec.indexes), None))
            continue
        db = client.db(name)
        present = {ix["name"] for ix in db.indexes()}
        missing = tuple(i.name for i in spec.indexes if i.name not in present)
        report.append(DatabaseStatus(name, True, missing, db.info().get("doc_count")))
    return report
