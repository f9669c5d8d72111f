"""Central OData rows read as instance text, from a real Central page (spec sample)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.central.rows import (
    canonical_bytes,
    content_md5,
    flatten,
    geo_text,
    parse_row,
    row_meta,
    to_text,
)
from sync.ingest.problems import SubmissionRejected

SAMPLE = Path(__file__).parent / "data" / "central-odata-sample.json"


@pytest.fixture(scope="module")
def page() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def test_a_row_flattens_by_field_name_with_text_values(page: dict) -> None:
    fields, paths = flatten(page["value"][0])
    assert fields == {
        "start": "2025-06-03T17:03:40.034+08:00",
        "end": "2025-06-03T17:20:43.034+08:00",
        "today": "2025-06-03",
        "deviceid": "collect:tKoirYeECGgRuZa4",
        "county": "451024",
        "township": "451024201",
        "village": "弄岗村 (changed)",
        "child_id": "451024202412030012",
        "child_name": "梁宇",
        "child_sex": "male",
        "child_dob": "2024-12-03",
        "vaccination_date": "2025-06-03",
        "doses_given": "hepb3 mpsva1",
        "aefi": "no",
        "gps": "25.307216 105.916529 668.1 7.3",
        "instanceID": "uuid:cc7706ec-df01-47b9-9ef0-375099225df1",
    }
    assert paths["doses_given"] == "visit/doses_given"
    assert paths["instanceID"] == "meta/instanceID"
    assert "hepb1_within_24h" not in fields  # null: unanswered


def test_an_edited_row_keeps_its_original_id_apart_from_the_current_version(page: dict) -> None:
    row = page["value"][0]
    parsed = parse_row(row, "immunization")
    meta = row_meta(row)
    assert (parsed.form_id, parsed.form_version, parsed.deprecated_id) == (
        "immunization",
        "2026112801",
        None,
    )
    assert parsed.instance_id == "uuid:cc7706ec-df01-47b9-9ef0-375099225df1"
    assert meta.id == "uuid:00ac0e1e-d915-4844-a0f1-438b45bebe4c"
    assert (meta.edits, meta.review_state, meta.submitter_id) == (1, "edited", "24")
    assert meta.changed_at == "2026-11-28T13:58:23.541Z"
    plain = row_meta(page["value"][2])
    assert (plain.updated_at, plain.changed_at) == (None, "2026-11-28T13:58:23.450Z")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (35, "35"),
        (3.5, "3.5"),
        (0.0001, "0.0001"),
        ("hepb3 mpsva1", "hepb3 mpsva1"),
        (None, None),
        (False, "false"),
        ({"type": "Point", "coordinates": [109.5, 22.5]}, "22.5 109.5"),
        (
            {"type": "Point", "coordinates": [109.5, 22.5], "properties": {"accuracy": 4}},
            "22.5 109.5 0 4",
        ),
    ],
)
def test_values_become_the_text_an_instance_carries(value: object, text: str | None) -> None:
    assert to_text(value) == text


def test_traces_and_shapes_are_written_as_odk_does() -> None:
    trace = {"type": "LineString", "coordinates": [[109.5, 22.5, 10], [109.6, 22.6, 11]]}
    assert geo_text(trace) == "22.5 109.5 10;22.6 109.6 11"
    shape = {"type": "Polygon", "coordinates": [[[1, 2], [3, 4], [1, 2]]]}
    assert geo_text(shape) == "2 1;4 3;2 1"


def test_the_same_name_in_two_groups_is_refused() -> None:
    row = {"a": {"x": "1"}, "b": {"x": "2"}, "meta": {"instanceID": "uuid:12345678"}}
    with pytest.raises(SubmissionRejected) as refused:
        flatten(row)
    assert [(p.code, p.field) for p in refused.value.problems] == [("duplicate_field", "x")]


def test_an_enormous_value_is_refused_without_being_typed() -> None:
    with pytest.raises(SubmissionRejected) as refused:
        flatten({"village": "x" * 20_000})
    assert [p.code for p in refused.value.problems] == ["too_long"]


def test_a_row_without_a_usable_id_is_refused() -> None:
    with pytest.raises(SubmissionRejected) as refused:
        parse_row({"__id": "", "a": "1"}, "immunization")
    assert [p.code for p in refused.value.problems] == ["missing_instance_id"]


def test_repeats_and_navigation_links_are_left_out() -> None:
    row = {"a": "1", "kids": [{"b": "2"}], "kids@odata.navigationLink": "x", "__id": "uuid:1"}
    assert flatten(row) == ({"a": "1"}, {"a": "a"})


def test_the_content_hash_ignores_central_bookkeeping(page: dict) -> None:
    row = page["value"][2]
    reviewed = {**row, "__system": {**row["__system"], "reviewState": "approved"}}
    assert content_md5(row) == content_md5(reviewed)
    assert content_md5(row) != content_md5({**row, "today": "2023-09-09"})
    reordered = dict(reversed(list(row.items())))
    assert canonical_bytes(reordered) == canonical_bytes(row)
