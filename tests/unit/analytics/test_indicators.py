"""Every indicator of INDICATORS.md on small datasets whose answers were worked out by hand.

Each test builds submission documents (as the ingestion core stores them), flattens them as
the cache does, and checks numerator and denominator per township.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pytest

from analytics import columns as C
from analytics.config import load_config
from analytics.indicators import count_indicators, summarise, target_denominators
from analytics.periods import Period
from analytics.records import prepare_records
from forms.registry import load_registry
from tests.unit.analytics.factories import (
    TOWN_A,
    TOWN_B,
    TOWN_C,
    frame,
    immunization,
    newborn,
    nutrition,
)

CONFIG = load_config()
FULL = [
    "bcg", "hepb1", "hepb2", "hepb3", "ipv1", "ipv2", "bopv1",
    "dtap1", "dtap2", "dtap3", "mmr1", "jel1", "mpsva1", "mpsva2",
]  # fmt: skip


def counts(docs: Iterable[dict], period: str, *ids: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(township, indicator) → (numerator, denominator), townships with children only."""
    records = prepare_records(frame(docs), event_dates=CONFIG.event_dates)
    out = count_indicators(records, period=Period.parse(period), indicators=CONFIG.select(ids))
    return {
        (r.township_code, r.indicator): (int(r.numerator), int(r.denominator))
        for r in out.itertuples()
    }


# -- immunization ---------------------------------------------------------------------


def test_dose_cohort_boundaries_and_a_dose_on_E() -> None:
    # imm_hepb3: due at 6 months; eligible from 7 to under 19 months on E = 2026-07-31.
    docs = [
        # exactly 7 months on E (lower bound, inclusive), dose given on E: counts
        immunization("K01", "2026-07-31", ["hepb3"], dob="2025-12-31"),
        # 6 months on E (turns 7 the next day): not eligible, dose or not
        immunization("K02", "2026-07-20", ["hepb3"], dob="2026-01-01"),
        # exactly 19 months on E (upper bound, exclusive): not eligible
        immunization("K03", "2026-01-10", ["hepb3"], dob="2024-12-31"),
        # 18 months on E: eligible, dose long before the period still counts (until E)
        immunization("K04", "2025-07-05", ["hepb3", "mpsva1"], dob="2025-01-01"),
        # eligible, dose given the day after E: not yet covered
        immunization("K05", "2026-08-01", ["hepb3"], dob="2025-10-15"),
        # eligible, other doses only
        immunization("K06", "2026-05-01", ["dtap3"], dob="2025-10-15"),
    ]
    assert counts(docs, "2026-07", "imm_hepb3") == {(TOWN_A, "imm_hepb3"): (2, 4)}


def test_month_end_birthday_is_clipped_to_the_shorter_month() -> None:
    # imm_hepb1: eligible from 1 month. Born 31 January: one month old on 28 February.
    docs = [immunization("K01", "2026-01-31", ["hepb1", "bcg"], dob="2026-01-31")]
    assert counts(docs, "2026-02", "imm_hepb1") == {(TOWN_A, "imm_hepb1"): (1, 1)}
    assert counts(docs, "2026-02-01..2026-02-27", "imm_hepb1") == {(TOWN_A, "imm_hepb1"): (0, 0)}


def test_every_dose_of_the_schedule_has_an_indicator() -> None:
    ids = {i.id for i in CONFIG.indicators}
    from forms.schedule import load_schedule

    assert {f"imm_{code}" for code in load_schedule().codes} <= ids


def test_full_immunization_needs_every_dose_before_the_first_birthday() -> None:
    dob = "2025-06-15"  # 15 months on E = 2026-09-30
    docs = [
        immunization("K01", "2026-05-01", FULL, dob=dob),  # all before 2026-06-15
        immunization("K02", "2026-05-01", [d for d in FULL if d != "mmr1"], dob=dob),
        # mmr1 on the first birthday itself: not *before* it
        immunization("K03", "2026-05-01", [d for d in FULL if d != "mmr1"], dob=dob),
        immunization("K03", "2026-06-15", ["mmr1"], dob=dob),
        # split over two visits, all before the birthday: counts
        immunization("K04", "2025-08-01", FULL[:7], dob=dob),
        immunization("K05", "2026-06-01", FULL, dob="2025-11-01"),  # 10 months: not in cohort
        immunization("K04", "2026-06-14", FULL[7:], dob=dob),
    ]
    assert counts(docs, "2026-Q3", "imm_full_12m") == {(TOWN_A, "imm_full_12m"): (2, 4)}


def test_hepb1_within_24_hours_over_children_born_in_the_period() -> None:
    docs = [
        immunization(
            "K01", "2026-07-03", ["hepb1", "bcg"], dob="2026-07-03", hepb1_within_24h="yes"
        ),
        immunization("K02", "2026-07-12", ["hepb1"], dob="2026-07-10", hepb1_within_24h="no"),
        newborn("K03", "2026-08-05", dob="2026-08-01"),  # born in P, no vaccination record
        # the next day, recorded as within 24 hours: counts
        immunization("K04", "2026-09-02", ["hepb1"], dob="2026-09-01", hepb1_within_24h="yes"),
        # born before P: not in the cohort
        immunization("K05", "2026-06-30", ["hepb1"], dob="2026-06-30", hepb1_within_24h="yes"),
    ]
    assert counts(docs, "2026-Q3", "imm_hepb1_24h") == {(TOWN_A, "imm_hepb1_24h"): (2, 4)}


# -- nutrition ------------------------------------------------------------------------


def test_nutrition_coverage() -> None:
    docs = [
        nutrition("K01", "2026-08-01", dob="2025-09-30"),  # 12 months: covered
        nutrition("K02", "2026-07-05", dob="2025-09-30", packs_given=0),  # no packs: not
        nutrition("K03", "2026-06-30", dob="2025-09-30"),  # before P: not
        nutrition("K04", "2026-09-30", dob="2026-03-30"),  # exactly 6 months on E, on E: yes
        nutrition("K05", "2026-08-01", dob="2024-09-30"),  # exactly 24 months on E: out
        immunization("K06", "2026-08-01", ["mmr1"], dob="2025-12-01"),  # 9 months, no packs
        immunization("K07", "2026-08-01", ["dtap3"], dob="2026-04-01"),  # 5 months: out
    ]
    assert counts(docs, "2026-Q3", "nutrition_coverage") == {(TOWN_A, "nutrition_coverage"): (2, 5)}


def test_nutrition_compliance_uses_the_latest_record_of_the_period() -> None:
    docs = [
        nutrition("K01", "2026-07-10", dob="2025-09-01", packs_eaten_7d=7),
        nutrition("K01", "2026-09-10", dob="2025-09-01", packs_eaten_7d=2),  # latest: 2
        nutrition("K02", "2026-07-10", dob="2025-09-01", packs_eaten_7d=1),
        nutrition("K02", "2026-09-10", dob="2025-09-01", packs_eaten_7d=4),  # latest: 4 (edge)
        nutrition("K03", "2026-06-10", dob="2025-09-01", packs_eaten_7d=7),  # before P
        nutrition("K04", "2026-10-01", dob="2025-09-01", packs_eaten_7d=7),  # after E
    ]
    assert counts(docs, "2026-Q3", "nutrition_compliance") == {
        (TOWN_A, "nutrition_compliance"): (1, 2)
    }


# -- newborn and infant health ----------------------------------------------------------


def test_newborn_visits_within_7_and_28_days() -> None:
    docs = [
        newborn("K01", "2026-07-08", dob="2026-07-01"),  # day 7: both
        newborn("K02", "2026-07-09", dob="2026-07-01"),  # day 8: 28 only
        newborn("K03", "2026-10-02", dob="2026-09-29"),  # born in P, visited after E, day 3
        immunization("K04", "2026-08-01", ["hepb1"], dob="2026-08-01"),  # no visit
        newborn("K05", "2026-07-02", dob="2026-06-28"),  # born before P
    ]
    got = counts(docs, "2026-Q3", "newborn_visit_7d", "newborn_visit_28d")
    assert got == {
        (TOWN_A, "newborn_visit_7d"): (2, 4),
        (TOWN_A, "newborn_visit_28d"): (3, 4),
    }


def test_hospital_delivery_and_screenings() -> None:
    docs = [
        newborn("K01", "2026-07-05", dob="2026-07-01", place_of_delivery="county_hospital"),
        newborn(
            "K02",
            "2026-07-05",
            dob="2026-07-01",
            place_of_delivery="other_facility",
            disease_screening="no",
            hearing_screening="refer",
        ),
        newborn(
            "K03",
            "2026-07-05",
            dob="2026-07-01",
            place_of_delivery="home",
            disease_screening="unknown",
            hearing_screening="not_done",
        ),
        # two visits: the latest says township hospital and screened
        newborn(
            "K04",
            "2026-07-03",
            dob="2026-07-01",
            place_of_delivery="other",
            disease_screening="unknown",
            hearing_screening="not_done",
        ),
        newborn(
            "K04",
            "2026-07-20",
            dob="2026-07-01",
            place_of_delivery="township_hospital",
            visit_number=2,
        ),
        immunization("K05", "2026-07-02", ["hepb1"], dob="2026-07-01"),  # no newborn visit
    ]
    got = counts(
        docs,
        "2026-Q3",
        "hospital_delivery",
        "newborn_disease_screening",
        "newborn_hearing_screening",
    )
    assert got == {
        (TOWN_A, "hospital_delivery"): (3, 4),
        (TOWN_A, "newborn_disease_screening"): (2, 4),
        (TOWN_A, "newborn_hearing_screening"): (3, 4),
    }


def test_exclusive_breastfeeding_on_the_latest_record_with_feeding() -> None:
    docs = [
        # 5 completed months at the latest record (an immunization visit): exclusive
        newborn("K01", "2026-02-10", dob="2026-02-05", feeding_24h="mixed"),
        immunization("K01", "2026-08-04", ["dtap3"], dob="2026-02-05", feeding_24h="exclusive"),
        # latest record with feeding is at 6 months: not in the denominator at all
        immunization("K02", "2026-07-10", ["dtap3"], dob="2026-01-20", feeding_24h="exclusive"),
        immunization("K02", "2026-07-25", ["hepb3"], dob="2026-01-20", feeding_24h="mixed"),
        # exclusive earlier in P, mixed at the latest: denominator only
        newborn("K03", "2026-07-03", dob="2026-07-01", feeding_24h="exclusive"),
        immunization("K03", "2026-08-01", ["hepb2"], dob="2026-07-01", feeding_24h="mixed"),
        # a later record without feeding_24h does not hide the one with it
        newborn("K04", "2026-09-01", dob="2026-08-28", feeding_24h="exclusive"),
        immunization("K04", "2026-09-28", ["hepb2"], dob="2026-08-28"),
    ]
    got = counts(docs, "2026-Q3", "exclusive_breastfeeding_0_5m")
    assert got == {(TOWN_A, "exclusive_breastfeeding_0_5m"): (2, 3)}


def test_low_birth_weight_threshold() -> None:
    docs = [
        newborn("K01", "2026-07-05", dob="2026-07-01", birth_weight_g=2499),
        newborn("K02", "2026-07-05", dob="2026-07-01", birth_weight_g=2500),
        newborn("K03", "2026-06-05", dob="2026-06-01", birth_weight_g=2000),  # born before P
    ]
    assert counts(docs, "2026-Q3", "low_birth_weight") == {(TOWN_A, "low_birth_weight"): (1, 2)}


# -- growth and anaemia ------------------------------------------------------------------
# WHO 2006 boys' length-for-age at 12 months: median 75.7 cm, -3 SD 68.6 cm; girls'
# weight-for-age at 12 months: median 8.9 kg, -2 SD 7.0 kg, -3 SD 6.3 kg.


def test_stunting_latest_valid_measurement_under_60_months() -> None:
    boy = {"sex": "male", "dob": "2025-08-01"}  # 365 days old on 2026-08-01
    docs = [
        nutrition("K01", "2026-08-01", length_cm=68.0, **boy),  # z < -3: stunted
        nutrition("K02", "2026-08-01", length_cm=75.7, **boy),  # z ~ 0
        nutrition("K03", "2026-07-05", length_cm=68.0, **boy),  # stunted earlier in P,
        nutrition("K03", "2026-08-01", length_cm=75.0, **boy),  # not at the latest
        nutrition("K04", "2026-08-01", length_cm=45.0, **boy),  # z < -6: implausible, out
        # 60 months at measurement: out of the under-5 denominator
        nutrition("K05", "2026-08-01", length_cm=90.0, sex="female", dob="2021-08-01"),
        nutrition("K06", "2026-06-30", length_cm=68.0, **boy),  # before P
    ]
    assert counts(docs, "2026-Q3", "stunting") == {(TOWN_A, "stunting"): (1, 3)}


def test_underweight_excludes_oedema_and_implausible_values() -> None:
    girl = {"sex": "female", "dob": "2025-08-01"}
    docs = [
        nutrition("K01", "2026-08-01", weight_kg=6.5, **girl),  # between -3 and -2 SD
        nutrition("K02", "2026-08-01", weight_kg=8.9, **girl),
        nutrition("K03", "2026-08-01", weight_kg=6.5, oedema="yes", **girl),  # not computed
        nutrition("K04", "2026-08-01", weight_kg=2.0, **girl),  # z < -6: implausible
        # a newborn visit weight is a weight measurement too (1.9 kg at 4 days: z < -2)
        newborn("K05", "2026-08-05", dob="2026-08-01", weight_kg=1.9, birth_weight_g=2000),
    ]
    assert counts(docs, "2026-Q3", "underweight") == {(TOWN_A, "underweight"): (2, 3)}


def test_anaemia_ages_6_to_59_months_at_measurement() -> None:
    docs = [
        nutrition("K01", "2026-08-01", dob="2025-08-01", hemoglobin_g_l=109),
        nutrition("K02", "2026-08-01", dob="2025-08-01", hemoglobin_g_l=110),
        nutrition("K03", "2026-07-01", dob="2025-08-01", hemoglobin_g_l=100),
        nutrition("K03", "2026-09-01", dob="2025-08-01", hemoglobin_g_l=120),  # latest: 120
        nutrition("K04", "2026-08-01", dob="2026-03-01", hemoglobin_g_l=90),  # 5 months: out
        nutrition("K05", "2026-08-01", dob="2025-08-01"),  # not tested
    ]
    assert counts(docs, "2026-Q3", "anaemia") == {(TOWN_A, "anaemia"): (1, 3)}


# -- children, edits, duplicates, deletions ------------------------------------------------


def test_a_child_who_moved_counts_in_the_township_of_the_latest_record_on_or_before_E() -> None:
    docs = [
        immunization("K01", "2026-02-01", ["hepb3"], dob="2025-08-01", township=TOWN_A),
        nutrition("K01", "2026-07-15", dob="2025-08-01", township=TOWN_B),  # moved
        nutrition("K01", "2026-10-15", dob="2025-08-01", township=TOWN_C),  # after E
        # known only from a record after E: placed by that record
        immunization("K02", "2026-10-03", ["hepb3"], dob="2025-12-01", township=TOWN_C),
    ]
    assert counts(docs, "2026-Q3", "imm_hepb3") == {
        (TOWN_B, "imm_hepb3"): (1, 1),
        (TOWN_C, "imm_hepb3"): (0, 1),
    }


def test_edited_duplicate_and_deleted_submissions() -> None:
    docs = [
        # an edited submission is one document holding the latest version: counted once
        immunization("K01", "2026-05-01", ["hepb3"], dob="2025-10-01", edits=2),
        # the same visit sent twice under two instance ids: the child still counts once
        immunization("K02", "2026-05-01", ["hepb3"], dob="2025-10-01"),
        immunization("K02", "2026-05-01", ["hepb3"], dob="2025-10-01"),
        # deleted in Central: neither the dose nor the child
        immunization("K03", "2026-05-01", ["hepb3"], dob="2025-10-01", deleted=True),
        immunization("K04", "2026-05-01", ["dtap3"], dob="2025-10-01"),
        immunization("K04", "2026-06-01", ["hepb3"], dob="2025-10-01", deleted=True),
    ]
    assert counts(docs, "2026-Q3", "imm_hepb3") == {(TOWN_A, "imm_hepb3"): (2, 3)}


def test_conflicting_dates_of_birth_prefer_the_newborn_visit() -> None:
    # The newborn visit says 2026-07-05 (born in P); two later records say 2026-06-25.
    docs = [
        newborn("K01", "2026-07-08", dob="2026-07-05"),
        immunization("K01", "2026-08-05", ["hepb2"], dob="2026-06-25"),
        immunization("K01", "2026-09-05", ["ipv1"], dob="2026-06-25"),
        # without a newborn visit the most frequent value wins: 2026-07-20, born in P
        immunization("K02", "2026-07-21", ["hepb1"], dob="2026-07-20"),
        immunization("K02", "2026-08-21", ["hepb2"], dob="2026-07-20"),
        immunization("K02", "2026-09-21", ["ipv1"], dob="2026-06-20"),
    ]
    got = counts(docs, "2026-Q3", "newborn_visit_7d")
    assert got == {(TOWN_A, "newborn_visit_7d"): (1, 2)}


# -- the result table -------------------------------------------------------------------


def _towns() -> pd.DataFrame:
    towns = load_registry().townships
    return towns.loc[towns[C.COUNTY].isin(["450123", "450124"])].reset_index(drop=True)


def test_summary_rolls_up_counts_and_flags_townships_without_data() -> None:
    docs = [immunization(f"A{i:02d}", "2026-05-01", ["hepb3"], dob="2025-10-01") for i in range(18)]
    other = {"dob": "2025-10-01", "township": TOWN_B}
    docs += [immunization(f"B{i:02d}", "2026-05-01", ["dtap3"], **other) for i in range(2)]
    other = {"dob": "2025-10-01", "township": TOWN_C}
    docs += [immunization(f"C{i:02d}", "2026-05-01", ["hepb3"], **other) for i in range(30)]
    period = Period.parse("2026-Q3")
    indicators = CONFIG.select(["imm_hepb3"])
    records = prepare_records(frame(docs), event_dates=CONFIG.event_dates)
    raw = count_indicators(records, period=period, indicators=indicators)
    towns = _towns()
    table = summarise(raw, period=period, indicators=indicators, townships=towns)
    by = table.set_index([C.LEVEL, table[C.TOWNSHIP].fillna(table[C.COUNTY]).fillna("all")])

    a = by.loc[("township", TOWN_A)]
    assert (a[C.NUMERATOR], a[C.DENOMINATOR], a[C.RATE]) == (18, 18, 1.0)
    assert bool(a[C.MET]) and bool(a[C.SMALL_DENOMINATOR]) and not bool(a[C.NO_DATA])
    b = by.loc[("township", TOWN_B)]
    assert (b[C.NUMERATOR], b[C.DENOMINATOR]) == (0, 2) and not bool(b[C.MET])
    county = by.loc[("county", "450123")]  # summed, then divided: 18/20, not mean(100%, 0%)
    assert (county[C.NUMERATOR], county[C.DENOMINATOR]) == (18, 20)
    assert county[C.RATE] == pytest.approx(0.9) and not bool(county[C.MET])
    total = by.loc[("programme", "all")]
    assert (total[C.NUMERATOR], total[C.DENOMINATOR]) == (48, 50)
    assert not bool(total[C.SMALL_DENOMINATOR])

    # every township of the two counties appears; those without children flagged no_data
    towns_rows = table.loc[table[C.LEVEL] == "township"]
    assert set(towns_rows[C.TOWNSHIP]) == set(towns[C.TOWNSHIP])
    empty = towns_rows.loc[~towns_rows[C.TOWNSHIP].isin([TOWN_A, TOWN_B, TOWN_C])]
    assert len(empty) == len(towns) - 3
    assert empty[C.NO_DATA].all() and empty[C.SMALL_DENOMINATOR].all()
    # a zero denominator: no rate, no interval, `met` unknown (not False)
    assert empty[C.RATE].isna().all() and empty[C.CI_LOW].isna().all()
    assert empty[C.MET].isna().all()
    assert list(table.columns) == list(C.RESULT_COLUMNS)
    assert table[C.OVERDUE_CHILDREN].isna().all()


def test_target_denominators_are_prorated_for_birth_based_indicators() -> None:
    targets = pd.DataFrame(
        {
            C.TOWNSHIP: [TOWN_A, TOWN_A],
            "year": [2026, 2027],
            "expected_births": [365, 730],
            "children_under_1": [400, 800],
            "children_6_24m": [600, 1200],
            "children_under_5": [2000, 4000],
        }
    )
    indicators = CONFIG.select(["newborn_visit_7d", "imm_hepb3", "nutrition_coverage", "stunting"])
    out = target_denominators(
        targets, indicators=indicators, period=Period.parse("2026-12-01..2027-01-31")
    ).set_index(C.INDICATOR)[C.TARGET_DENOMINATOR]
    assert out["newborn_visit_7d"] == pytest.approx(31 + 730 * 31 / 365)  # 31 days of each year
    assert out["imm_hepb3"] == 800  # the year of E, not pro-rated
    assert out["nutrition_coverage"] == 1200
    assert "stunting" not in out  # no population target for a prevalence


def test_numerator_above_the_target_population_is_flagged() -> None:
    docs = [newborn(f"K{i}", "2026-07-03", dob="2026-07-01") for i in range(5)]
    period = Period.parse("2026-07")
    indicators = CONFIG.select(["newborn_visit_7d"])
    records = prepare_records(frame(docs), event_dates=CONFIG.event_dates)
    raw = count_indicators(records, period=period, indicators=indicators)
    targets = pd.DataFrame(
        {C.TOWNSHIP: [TOWN_A], C.INDICATOR: ["newborn_visit_7d"], C.TARGET_DENOMINATOR: [3.1]}
    )
    table = summarise(
        raw, period=period, indicators=indicators, townships=_towns(), target_counts=targets
    )
    row = table.loc[(table[C.LEVEL] == "township") & (table[C.TOWNSHIP] == TOWN_A)].iloc[0]
    assert (row[C.NUMERATOR], row[C.DENOMINATOR], row[C.RATE]) == (5, 5, 1.0)
    assert row[C.TARGET_RATE] == pytest.approx(5 / 3.1)
    assert bool(row[C.NUMERATOR_EXCEEDS_DENOMINATOR])
    assert pd.isna(row[C.MET])  # no fixed target for this one


def test_indicator_functions_do_not_mutate_their_inputs_and_name_missing_columns() -> None:
    docs = [immunization("K01", "2026-05-01", ["hepb3"], dob="2025-10-01")]
    records = prepare_records(frame(docs), event_dates=CONFIG.event_dates)
    before = records.copy(deep=True)
    count_indicators(records, period=Period.parse("2026-Q3"), indicators=CONFIG.indicators)
    pd.testing.assert_frame_equal(records, before)
    with pytest.raises(ValueError, match=r"'data\.child_dob'"):
        count_indicators(
            records.drop(columns=[C.CHILD_DOB]), period=Period.parse("2026-Q3"), indicators=()
        )


def test_all_indicators_run_on_an_empty_dataset() -> None:
    records = prepare_records(frame([]), event_dates=CONFIG.event_dates)
    out = count_indicators(records, period=Period.parse("2026"), indicators=CONFIG.indicators)
    assert out.empty
    table = summarise(
        out, period=Period.parse("2026"), indicators=CONFIG.indicators, townships=_towns()
    )
    assert table[C.NO_DATA].all()
    assert np.isnan(table[C.RATE]).all()
