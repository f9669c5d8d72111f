"""The paths benchmark's data set: its plan, its marker and the XML it resubmits (pure)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmarks.paths_data import (
    DATA_FORMAT,
    FULL_SCALE,
    SEED,
    bench_uuid,
    dataset_key,
    marker_matches,
    plan_dataset,
    read_marker,
    resubmitted_xml,
    write_marker,
)
from forms.synthetic import GENERATOR_VERSION

TOWNSHIPS = pd.DataFrame(
    {
        "township_code": ["450001101", "450001102", "450001103", "450002101", "450002102"],
        "county_code": ["450001", "450001", "450001", "450002", "450002"],
    }
)
# births over 2025-2026: 30,000 in each township of 450001; 3,000 and 1,000 in 450002
TARGETS = pd.DataFrame(
    {
        "township_code": [t for t in TOWNSHIPS["township_code"] for _ in (2024, 2025, 2026)],
        "year": [2024, 2025, 2026] * 5,
        "expected_births": [
            *(99_999, 15_000, 15_000) * 3,
            *(99_999, 1_500, 1_500),
            *(99_999, 500, 500),
        ],
    }
)


def test_the_county_with_fewest_townships_is_made_dense() -> None:
    plan = plan_dataset(TOWNSHIPS, TARGETS, 1_000_000)
    assert plan.county == "450002"
    assert plan.township == "450002101"  # most expected births of its county
    assert plan.dense == ("450002101", "450002102")
    assert plan.rest == ("450001101", "450001102", "450001103")
    assert plan.dense_children == 4_000  # 3,000 in a township with 3/4 of the births


def test_the_two_runs_add_up_to_the_size_asked_for() -> None:
    plan = plan_dataset(TOWNSHIPS, TARGETS, 1_000_000)
    per_child = FULL_SCALE / 94_000
    expected = plan.dense_children * per_child + plan.rest_scale * 90_000 * per_child
    assert expected == pytest.approx(1_000_000, rel=1e-5)


def test_small_sizes_keep_the_dense_township_in_proportion() -> None:
    plan = plan_dataset(TOWNSHIPS, TARGETS, 20_000)
    assert plan.dense_children == math.ceil(60 / 0.75)
    assert plan_dataset(TOWNSHIPS, TARGETS, 1_000).dense_children == math.ceil(20 / 0.75)


def test_the_marker_matches_only_its_own_key(tmp_path) -> None:
    key = dataset_key(20_000, {"nutrition_pack": "2", "immunization": "1"})
    assert key == {
        "format": DATA_FORMAT,
        "generator_version": GENERATOR_VERSION,
        "seed": SEED,
        "size": 20_000,
        "forms": {"immunization": "1", "nutrition_pack": "2"},
    }
    path = tmp_path / "dataset.json"
    assert read_marker(path) is None
    write_marker(path, {**key, "township": "450123101"})
    marker = read_marker(path)
    assert marker == {**key, "township": "450123101"}
    assert marker_matches(marker, key)
    assert not marker_matches(marker, dataset_key(1_000_000, key["forms"]))
    assert not marker_matches(marker, dataset_key(20_000, {"immunization": "3"}))
    assert not marker_matches(None, key)
    assert not (tmp_path / "dataset.tmp").exists()


def test_a_marker_that_cannot_be_read_means_load_again(tmp_path) -> None:
    half = tmp_path / "half.json"
    half.write_bytes(b'{"format": "1", "si')
    listed = tmp_path / "list.json"
    listed.write_bytes(b"[1, 2]")
    assert read_marker(half) is None
    assert read_marker(listed) is None


XML = (
    b'<data id="immunization" version="1"><child_id>4501232025</child_id>'
    b"<meta><instanceID>uuid:a</instanceID><instanceName>x</instanceName></meta></data>"
)


def test_a_resubmission_gets_a_new_instance_id_and_an_edit_names_the_old_one() -> None:
    assert resubmitted_xml(XML, "uuid:b") == XML.replace(b"uuid:a", b"uuid:b")
    edit = resubmitted_xml(XML, "uuid:c", "uuid:a")
    assert edit == (
        b'<data id="immunization" version="1"><child_id>4501232025</child_id>'
        b"<meta><instanceID>uuid:c</instanceID><instanceName>x</instanceName>"
        b"<deprecatedID>uuid:a</deprecatedID></meta></data>"
    )
    assert resubmitted_xml(edit, "uuid:d", "uuid:c").count(b"<deprecatedID>") == 1
    with pytest.raises(ValueError, match="instanceID"):
        resubmitted_xml(b"<data><meta/></data>", "uuid:b")


def test_setup_ids_are_fixed_and_distinct() -> None:
    assert bench_uuid(0, 1) == bench_uuid(0, 1)
    assert len({bench_uuid(n, s) for n in range(30) for s in (1, 2)}) == 60
    assert bench_uuid(3, 1).startswith("uuid:") and bench_uuid(3, 1)[19] == "4"
