"""`coverage_table`: scope, county, indicators; never personal data."""

from __future__ import annotations

import pytest

from analytics import columns as C
from analytics.errors import AnalyticsError
from analytics.service import coverage_report, coverage_table
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
)

DOCS = [
    immunization("K1", "2026-05-01", ["hepb3"], dob="2025-10-01", township=TOWN_A),
    immunization("K2", "2026-05-01", ["dtap3"], dob="2025-10-01", township=TOWN_B),
    immunization("K3", "2026-05-01", ["hepb3"], dob="2025-10-01", township=TOWN_C),
    newborn("K4", "2026-07-05", dob="2026-07-01", township=TOWN_C),
]
SOURCE = FrameSource(Dataset(frame(DOCS), quarantine_frame([])))
ANALYST = Scope("analyst", None, "ana")
SUPERVISOR = Scope("supervisor", frozenset({TOWN_A, TOWN_B}), "sup")


def _row(table, level: str, key: str):
    column = C.TOWNSHIP if level == "township" else C.COUNTY
    return table.loc[(table[C.LEVEL] == level) & (table[column] == key)].iloc[0]


def test_analyst_sees_every_township_and_the_programme_total() -> None:
    table = coverage_table(period="2026-Q3", indicators=["imm_hepb3"], scope=ANALYST, source=SOURCE)
    total = table.loc[table[C.LEVEL] == "programme"].iloc[0]
    assert (total[C.NUMERATOR], total[C.DENOMINATOR]) == (2, 3)
    assert (table[C.LEVEL] == "township").sum() == 255


def test_supervisor_sees_their_townships_and_totals_over_them_only() -> None:
    table = coverage_table(
        period="2026-Q3", indicators=["imm_hepb3"], scope=SUPERVISOR, source=SOURCE
    )
    assert set(table.loc[table[C.LEVEL] == "township", C.TOWNSHIP]) == {TOWN_A, TOWN_B}
    assert set(table[C.COUNTY].dropna()) == {COUNTY_A}
    total = table.loc[table[C.LEVEL] == "programme"].iloc[0]
    assert (total[C.NUMERATOR], total[C.DENOMINATOR]) == (1, 2)


def test_quality_for_a_supervisor_counts_their_townships_only() -> None:
    quality = coverage_report(period="2026-Q3", scope=SUPERVISOR, source=SOURCE).quality
    total = quality.loc[quality[C.LEVEL] == "programme"].iloc[0]
    # received in Q3 (collected then, +5 h): K4's newborn visit only, in TOWN_C: not theirs
    assert (total["accepted"], total["children"]) == (0, 2)
    everything = coverage_report(period="2026-Q3", scope=ANALYST, source=SOURCE).quality
    row = everything.loc[everything[C.TOWNSHIP] == TOWN_C].iloc[0]
    assert (row["accepted"], row["children"]) == (1, 2)
    mine = coverage_report(period="2026-Q2", scope=SUPERVISOR, source=SOURCE).quality
    assert mine.loc[mine[C.LEVEL] == "programme", "accepted"].iloc[0] == 2


def test_county_filter_and_outside_scope() -> None:
    table = coverage_table(
        period="2026-Q3", indicators=["imm_hepb3"], county="450124", scope=ANALYST, source=SOURCE
    )
    assert _row(table, "township", TOWN_C)[C.NUMERATOR] == 1
    with pytest.raises(PermissionError):
        coverage_table(period="2026-Q3", county="450124", scope=SUPERVISOR, source=SOURCE)
    with pytest.raises(PermissionError):
        coverage_table(
            period="2026-Q3", scope=Scope("health_worker", frozenset({TOWN_A})), source=SOURCE
        )
    with pytest.raises(AnalyticsError, match="unknown county"):
        coverage_table(period="2026-Q3", county="999999", scope=ANALYST, source=SOURCE)


def test_no_personal_data_in_any_result() -> None:
    report = coverage_report(period="2026-Q3", scope=ANALYST, source=SOURCE)
    for frame_ in (report.table, report.quality):
        text = frame_.to_csv()
        assert "王小明" not in text and "K1" not in text and "child_id" not in text
