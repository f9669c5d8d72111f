"""The data-quality table on a hand-made dataset."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics import columns as C
from analytics import quality as Q
from analytics.children import children_table
from analytics.config import load_config
from analytics.periods import Period
from analytics.records import prepare_records
from forms.registry import load_registry
from tests.unit.analytics.factories import (
    TOWN_A,
    TOWN_C,
    frame,
    immunization,
    quarantine_frame,
    quarantined,
)

CONFIG = load_config()


def test_quality_counts_lags_duplicates_edits_and_rejections() -> None:
    received = {  # collected at 02:00Z on the visit day
        "1h": "2026-08-01T03:00:00.000Z",
        "3h": "2026-08-02T05:00:00.000Z",
        "11h": "2026-08-02T13:00:00.000Z",
    }
    docs = [
        immunization(
            "K1", "2026-08-01", ["hepb2"], dob="2026-07-01", received=received["1h"], edits=2
        ),
        immunization("K2", "2026-08-02", ["hepb2"], dob="2026-07-02", received=received["3h"]),
        # the same visit again under another instance id: a duplicate
        immunization("K2", "2026-08-02", ["hepb2"], dob="2026-07-02", received=received["11h"]),
        # K1 again, another date of birth: a conflict
        immunization(
            "K1", "2026-06-01", ["hepb1"], dob="2026-07-03", received="2026-06-01T03:00:00.000Z"
        ),
        immunization(
            "K3", "2026-08-03", ["bcg"], received="2026-08-03T03:00:00.000Z", deleted=True
        ),
        immunization(
            "K4", "2026-08-03", ["bcg"], township=TOWN_C, received="2026-08-03T04:00:00.000Z"
        ),
    ]
    rejected = [
        quarantined("unknown_version"),
        quarantined("required"),
        quarantined("unknown_version"),
        quarantined("unknown_township", township="450999999"),
        quarantined("required", status="reprocessed"),
        quarantined("required", received="2026-06-15T00:00:00.000Z"),
    ]
    period = Period.parse("2026-Q3")
    records = prepare_records(frame(docs), event_dates=CONFIG.event_dates)
    towns = load_registry().townships
    children = children_table(records, on=period.end, townships=towns)
    table = Q.quality_table(
        frame(docs), quarantine_frame(rejected), period=period, townships=towns, children=children
    )
    a = table.loc[(table[C.LEVEL] == "township") & (table[C.TOWNSHIP] == TOWN_A)].iloc[0]
    assert (a[Q.ACCEPTED], a[Q.REJECTED], a[Q.DELETED_COUNT]) == (3, 3, 1)
    assert (a["rejected_unknown_version"], a["rejected_required"]) == (2, 1)
    assert a[Q.ACCEPTANCE_RATE] == pytest.approx(0.5)
    assert (a[Q.DUPLICATES], a[Q.EDITED], a[Q.EDIT_COUNT]) == (1, 1, 2)
    assert a[Q.LAG_MEDIAN] == pytest.approx(3.0) and a[Q.LAG_P90] == pytest.approx(9.4)
    assert (a[Q.CHILDREN], a[Q.CHILDREN_DOB_CONFLICT], a[Q.CHILDREN_SEX_CONFLICT]) == (2, 1, 0)

    county = table.loc[(table[C.LEVEL] == "county") & (table[C.COUNTY] == "450123")].iloc[0]
    assert (county[Q.ACCEPTED], county[Q.REJECTED]) == (3, 3)
    total = table.loc[table[C.LEVEL] == "programme"].iloc[0]
    # the refused submission from an unknown township counts in the total only
    assert (total[Q.ACCEPTED], total[Q.REJECTED], total["rejected_unknown_township"]) == (4, 4, 1)
    # lags pooled over all rows: [1, 3, 11, 2] hours → median 2.5
    assert total[Q.LAG_MEDIAN] == pytest.approx(2.5)
    empty = table.loc[(table[C.LEVEL] == "township") & (table[C.TOWNSHIP] == "450123103")].iloc[0]
    assert (empty[Q.ACCEPTED], empty[Q.REJECTED]) == (0, 0) and pd.isna(empty[Q.ACCEPTANCE_RATE])
    assert set(table.loc[table[C.LEVEL] == "township", C.TOWNSHIP]) == set(towns[C.TOWNSHIP])
