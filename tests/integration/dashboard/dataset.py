"""A small known dataset, loaded through the ingestion core, with its expected numbers.

Immunization records in two townships of county 450123 and one of county 450124:

=====  ==========  =========  ===========  ==========
child  township    born       dose given   on
=====  ==========  =========  ===========  ==========
K1     450123101   2026-03-01 bcg hepb1    2026-03-02
K2     450123101   2026-04-10 hepb1        2026-04-11
K5     450123101   2026-08-01 bcg hepb1    2026-08-02
K3     450123102   2026-05-01 bcg hepb1    2026-05-02
K4     450124101   2026-05-01 bcg hepb1    2026-05-02
=====  ==========  =========  ===========  ==========

`imm_bcg` (children aged 1 to 13 months on E; numerator: bcg on or before E):

- 2026-Q3 (E = 2026-09-30): 450123101 2/3 (K1, K5 of K1, K2, K5), 450123102 1/1,
  county 450123 3/4; 450124101 1/1.
- 2026-Q2 (E = 2026-06-30): 450123101 1/2 (K5 not born), 450123102 1/1, county 2/3.

A second record of K3 (450123102, 2026-07-05, hepb1) says the child is a boy where the first
says a girl: one child with conflicting records, no change to `imm_bcg`.

Two refused submissions: an unknown township of county 450123 (stays refused), and one
sent by a worker of 450123101 for 450123102 (`outside_scope`; refused again when re-processed,
accepted once the worker is given 450123102 too).
Names are distinctive so tests can look for them in every page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.core.ingest import get_ingestor
from sync.ingest.store import Incoming, Outcome
from tests.support.openrosa import fill

CHILD_NAMES = ("甲测试儿", "乙测试儿", "丙测试儿", "丁测试儿", "戊测试儿", "己测试儿")
MOTHER_NAME = "测试母亲"
A, B, OTHER = "450123101", "450123102", "450124101"

CHILDREN = [
    # child_id, township, dob, doses, vaccination date, name
    ("K1000000001", A, "2026-03-01", "bcg hepb1", "2026-03-02", CHILD_NAMES[0]),
    ("K2000000002", A, "2026-04-10", "hepb1", "2026-04-11", CHILD_NAMES[1]),
    ("K5000000005", A, "2026-08-01", "bcg hepb1", "2026-08-02", CHILD_NAMES[2]),
    ("K3000000003", B, "2026-05-01", "bcg hepb1", "2026-05-02", CHILD_NAMES[3]),
    ("K4000000004", OTHER, "2026-05-01", "bcg hepb1", "2026-05-02", CHILD_NAMES[4]),
]

EXPECTED_BCG = {
    "2026-Q3": {A: (2, 3), B: (1, 1), "total_450123": (3, 4), OTHER: (1, 1)},
    "2026-Q2": {A: (1, 2), B: (1, 1), "total_450123": (2, 3)},
}


def _immunization(forms: Path, child: tuple, instance_id: str, sex: str = "female") -> bytes:
    child_id, township, dob, doses, day, name = child
    values = {
        "start": f"{day}T09:00:00.000+08:00",
        "end": f"{day}T09:12:00.000+08:00",
        "today": day,
        "deviceid": "collect:tablet01",
        "county": township[:6],
        "township": township,
        "village": "弄岗村",
        "child_id": child_id,
        "child_name": name,
        "child_sex": sex,
        "child_dob": dob,
        "vaccination_date": day,
        "doses_given": doses,
        "aefi": "no",
    }
    if "hepb1" in doses:
        values["hepb1_within_24h"] = "yes"
    return fill(forms / "immunization.xml", values, instance_id)


def _incoming(xml: bytes, day: str, submitter: str = "worker") -> Incoming:
    received = datetime.fromisoformat(day).replace(hour=4, tzinfo=UTC) + timedelta(days=1)
    return Incoming(xml=xml, source="openrosa", submitter=submitter, received_at=received)


def load(forms: Path) -> dict[str, Outcome]:
    """Ingest the dataset into the configured Cradle databases; outcomes by name."""
    ingestor = get_ingestor()
    out: dict[str, Outcome] = {}
    for n, child in enumerate(CHILDREN, 1):
        xml = _immunization(forms, child, f"uuid:00000000-0000-4000-8000-{n:012d}")
        out[child[0]] = outcome = ingestor.ingest(_incoming(xml, child[4]))
        assert outcome.accepted, outcome
    again = ("K3000000003", B, "2026-05-01", "hepb1", "2026-07-05", CHILD_NAMES[3])
    xml = _immunization(forms, again, "uuid:00000000-0000-4000-8000-000000000031", sex="male")
    out["K3_again"] = ingestor.ingest(_incoming(xml, again[4]))
    assert out["K3_again"].accepted, out["K3_again"]
    unknown = ("K6000000006", "450123199", "2026-06-01", "bcg", "2026-09-10", CHILD_NAMES[5])
    xml = _immunization(forms, unknown, "uuid:00000000-0000-4000-8000-000000000101")
    out["unknown_township"] = ingestor.ingest(_incoming(xml, "2026-09-10"))
    stray = ("K7000000007", B, "2026-06-01", "bcg hepb1", "2026-09-12", CHILD_NAMES[5])
    xml = _immunization(forms, stray, "uuid:00000000-0000-4000-8000-000000000102")
    out["outside_scope"] = ingestor.ingest(
        _incoming(xml, "2026-09-12"), allowed_townships=frozenset({A})
    )
    for key in ("unknown_township", "outside_scope"):
        assert not out[key].accepted, out[key]
    return out
