"""`cradle demo generate --couch`: the synthetic dataset through the real ingestion core.

Resends and corrected versions collapse onto one document per original submission, the
invalid ones land in quarantine, and the server's answers match the truth exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from forms.build import build_forms
from forms.registry import load_registry
from forms.synthetic import Options, generate
from forms.synthetic.sink import build_ingestor
from sync.couch import CouchClient, Database
from sync.schema import DATABASES, db_name
from tests.conftest import unique_name

TODAY = date(2026, 11, 28)
OPTIONS = Options(
    seed=11,
    townships=("451024101", "451024102", "450123101"),
    years=(2026,),
    children=180,
    duplicates=0.05,
    edits=0.05,
    late=0.05,
    invalid=0.05,
)


@pytest.fixture
def prefix(couch: CouchClient) -> Iterator[str]:
    name = unique_name("synthetic") + "_"
    yield name
    for spec in DATABASES:
        couch.db(db_name(name, spec.key)).delete()


def documents(db: Database) -> list[dict]:
    return [row["doc"] for row in db.iter_all_docs() if not row["id"].startswith("_design/")]


def test_a_loaded_dataset_matches_its_truth(
    couch: CouchClient, prefix: str, tmp_path: Path
) -> None:
    forms_dir = tmp_path / "forms"
    build_forms(forms_dir, odk_validate=False)
    ingestor = build_ingestor(couch, prefix, forms_dir, load_registry(), today=lambda: TODAY)
    out = tmp_path / "demo"

    result = generate(OPTIONS, out_dir=out, ingestor=ingestor, forms_dir=forms_dir, today=TODAY)

    arrivals = pd.read_parquet(out / "truth" / "arrivals.parquet")
    forms = {f: pd.read_parquet(out / "truth" / f"{f}.parquet") for f in arrivals.form_id.unique()}
    assert {"created", "updated", "unchanged", "quarantined"} <= set(arrivals.expected)
    assert result.couch is not None
    assert dict(result.couch.results) == dict(Counter(arrivals.expected))

    accepted = documents(couch.db(db_name(prefix, "submissions")))
    originals = pd.concat(t[(t.version == 1) & ~t.invalid] for t in forms.values())
    assert len(accepted) == len(originals)
    assert {d["_id"] for d in accepted} == set(originals.instance_id)
    counted = pd.concat(t[t.counts] for t in forms.values()).set_index("original_id")
    for doc in accepted:
        latest = counted.loc[doc["_id"]]
        assert doc["instance_id"] == latest.instance_id
        assert doc["edits"] == latest.version - 1
        assert doc["data"]["village"] == latest.village
        assert doc["township_code"] == latest.township_code

    held = documents(couch.db(db_name(prefix, "quarantine")))
    invalid = pd.concat(t[t.invalid] for t in forms.values()).set_index("instance_id")
    assert len(held) == len(invalid)
    for doc in held:
        assert [r["code"] for r in doc["reasons"]] == [invalid.loc[doc["instance_id"], "reason"]]

    again = generate(OPTIONS, ingestor=ingestor, forms_dir=forms_dir, today=TODAY)
    assert again.couch is not None
    assert again.couch.results["created"] == again.couch.results["updated"] == 0
    assert len(documents(couch.db(db_name(prefix, "submissions")))) == len(originals)
