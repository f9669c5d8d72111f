"""Reports share the counting: once per period and data, whoever asks and for which area."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analytics import columns as C
from analytics import per_township
from analytics.service import coverage_report, coverage_table, quality_report, township_trend
from analytics.source import Dataset, FrameSource
from server.accounts.scope import Scope
from tests.unit.analytics.factories import (
    COUNTY_A,
    TOWN_A,
    TOWN_B,
    TOWN_C,
    frame,
    immunization,
    newborn,
    quarantine_frame,
    quarantined,
)

DOCS = [
    immunization("K1", "2026-05-01", ["hepb3"], dob="2025-10-01", township=TOWN_A),
    immunization("K2", "2026-05-01", ["dtap3"], dob="2025-10-01", township=TOWN_B),
    immunization("K3", "2026-05-01", ["hepb3"], dob="2025-10-01", township=TOWN_C),
    newborn("K4", "2026-07-05", dob="2026-07-01", township=TOWN_C),
    # K5 moves from TOWN_C to TOWN_A: counted in TOWN_A from Q3 on, with its TOWN_C dose.
    immunization("K5", "2026-04-10", ["hepb3"], dob="2025-09-01", township=TOWN_C),
    immunization("K5", "2026-07-20", ["dtap3"], dob="2025-09-01", township=TOWN_A),
]
QUARANTINE = [quarantined("unknown_township"), quarantined("outside_scope", township=TOWN_C)]
ANALYST = Scope("analyst", None, "ana")
SUPERVISOR = Scope("supervisor", frozenset({TOWN_A, TOWN_B}), "sup")
ONE_TOWN = Scope("supervisor", frozenset({TOWN_A}), "town")


def _source(docs=DOCS, held=QUARANTINE) -> FrameSource:
    return FrameSource(Dataset(frame(docs), quarantine_frame(held)))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list]]:
    """The inner computations, counted (with what they were asked), from a clean slate."""
    seen: dict[str, list] = {"count": [], "overdue": [], "quality": []}
    count, overdue, quality = (
        per_township.count_indicators,
        per_township._overdue,
        per_township.quality_parts,
    )

    def counting(*args, **kwargs):
        seen["count"].append([i.id for i in kwargs["indicators"]])
        return count(*args, **kwargs)

    def overdue_counting(*args, **kwargs):
        seen["overdue"].append(args[2].label)
        return overdue(*args, **kwargs)

    def quality_counting(*args, **kwargs):
        seen["quality"].append(kwargs["period"].label)
        return quality(*args, **kwargs)

    monkeypatch.setattr(per_township, "count_indicators", counting)
    monkeypatch.setattr(per_township, "_overdue", overdue_counting)
    monkeypatch.setattr(per_township, "quality_parts", quality_counting)
    per_township.forget()
    yield seen
    per_township.forget()


def _pair(table: pd.DataFrame, level: str, key: str, indicator: str) -> tuple[int, int]:
    column = C.TOWNSHIP if level == "township" else C.COUNTY
    row = table.loc[
        (table[C.LEVEL] == level) & (table[column] == key) & (table[C.INDICATOR] == indicator)
    ]
    return int(row[C.NUMERATOR].iloc[0]), int(row[C.DENOMINATOR].iloc[0])


def _total(table: pd.DataFrame, indicator: str) -> tuple[int, int]:
    row = table.loc[(table[C.LEVEL] == "programme") & (table[C.INDICATOR] == indicator)]
    return int(row[C.NUMERATOR].iloc[0]), int(row[C.DENOMINATOR].iloc[0])


def test_every_scope_and_county_reuses_one_count_per_period(calls) -> None:
    source = _source()
    everyone = coverage_report(period="2026-Q3", scope=ANALYST, source=source)
    theirs = coverage_report(period="2026-Q3", scope=SUPERVISOR, source=source)
    county = coverage_table(period="2026-Q3", county=COUNTY_A, scope=ANALYST, source=source)
    again = coverage_report(period="2026-Q3", scope=ANALYST, source=source)
    assert len(calls["count"]) == 1 and len(calls["count"][0]) == 36
    assert calls["overdue"] == ["2026-Q3"]
    assert calls["quality"] == ["2026-Q3"]
    # and the numbers are each scope's own
    assert _total(everyone.table, "imm_hepb3") == (3, 4)
    assert _pair(everyone.table, "township", TOWN_A, "imm_hepb3") == (2, 2)
    assert _pair(everyone.table, "township", TOWN_C, "imm_hepb3") == (1, 1)
    assert _total(theirs.table, "imm_hepb3") == (2, 3)
    assert _pair(county, "county", COUNTY_A, "imm_hepb3") == (2, 3)
    assert _total(county, "imm_hepb3") == (2, 3)
    assert_frame_equal(again.table, everyone.table)
    assert_frame_equal(again.quality, everyone.quality)
    # another period is counted on its own
    coverage_table(period="2026-Q2", indicators=["imm_hepb3"], scope=ANALYST, source=source)
    assert calls["count"][1:] == [["imm_hepb3"]]


def test_a_larger_set_of_indicators_counts_only_the_new_ones(calls) -> None:
    source = _source()
    coverage_table(period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=source)
    table = coverage_table(
        period="2026-Q3", indicators=["imm_hepb3", "imm_dtap3"], scope=ONE_TOWN, source=source
    )
    assert calls["count"] == [["imm_hepb3"], ["imm_dtap3"]]
    assert _pair(table, "township", TOWN_A, "imm_hepb3") == (2, 2)
    assert _pair(table, "township", TOWN_A, "imm_dtap3") == (1, 2)


def test_new_data_is_counted_again_with_the_new_numbers(calls) -> None:
    before = coverage_table(
        period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=_source()
    )
    assert _pair(before, "township", TOWN_B, "imm_hepb3") == (0, 1)
    later = [
        *DOCS,
        immunization("K2", "2026-08-03", ["hepb3"], dob="2025-10-01", township=TOWN_B),
        immunization("K6", "2026-08-03", ["dtap3"], dob="2025-09-15", township=TOWN_B),
    ]
    after = coverage_table(
        period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=_source(later)
    )
    assert _pair(after, "township", TOWN_B, "imm_hepb3") == (1, 2)
    assert _pair(after, "county", COUNTY_A, "imm_hepb3") == (3, 4)
    assert _total(after, "imm_hepb3") == (4, 5)
    assert len(calls["count"]) == 2


def test_shared_results_equal_a_computation_for_that_request_alone(calls) -> None:
    source = _source()
    for scope, county in ((ANALYST, None), (SUPERVISOR, None), (ONE_TOWN, COUNTY_A)):
        coverage_report(period="2026-Q3", county=county, scope=scope, source=source)
    shared = {
        (scope.username, county): coverage_report(
            period="2026-Q3", county=county, scope=scope, source=source
        )
        for scope, county in ((ANALYST, COUNTY_A), (SUPERVISOR, None), (ONE_TOWN, None))
    }
    for (username, county), report in shared.items():
        per_township.forget()
        scope = {"ana": ANALYST, "sup": SUPERVISOR, "town": ONE_TOWN}[username]
        alone = coverage_report(period="2026-Q3", county=county, scope=scope, source=_source())
        assert_frame_equal(report.table, alone.table)
        assert_frame_equal(report.quality, alone.quality)


def test_results_handed_out_are_copies(calls) -> None:
    source = _source()
    first = coverage_table(period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=source)
    first[C.NUMERATOR] = -1
    second = coverage_table(
        period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=source
    )
    assert _pair(second, "township", TOWN_A, "imm_hepb3") == (2, 2)
    held = quality_report(period="2026-Q3", scope=ANALYST, source=source)
    held["accepted"] = -1
    assert (quality_report(period="2026-Q3", scope=ANALYST, source=source)["accepted"] >= 0).all()


def test_township_trend_equals_each_quarter_of_the_coverage_table(calls) -> None:
    source = _source()
    quarters = ["2026-Q1", "2026-Q2", "2026-Q3"]
    alone = township_trend(township=TOWN_A, periods=quarters, scope=SUPERVISOR, source=source)
    assert calls["overdue"] == []  # the page does not show it
    assert all(len(ids) == 36 for ids in calls["count"])  # TOWN_A's children only, per quarter
    expected = []
    for quarter in quarters:
        table = coverage_table(period=quarter, county=COUNTY_A, scope=SUPERVISOR, source=source)
        expected.append(table.loc[(table[C.LEVEL] == "township") & (table[C.TOWNSHIP] == TOWN_A)])
    want = pd.concat(expected, ignore_index=True).drop(columns=[C.OVERDUE_CHILDREN])
    assert_frame_equal(alone.drop(columns=[C.OVERDUE_CHILDREN]), want)
    assert alone[C.OVERDUE_CHILDREN].isna().all()
    # with each quarter's shared counts now known, the trend reads them instead
    counted = len(calls["count"])
    shared = township_trend(township=TOWN_A, periods=quarters, scope=SUPERVISOR, source=source)
    assert len(calls["count"]) == counted
    assert_frame_equal(shared, alone)
    hepb3 = shared.loc[shared[C.INDICATOR] == "imm_hepb3"]
    # K5 counts in TOWN_A from Q3 on, where it moved, with the dose it had in TOWN_C
    assert hepb3[[C.PERIOD, C.NUMERATOR, C.DENOMINATOR]].values.tolist() == [
        ["2026-Q1", 0, 0],
        ["2026-Q2", 1, 1],
        ["2026-Q3", 2, 2],
    ]
    with pytest.raises(PermissionError):
        township_trend(township=TOWN_C, periods=quarters, scope=SUPERVISOR, source=source)


def test_requests_at_the_same_time_count_once(calls) -> None:
    source = _source()
    barrier = threading.Barrier(6)
    tables: list[pd.DataFrame] = []

    def ask() -> None:
        barrier.wait(5)
        tables.append(coverage_table(period="2026-Q3", scope=ANALYST, source=source))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(tables) == 6 and len(calls["count"]) == 1 and len(calls["overdue"]) == 1
    for table in tables[1:]:
        assert_frame_equal(table, tables[0])
