"""The scan guard itself: it must catch the plans that hid a 175 s manifest."""

from __future__ import annotations

import pytest

from tests.support.scanguard import no_scans


@pytest.fixture
def indexed(couch_db):
    couch_db.create_index(["form_id", "township_code"], name="ft", ddoc="ft")
    couch_db.bulk_docs(
        [{"_id": f"d{i}", "form_id": "f", "township_code": str(i % 3)} for i in range(9)]
    )
    return couch_db


def test_equality_on_an_index_and_key_reads_pass(indexed, couch) -> None:
    with no_scans(couch) as log:
        assert len(indexed.find({"form_id": "f", "township_code": "1"}).docs) == 3
        indexed.get("d1")
        indexed.all_docs(keys=["d1", "d2"])
        indexed.all_docs(start_key="d1", end_key="d3")
    assert log.kinds() == ["_find", "doc", "_all_docs", "_all_docs"]
    assert log.explained[0]["index"]["name"] == "ft"


@pytest.mark.parametrize(
    ("selector", "why"),
    [
        ({"form_id": {"$in": ["f", "g"]}, "township_code": "1"}, "walks index 'ft'"),
        ({"versions": {"$elemMatch": {"instance_id": "x"}}}, "has no index"),
    ],
)
def test_in_plans_and_unindexed_finds_fail(indexed, couch, selector, why) -> None:
    with pytest.raises(AssertionError, match=why), no_scans(couch):
        indexed.find(selector)


def test_skip_paging_and_unbounded_all_docs_fail(indexed, couch) -> None:
    with pytest.raises(AssertionError, match="skip"), no_scans(couch):
        indexed.find({"form_id": "f", "township_code": "1"}, skip=1)
    with pytest.raises(AssertionError, match="unbounded"), no_scans(couch):
        indexed.all_docs(include_docs=True)


def test_a_block_that_reads_nothing_fails(couch) -> None:
    with pytest.raises(AssertionError, match="no CouchDB request"), no_scans(couch):
        pass
