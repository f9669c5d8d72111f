"""Test world for the Central sync: the Central double with the real built forms, pyodk
and Cradle configuration files, and Cradle databases on the real CouchDB-compatible server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forms.catalog import FormCatalog
from server.core.places import registry_places
from sync.central.config import Source, load_sources
from sync.couch import CouchClient, Database
from sync.ingest.store import Ingestor
from sync.schema import DATABASES, db_name, ensure_schema
from tests.conftest import unique_name
from tests.doubles.central import CentralDouble
from tests.integration.openrosa.conftest import IMMUNIZATION_VALUES
from tests.support.openrosa import fill

EMAIL, PASSWORD = "sync@example.org", "central-pass-2026"
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 28)
TOWNSHIP, COUNTY = "450123101", "450123"
OTHER_TOWNSHIP = "450123102"
REPO = Path(__file__).resolve().parents[2]

BASE_VALUES = {**IMMUNIZATION_VALUES, "gps": "22.501736 109.530718 1160.2 12.4"}


def child_id(n: int) -> str:
    return f"4501232025{n:08d}"


@dataclass
class CentralWorld:
    """The double, its project and immunization form, and the files pyodk and Cradle read."""

    double: CentralDouble
    forms_dir: Path
    tmp: Path
    project_id: int = 0
    form_id: str = "immunization"
    clock: datetime = T0
    ids: list[str] = field(default_factory=list)

    @property
    def xform(self) -> Path:
        return self.forms_dir / "immunization.xml"

    def instance(self, instance_id: str | None = None, **values: str) -> bytes:
        return fill(self.xform, {**BASE_VALUES, **values}, instance_id)

    def tick(self, seconds: float = 1.0) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def submit(self, n: int = 1, **values: str) -> list[str]:
        """n valid submissions, one second apart, children numbered by position."""
        made = []
        for _ in range(n):
            number = len(self.ids) + 1
            iid = f"uuid:{uuid.UUID(int=number)}"
            xml = self.instance(iid, **{"child_id": child_id(number), **values})
            self.double.submit(self.project_id, self.form_id, xml, at=self.tick())
            self.ids.append(iid)
            made.append(iid)
        return made

    def bulk(self, n: int, *, spacing_ms: int = 1) -> list[str]:
        """n submissions, fast: the same XML shape with its own ids, `spacing_ms` apart."""
        made = []
        template = self.instance("uuid:TEMPLATE")
        with self.double.store.lock:
            project = self.double.store.project(self.project_id)
            actor = self.double.store.submitter(project, None)
            for _ in range(n):
                number = len(self.ids) + 1
                iid = f"uuid:{uuid.UUID(int=number)}"
                xml = template.replace(b"uuid:TEMPLATE", iid.encode()).replace(
                    BASE_VALUES["child_id"].encode(), child_id(number).encode()
                )
                self.clock += timedelta(milliseconds=spacing_ms)
                self.double.store.receive(
                    project, xml, {}, actor, form_id=self.form_id, at=self.clock
                )
                self.ids.append(iid)
                made.append(iid)
        return made

    def edit(self, original: str, current: str, **values: str) -> str:
        new_id = f"uuid:{uuid.uuid4()}"
        number = self.ids.index(original) + 1
        xml = self.instance(
            new_id, **{"child_id": child_id(number), **values, "deprecatedID": current}
        )
        self.double.submit(self.project_id, self.form_id, xml, at=self.tick())
        return new_id

    def review(self, instance_id: str, state: str) -> None:
        self.double.set_review_state(
            self.project_id, self.form_id, instance_id, state, at=self.tick()
        )

    def delete(self, instance_id: str) -> None:
        self.double.soft_delete(self.project_id, self.form_id, instance_id, at=self.tick())

    def write_config(self, *, password: str = PASSWORD, **options: Any) -> Path:
        """pyodk's file and Cradle's sources file; returns the sources file."""
        pyodk = self.tmp / "pyodk_config.toml"
        pyodk.write_text(
            f'[central]\nbase_url = "{self.double.base_url}"\nusername = "{EMAIL}"\n'
            f'password = "{password}"\ndefault_project_id = {self.project_id}\n'
        )
        extra = "".join(f"{key} = {value!r}\n" for key, value in options.items())
        sources = self.tmp / "central.toml"
        sources.write_text(
            "[[source]]\n"
            'name = "gx"\n'
            'pyodk_config = "pyodk_config.toml"\n'
            f"project_id = {self.project_id}\n"
            f"{extra}"
            "[source.forms]\n"
            'immunization = "immunization"\n'
        )
        return sources

    def source(self, **options: Any) -> Source:
        return load_sources(self.write_config(**options))[0]


@pytest.fixture
def world(built_forms: Path, tmp_path: Path) -> Iterator[CentralWorld]:
    double = CentralDouble(clock=T0)
    double.add_user(EMAIL, PASSWORD)
    with double:
        w = CentralWorld(double, built_forms, tmp_path)
        w.project_id = double.add_project("Cradle Guangxi")
        double.add_form(w.project_id, w.xform.read_bytes(), at=T0)
        yield w
    assert double.errors == []


@dataclass
class CradleDbs:
    client: CouchClient
    prefix: str

    def db(self, key: str) -> Database:
        return self.client.db(db_name(self.prefix, key))

    @property
    def submissions(self) -> Database:
        return self.db("submissions")

    @property
    def quarantine(self) -> Database:
        return self.db("quarantine")

    @property
    def state(self) -> Database:
        return self.db("state")

    def ingestor(self, forms_dir: Path) -> Ingestor:
        return Ingestor(
            submissions=self.submissions,
            quarantine_db=self.quarantine,
            catalog=FormCatalog.from_dir(forms_dir),
            places=registry_places(),
            today=lambda: TODAY,
        )

    def env(self, forms_dir: Path, config: Path) -> dict[str, str]:
        """The environment of a `cradle` process working on these databases."""
        settings = self.client.settings
        return {
            **os.environ,
            "COUCHDB_URL": settings.url,
            "COUCHDB_USER": settings.username,
            "COUCHDB_PASSWORD": settings.password,
            "COUCHDB_DB_PREFIX": self.prefix,
            "CRADLE_FORMS_DIR": str(forms_dir),
            "CRADLE_CENTRAL_CONFIG": str(config),
            "CRADLE_LOG_LEVEL": "WARNING",
        }


def make_dbs(couch: CouchClient) -> CradleDbs:
    prefix = unique_name("central") + "_"
    ensure_schema(couch, prefix)
    return CradleDbs(couch, prefix)


def drop_dbs(dbs: CradleDbs) -> None:
    for spec in DATABASES:
        db = dbs.db(spec.key)
        if db.exists():
            db.delete()


@pytest.fixture
def dbs(couch: CouchClient) -> Iterator[CradleDbs]:
    made = make_dbs(couch)
    yield made
    drop_dbs(made)


def contents(db: Database) -> dict[str, dict]:
    """Every document minus `_rev` (and attachment positions), for comparing stores."""
    out = {}
    for row in db.iter_all_docs():
        doc = dict(row["doc"])
        if doc["_id"].startswith("_design/"):
            continue
        doc.pop("_rev", None)
        for stub in (doc.get("_attachments") or {}).values():
            stub.pop("revpos", None)
        out[doc["_id"]] = doc
    return out
