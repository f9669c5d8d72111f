"""ODK Central sync: N submissions served by the Central test double (in this process),
pulled into an empty CouchDB by a real `cradle sync central` process; against a raw
`_bulk_docs` load of the very same final documents into the same server.

A second figure loads the same documents into a database made by Cradle's own schema
(the sync's target has Mango indexes; PouchDB Server reads every design document
for every document written, which a bare database does not pay for)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result, couch_from_env
from forms.build import build_forms
from tests.doubles.central import CentralDouble
from tests.support.central_sync import EMAIL, PASSWORD, T0, CentralWorld, drop_dbs, make_dbs

ROOT = Path(__file__).resolve().parents[1]
BATCH = 500


def run(n: int = 20_000) -> list[Result]:
    couch = couch_from_env()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        forms_dir = tmp_path / "forms"
        build_forms(forms_dir)
        double = CentralDouble(clock=T0)
        double.add_user(EMAIL, PASSWORD)
        dbs = make_dbs(couch)
        baseline_db = couch.db(f"{dbs.prefix}baseline")
        schema = make_dbs(couch)
        try:
            with double:
                world = CentralWorld(double, forms_dir, tmp_path)
                world.project_id = double.add_project("Cradle benchmark")
                double.add_form(world.project_id, world.xform.read_bytes(), at=T0)
                world.bulk(n)
                config = world.write_config()
                start = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "cradle", "sync", "central", "--source", "gx"],
                    cwd=ROOT,
                    env=dbs.env(forms_dir, config),
                    capture_output=True,
                    text=True,
                    timeout=3600,
                )
                seconds = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"central benchmark: sync failed: {done.stderr.strip()[-300:]}")
            docs = [
                {k: v for k, v in d.items() if k != "_rev"}
                for d in dbs.submissions.iter_find({"type": "submission"}, batch=2000)
            ]
            if len(docs) != n:
                raise SystemExit(f"central benchmark: {len(docs)} documents, expected {n}")
            baseline_db.ensure(member_roles=["cradle"])
            start = time.perf_counter()
            for i in range(0, len(docs), BATCH):
                results = baseline_db.bulk_docs(docs[i : i + BATCH])
                assert all(r.ok for r in results)
            bulk_seconds = time.perf_counter() - start
            start = time.perf_counter()
            for i in range(0, len(docs), BATCH):
                results = schema.submissions.bulk_docs(docs[i : i + BATCH])
                assert all(r.ok for r in results)
            schema_seconds = time.perf_counter() - start
        finally:
            drop_dbs(schema)
            drop_dbs(dbs)
            if baseline_db.exists():
                baseline_db.delete()
    return [
        Result("central.sync", n / seconds, "submissions/s", n / bulk_seconds, n,
               f"baseline: _bulk_docs of the same final documents, batches of {BATCH}; goal 0.8"),
        Result("central.sync.schema", n / seconds, "submissions/s", n / schema_seconds, n,
               "baseline: the same load into a database with Cradle's indexes"),
    ]  # fmt: skip
