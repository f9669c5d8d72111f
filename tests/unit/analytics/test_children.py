"""The children table: sex, date of birth, conflicts and township at E."""

from __future__ import annotations

import pandas as pd

from analytics import columns as C
from analytics.children import children_table
from analytics.config import load_config
from analytics.records import prepare_records
from tests.unit.analytics.factories import TOWN_A, TOWN_B, TOWN_C, frame, immunization, newborn

CONFIG = load_config()


def _table(docs: list[dict], on: str) -> pd.DataFrame:
    records = prepare_records(frame(docs), event_dates=CONFIG.event_dates)
    return children_table(records, on=on).set_index(C.CHILD_ID)


def test_sex_and_dob_newborn_visit_first_then_most_frequent_then_latest() -> None:
    docs = [
        newborn("K1", "2026-01-05", dob="2026-01-02", sex="male"),
        immunization("K1", "2026-02-05", ["hepb2"], dob="2026-01-03", sex="female"),
        immunization("K1", "2026-03-05", ["ipv1"], dob="2026-01-03", sex="female"),
        immunization("K2", "2026-02-05", ["hepb2"], dob="2026-01-03"),
        immunization("K2", "2026-03-05", ["ipv1"], dob="2026-01-03"),
        immunization("K2", "2026-04-05", ["ipv2"], dob="2026-01-04"),
        immunization("K3", "2026-02-05", ["hepb2"], dob="2026-01-03"),
        immunization("K3", "2026-03-05", ["ipv1"], dob="2026-01-04"),  # a tie: the latest
        immunization("K4", "2026-03-05", ["ipv1"], dob="2026-01-04"),
    ]
    table = _table(docs, "2026-06-30")
    assert str(table.loc["K1", C.DOB].date()) == "2026-01-02" and table.loc["K1", C.SEX] == "male"
    assert table.loc["K1", C.DOB_CONFLICT] and table.loc["K1", C.SEX_CONFLICT]
    assert str(table.loc["K2", C.DOB].date()) == "2026-01-03" and table.loc["K2", C.DOB_CONFLICT]
    assert str(table.loc["K3", C.DOB].date()) == "2026-01-04"
    assert not table.loc["K4", C.DOB_CONFLICT] and not table.loc["K4", C.SEX_CONFLICT]


def test_township_at_E_is_the_latest_record_on_or_before_E() -> None:
    docs = [
        immunization("K1", "2026-02-05", ["hepb2"], township=TOWN_A),
        immunization("K1", "2026-06-30", ["ipv1"], township=TOWN_B),  # on E
        immunization("K1", "2026-07-01", ["ipv2"], township=TOWN_C),  # after E
        immunization("K2", "2026-08-01", ["ipv2"], township=TOWN_C),  # only after E
        immunization("K2", "2026-09-01", ["dtap2"], township=TOWN_A),
    ]
    table = _table(docs, "2026-06-30")
    assert table.loc["K1", C.TOWNSHIP] == TOWN_B and table.loc["K1", C.COUNTY] == "450123"
    assert table.loc["K2", C.TOWNSHIP] == TOWN_C  # the earliest record after E
    assert _table(docs, "2026-12-31").loc["K2", C.TOWNSHIP] == TOWN_A
