"""Schedule status at the boundaries of the due age and the grace window, from the schedule data."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics import columns as C
from analytics import due as D
from forms.schedule import Dose, Schedule, Windows, load_schedule

SCHEDULE = load_schedule()
GRACE = SCHEDULE.windows.grace_days
GAP = SCHEDULE.windows.nutrition_gap_days


def kids(**dobs: str) -> pd.DataFrame:
    return pd.DataFrame({C.CHILD_ID: list(dobs), C.DOB: pd.to_datetime(list(dobs.values()))})


def no_doses() -> pd.DataFrame:
    return pd.DataFrame({C.CHILD_ID: [], C.EVENT_DATE: pd.to_datetime([]), C.DOSE: []})


def status_of(children: pd.DataFrame, on: str, doses: pd.DataFrame | None = None) -> pd.Series:
    table = D.dose_status(
        children, no_doses() if doses is None else doses, on=on, schedule=SCHEDULE
    )
    return table.set_index([C.CHILD_ID, D.DOSE])[D.STATUS]


def test_windows_come_from_the_schedule_file() -> None:
    assert (GRACE, GAP) == (28, 35)


def test_exactly_at_the_due_age_the_dose_is_due() -> None:
    # hepb3 is due at 6 months: born 2026-01-15, six months old on 2026-07-15.
    s = status_of(kids(K="2026-01-15"), "2026-07-15")
    assert s[("K", "hepb3")] == D.DUE
    assert status_of(kids(K="2026-01-15"), "2026-07-14")[("K", "hepb3")] == D.NOT_YET


def test_end_of_grace_window_is_due_and_one_day_after_is_overdue() -> None:
    due = pd.Timestamp("2026-07-15")
    last = (due + pd.Timedelta(days=GRACE)).date().isoformat()  # 2026-08-12
    after = (due + pd.Timedelta(days=GRACE + 1)).date().isoformat()
    assert last == "2026-08-12"
    assert status_of(kids(K="2026-01-15"), last)[("K", "hepb3")] == D.DUE
    assert status_of(kids(K="2026-01-15"), after)[("K", "hepb3")] == D.OVERDUE


def test_due_ages_are_calendar_months_clipped_to_the_month_end() -> None:
    # Born 31 January: one month old on 28 February (2026 is not a leap year).
    table = D.dose_status(kids(K="2026-01-31"), no_doses(), on="2026-02-27", schedule=SCHEDULE)
    row = table.set_index(D.DOSE).loc["hepb2"]
    assert (row[D.DUE_DATE], row[D.WINDOW_END]) == (
        pd.Timestamp("2026-02-28"),
        pd.Timestamp("2026-03-28"),
    )
    assert row[D.STATUS] == D.NOT_YET
    assert status_of(kids(K="2026-01-31"), "2026-02-28")[("K", "hepb2")] == D.DUE
    assert status_of(kids(K="2026-01-31"), "2026-03-28")[("K", "hepb2")] == D.DUE
    assert status_of(kids(K="2026-01-31"), "2026-03-29")[("K", "hepb2")] == D.OVERDUE


def test_done_with_its_first_date_only_when_recorded_on_or_before_d() -> None:
    given = pd.DataFrame(
        {
            C.CHILD_ID: ["K", "K", "K"],
            C.EVENT_DATE: pd.to_datetime(["2026-07-20", "2026-07-16", "2026-09-01"]),
            C.DOSE: ["hepb3", "hepb3", "mpsva1"],
        }
    )
    table = D.dose_status(kids(K="2026-01-15"), given, on="2026-08-20", schedule=SCHEDULE)
    rows = table.set_index(D.DOSE)
    assert rows.loc["hepb3", D.STATUS] == D.DONE
    assert rows.loc["hepb3", D.DONE_DATE] == pd.Timestamp("2026-07-16")
    assert rows.loc["mpsva1", D.STATUS] == D.OVERDUE  # given after D: not yet known
    assert pd.isna(rows.loc["mpsva1", D.DONE_DATE])
    assert list(rows.index) == list(SCHEDULE.codes)


def test_doses_count_for_their_own_child_only() -> None:
    given = pd.DataFrame(
        {
            C.CHILD_ID: ["A", "B", "B", "Z", None],
            C.EVENT_DATE: pd.to_datetime(
                ["2026-07-20", "2026-07-10", None, "2026-07-01", "2026-07-01"]
            ),
            C.DOSE: ["hepb3", "bcg", "hepb3", "hepb3", "hepb3"],
        }
    ).astype({C.DOSE: "category"})
    two = kids(A="2026-01-15", B="2026-01-15")
    table = D.dose_status(two, given, on="2026-08-20", schedule=SCHEDULE)
    done = table.loc[table[D.STATUS] == D.DONE]
    assert list(zip(done[C.CHILD_ID], done[D.DOSE], done[D.DONE_DATE], strict=True)) == [
        ("A", "hepb3", pd.Timestamp("2026-07-20")),
        ("B", "bcg", pd.Timestamp("2026-07-10")),
    ]  # B's undated hepb3, and doses of children not asked about, count for no one
    assert len(table) == 2 * len(SCHEDULE.codes)


def test_a_child_without_date_of_birth_has_no_status() -> None:
    children = pd.DataFrame({C.CHILD_ID: ["K", "X"], C.DOB: pd.to_datetime(["2026-01-15", None])})
    table = D.dose_status(children, no_doses(), on="2026-02-01", schedule=SCHEDULE)
    assert set(table[C.CHILD_ID]) == {"K"}


def test_grace_window_is_configuration() -> None:
    short = Schedule(doses=(Dose("x", "甲", "X", 2, 1),), windows=Windows(3, 35))
    children = kids(K="2026-01-10")
    on = {
        d: D.dose_status(children, no_doses(), on=d, schedule=short)[D.STATUS][0]
        for d in ("2026-03-09", "2026-03-10", "2026-03-13", "2026-03-14")
    }
    assert on == {
        "2026-03-09": D.NOT_YET,
        "2026-03-10": D.DUE,
        "2026-03-13": D.DUE,
        "2026-03-14": D.OVERDUE,
    }


def packs(**dates: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.CHILD_ID: list(dates),
            C.FORM_ID: ["nutrition_pack"] * len(dates),
            C.EVENT_DATE: pd.to_datetime(list(dates.values())),
            C.PACKS_GIVEN: [30.0] * len(dates),
        }
    )


@pytest.mark.parametrize(
    ("on", "overdue"),
    [
        ("2026-07-14", False),  # 5 months: not yet eligible
        ("2026-07-15", True),  # exactly 6 months, never given a pack
        ("2028-01-14", True),  # the day before 24 months
        ("2028-01-15", False),  # 24 months: no longer eligible
    ],
)
def test_nutrition_age_boundaries(on: str, overdue: bool) -> None:
    result = D.nutrition_overdue(kids(K="2026-01-15"), packs(), on=on, gap_days=GAP)
    assert result[D.NUTRITION_OVERDUE].tolist() == [overdue]


def test_nutrition_gap_boundaries() -> None:
    children = kids(A="2026-01-15", B="2026-01-15", C="2026-01-15")
    # on 2026-10-01: A's pack exactly 35 days before, B's 36 days before, C's pack given none
    records = packs(A="2026-08-27", B="2026-08-26")
    records = pd.concat([records, packs(C="2026-09-30").assign(**{C.PACKS_GIVEN: [0.0]})])
    result = D.nutrition_overdue(children, records, on="2026-10-01", gap_days=GAP)
    assert result[D.NUTRITION_OVERDUE].tolist() == [False, True, True]
    assert result[D.LAST_PACK].tolist()[:2] == [
        pd.Timestamp("2026-08-27"),
        pd.Timestamp("2026-08-26"),
    ]


def test_due_children_summarises_each_child() -> None:
    children = kids(K="2026-01-15", L="2026-06-01").assign(**{C.TOWNSHIP: ["450123101"] * 2})
    records = pd.DataFrame(
        {
            C.CHILD_ID: ["K", "K", "L"],
            C.FORM_ID: ["immunization", "nutrition_pack", "immunization"],
            C.EVENT_DATE: pd.to_datetime(["2026-01-16", "2026-07-20", "2026-09-01"]),
            C.PACKS_GIVEN: [None, 30.0, None],
        }
    )
    doses = pd.DataFrame(
        {
            C.CHILD_ID: ["K", "K", "L"],
            C.EVENT_DATE: pd.to_datetime(["2026-01-16", "2026-01-16", "2026-06-01"]),
            C.DOSE: ["hepb1", "bcg", "hepb1"],
        }
    )
    work = D.due_children(children, records, doses, on="2026-07-20", schedule=SCHEDULE)
    k, m = work.iloc[0], work.iloc[1]
    assert k[D.DOSES_OVERDUE] == "hepb2 ipv1 ipv2 dtap1 bopv1 dtap2 dtap3"
    assert k[D.DOSES_DUE] == "hepb3 mpsva1"
    assert (k[D.N_OVERDUE], k[D.N_DUE]) == (7, 2)
    assert (k[D.NEXT_DOSE], k[D.NEXT_DUE_DATE]) == ("hepb2", pd.Timestamp("2026-02-15"))
    assert k[D.LAST_VISIT] == pd.Timestamp("2026-07-20")
    assert not k[D.NUTRITION_OVERDUE]
    # L: born 2026-06-01; bcg due at birth, window ends 2026-06-29; hepb2 due 2026-07-01.
    assert (m[D.DOSES_OVERDUE], m[D.DOSES_DUE]) == ("bcg", "hepb2")
    assert pd.isna(m[D.LAST_VISIT])  # its only record is after D
    counts = D.overdue_per_township(work)
    assert counts.values.tolist() == [["450123101", 2]]


def test_inputs_are_not_modified_and_missing_columns_are_named() -> None:
    children = kids(K="2026-01-15")
    before = children.copy()
    D.dose_status(children, no_doses(), on="2026-07-20", schedule=SCHEDULE)
    pd.testing.assert_frame_equal(children, before)
    with pytest.raises(ValueError, match="'dob'"):
        D.dose_status(children.drop(columns=C.DOB), no_doses(), on="2026-07-20", schedule=SCHEDULE)
