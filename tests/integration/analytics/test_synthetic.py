"""A generated mid-size dataset, through the real ingestion core into CouchDB: for every
township and indicator, the analytics give exactly the numerator and denominator that an
independent computation from the generator's truth tables gives."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics import columns as C
from analytics.service import coverage_report
from analytics.source import CouchSource
from forms.build import build_forms
from forms.registry import load_registry
from forms.synthetic import Options, generate
from forms.synthetic.sink import build_ingestor
from server.accounts.scope import Scope
from sync.couch import CouchClient
from tests.integration.analytics.reference import expected, load_truth

TODAY = date(2026, 11, 28)
OPTIONS = Options(
    seed=5,
    counties=2,
    years=(2025, 2026),
    children=600,
    duplicates=0.03,
    edits=0.03,
    late=0.03,
    invalid=0.03,
)


@pytest.mark.parametrize("periods", [("2026-Q3", "2025", "2026-02", "2025-11-15..2026-03-14")])
def test_every_township_and_indicator_matches_the_truth(
    couch: CouchClient, prefix: str, tmp_path: Path, periods: tuple[str, ...]
) -> None:
    forms_dir = tmp_path / "forms"
    build_forms(forms_dir, odk_validate=False)
    ingestor = build_ingestor(couch, prefix, forms_dir, load_registry(), today=lambda: TODAY)
    generate(
        OPTIONS, out_dir=tmp_path / "demo", ingestor=ingestor, forms_dir=forms_dir, today=TODAY
    )
    children = load_truth(tmp_path / "demo" / "truth")
    source = CouchSource(couch, prefix, tmp_path / "cache")
    checked = 0
    for label in periods:
        report = coverage_report(period=label, scope=Scope("analyst", None), source=source)
        truth = expected(children, report.period.start, report.period.end)
        towns = report.table.loc[report.table[C.LEVEL] == "township"]
        got = {
            (r[C.TOWNSHIP], r[C.INDICATOR]): [int(r[C.NUMERATOR]), int(r[C.DENOMINATOR])]
            for r in towns.to_dict("records")
            if r[C.DENOMINATOR] or r[C.NUMERATOR]
        }
        assert got == {k: v for k, v in truth.items() if v[1]}, label
        assert {i for _, i in truth} <= {i.id for i in report.indicators}
        checked += sum(v[1] for v in truth.values())
    assert checked > 5000  # children counted in some denominator, over the periods
