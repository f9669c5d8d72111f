"""Property-based: whatever bytes arrive, ingestion either understands them or refuses them
with a reason. It never fails with an unhandled exception."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms.contract import CONTRACTS
from sync.ingest.normalize import Places, normalize, validate
from sync.ingest.parse import parse_instance
from sync.ingest.problems import CATALOG, SubmissionRejected

PLACES = Places.from_pairs({"450123101": "450123"})
TODAY = date(2026, 11, 28)

VALID = (
    b'<data id="immunization" version="2026112801"><location><county>450123</county>'
    b"<township>450123101</township><village>v</village></location><child>"
    b"<child_id>450123202505010001</child_id><child_name>x</child_name>"
    b"<child_sex>male</child_sex><child_dob>2025-05-01</child_dob></child><visit>"
    b"<vaccination_date>2025-11-03</vaccination_date><doses_given>hepb3</doses_given>"
    b"<aefi>no</aefi></visit><meta><instanceID>uuid:6f1d2a34-0c5e-4a8e-9f3b-1b2c3d4e5f60"
    b"</instanceID></meta></data>"
)


def _judge(raw: bytes) -> None:
    try:
        parsed = parse_instance(raw, max_bytes=64 * 1024)
    except SubmissionRejected as rejected:
        assert rejected.problems
        assert all(p.code in CATALOG for p in rejected.problems)
        return
    contract = CONTRACTS.get(parsed.form_id)
    if contract is None:
        return
    data, _, problems = normalize(parsed.fields, contract)
    problems += validate(data, contract, PLACES, TODAY)
    assert all(p.code in CATALOG and p.status >= 400 for p in problems)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_are_parsed_or_refused(raw: bytes) -> None:
    _judge(raw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_valid_submissions_are_parsed_or_refused(data: st.DataObject) -> None:
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = data.draw(st.integers(0, 255))
        if op == "replace":
            raw[pos] = byte
        elif op == "insert":
            raw.insert(pos, byte)
        elif len(raw) > 1:
            del raw[pos]
    _judge(bytes(raw))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([f.name for f in CONTRACTS["nutrition_pack"]]),
        st.text(max_size=30),
        max_size=20,
    )
)
def test_any_field_values_normalize_or_give_problems(fields: dict[str, str]) -> None:
    contract = CONTRACTS["nutrition_pack"]
    data, _, problems = normalize(fields, contract)
    problems += validate(data, contract, PLACES, TODAY)
    assert all(p.code in CATALOG for p in problems)


def test_the_valid_example_is_accepted() -> None:
    parsed = parse_instance(VALID)
    contract = CONTRACTS["immunization"]
    data, _, problems = normalize(parsed.fields, contract)
    assert problems == []
    assert validate(data, contract, PLACES, TODAY) == []
    assert data["doses_given"] == ["hepb3"]
