"""Who needs a visit: each child's schedule status at a date `D`, from the coverage records.

A dose is `done` when the child's records hold it on or before `D` (with the date of the
first one), `not_yet` before its due date (date of birth + `due_months` calendar months,
the day clipped to the end of a shorter month), `due` from the due date to the end of the
grace window (due date + `grace_days`, both days included) and `overdue` after it. A child
aged 6 to 24 months (from the day they turn 6 months to the day before they turn 24) is
`nutrition_overdue` when no pack was given (`packs_given > 0`) in the last
`nutrition_gap_days` days (`D - gap` to `D`, both included). Windows and due ages are the
schedule's data (`forms/schedule.toml`), never constants here. Pure functions: no I/O.

>>> import pandas as pd
>>> from analytics import columns as C
>>> from forms.schedule import load_schedule
>>> kids = pd.DataFrame({C.CHILD_ID: ["K1"], C.DOB: pd.to_datetime(["2026-01-31"])})
>>> given = pd.DataFrame({C.CHILD_ID: ["K1"], C.EVENT_DATE: pd.to_datetime(["2026-02-01"]),
...                       C.DOSE: ["bcg"]})
>>> status = dose_status(kids, given, on="2026-03-01", schedule=load_schedule())
>>> status.set_index(DOSE)[STATUS].loc[["bcg", "hepb1", "hepb2", "ipv1"]].tolist()
['done', 'overdue', 'due', 'not_yet']
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics.periods import add_months, as_datetime64, completed_months
from forms.schedule import Schedule

DONE, DUE, OVERDUE, NOT_YET = "done", "due", "overdue", "not_yet"
STATUSES = (DONE, DUE, OVERDUE, NOT_YET)

# -- columns of the results ----------------------------------------------------------------
DOSE = C.DOSE
ORDER = "order"
DUE_DATE = "due_date"
WINDOW_END = "window_end"  # last day on which the dose is still `due`
STATUS = "status"
DONE_DATE = "done_date"
DOSES_OVERDUE = "doses_overdue"  # codes, space separated, in schedule order
DOSES_DUE = "doses_due"
N_OVERDUE = "n_overdue"
N_DUE = "n_due"
NEXT_DOSE = "next_dose"  # the not-done dose with the earliest due date
NEXT_DUE_DATE = "next_due_date"
LAST_VISIT = "last_visit"  # latest record of the child on or before D, any form
NUTRITION_OVERDUE = "nutrition_overdue"
LAST_PACK = "last_pack"

#: Nutrition pack ages, in completed months: from 6 to under 24.
NUTRITION_MONTHS = (6, 24)
NUTRITION_FORM = "nutrition_pack"


def _day(on: date | str | pd.Timestamp) -> np.datetime64:
    return np.datetime64(pd.Timestamp(on).date(), "D")


def dose_status(
    children: pd.DataFrame,
    doses: pd.DataFrame,
    *,
    on: date | str | pd.Timestamp,
    schedule: Schedule,
) -> pd.DataFrame:
    """One row per child with a date of birth × schedule dose: status at `on`.

    Parameters
    ----------
    children
        `child_id`, `dob` (e.g. `analytics.children.children_table`); not modified.
    doses
        `child_id`, `event_date`, `dose` (e.g. `analytics.records.explode_doses`).
    on
        The date `D`; doses recorded after it do not count.
    schedule
        The vaccine schedule with its `[windows]`.

    Returns columns `child_id`, `dose`, `order`, `due_date`, `window_end`, `status`,
    `done_date` (NaT unless done), ordered by child (as given) then schedule order.

    Examples
    --------
    See the module docstring.
    """
    C.require(children, (C.CHILD_ID, C.DOB), "children")
    C.require(doses, (C.CHILD_ID, C.EVENT_DATE, C.DOSE), "doses")
    day = _day(on)
    known = children.loc[children[C.DOB].notna(), [C.CHILD_ID, C.DOB]]
    n, k = len(known), len(schedule.doses)
    ids = np.repeat(known[C.CHILD_ID].to_numpy(dtype=object), k)
    codes = np.tile(np.array(schedule.codes, dtype=object), n)
    # Child-major like `ids`: one column of due dates per dose, over the children only.
    dob = pd.Series(as_datetime64(known[C.DOB]))
    due = np.empty((n, k), dtype="datetime64[ns]")
    for j, dose in enumerate(schedule.doses):
        due[:, j] = add_months(dob, dose.due_months).to_numpy(dtype="datetime64[ns]")
    due = due.ravel().astype("datetime64[D]")
    window_end = due + np.timedelta64(schedule.windows.grace_days, "D")

    done_date = _first_given(known[C.CHILD_ID], doses, schedule.codes, day)
    done = ~np.isnat(done_date)
    # Positions in one array of the four labels: no string is made per row.
    labels = np.array([DONE, NOT_YET, DUE, OVERDUE], dtype=object)
    status = labels[np.where(done, 0, np.where(day < due, 1, np.where(day <= window_end, 2, 3)))]
    return pd.DataFrame(
        {
            C.CHILD_ID: ids,
            DOSE: codes,
            ORDER: np.tile(np.array([d.order for d in schedule.doses], dtype=np.int64), n),
            DUE_DATE: due.astype("datetime64[ns]"),
            WINDOW_END: window_end.astype("datetime64[ns]"),
            STATUS: status,
            DONE_DATE: done_date,
        }
    )


def _first_given(
    ids: pd.Series, doses: pd.DataFrame, codes: tuple[str, ...], day: np.datetime64
) -> np.ndarray:
    """Per child of `ids` × dose of `codes` (child-major): the first date that dose was
    given on or before `day`, NaT when never. Children and doses are matched by integer
    codes, so that a million doses need no per-row Python objects."""
    n, k = len(ids), len(codes)
    never = np.iinfo(np.int64).max
    slot_of = {code: i for i, code in reversed(list(enumerate(codes)))}  # first slot wins
    slots = np.array([slot_of[code] for code in codes], dtype=np.int64)
    child, _ = pd.factorize(
        np.concatenate([ids.to_numpy(dtype=object), doses[C.CHILD_ID].to_numpy(dtype=object)])
    )
    own, theirs = child[:n], child[n:]
    slot = doses[C.DOSE].astype(object).map(slot_of).to_numpy(dtype=float)
    dated = as_datetime64(doses[C.EVENT_DATE]).astype("datetime64[D]")
    ok = (theirs >= 0) & ~np.isnan(slot) & ~np.isnat(dated) & (dated <= day)
    first = np.full((max(int(child.max(initial=-1)) + 1, 1), k), never, dtype=np.int64)
    np.minimum.at(first, (theirs[ok], slot[ok].astype(np.int64)), dated[ok].view(np.int64))
    days = first[np.maximum(own, 0)][:, slots]
    days[own < 0] = never
    days[days == never] = np.iinfo(np.int64).min  # NaT
    return days.ravel().view("datetime64[D]").astype("datetime64[ns]")


def nutrition_overdue(
    children: pd.DataFrame,
    records: pd.DataFrame,
    *,
    on: date | str | pd.Timestamp,
    gap_days: int,
) -> pd.DataFrame:
    """Per child: `nutrition_overdue` and `last_pack` (latest pack given on or before `on`).

    Overdue: aged 6 to under 24 completed months on `on` and no `nutrition_pack` record with
    `packs_given > 0` dated within `gap_days` days before `on` (`on - gap_days` counts).

    Examples
    --------
    >>> import pandas as pd
    >>> kids = pd.DataFrame({C.CHILD_ID: ["A", "B"], C.DOB: pd.to_datetime(["2026-01-01"] * 2)})
    >>> recs = pd.DataFrame({C.CHILD_ID: ["A"], C.FORM_ID: ["nutrition_pack"],
    ...     C.EVENT_DATE: pd.to_datetime(["2026-08-01"]), C.PACKS_GIVEN: [30.0]})
    >>> nutrition_overdue(kids, recs, on="2026-09-05", gap_days=35)[NUTRITION_OVERDUE].tolist()
    [False, True]
    """
    C.require(children, (C.CHILD_ID, C.DOB), "children")
    C.require(records, (C.CHILD_ID, C.FORM_ID, C.EVENT_DATE), "records")
    day = _day(on)
    packs = records.loc[(records[C.FORM_ID] == NUTRITION_FORM).to_numpy()]
    if C.PACKS_GIVEN in packs:
        packs = packs.loc[(pd.to_numeric(packs[C.PACKS_GIVEN], errors="coerce") > 0).to_numpy()]
    dated = as_datetime64(packs[C.EVENT_DATE]).astype("datetime64[D]")
    frame = pd.DataFrame({C.CHILD_ID: packs[C.CHILD_ID].astype(object).to_numpy(), "d": dated})
    frame = frame.loc[frame["d"].notna() & (frame["d"] <= day)]
    last = frame.groupby(C.CHILD_ID, sort=False)["d"].max()
    ids = children[C.CHILD_ID].astype(object)
    last_pack = ids.map(last).to_numpy(dtype="datetime64[ns]")
    age = completed_months(children[C.DOB], pd.Timestamp(day).date())
    eligible = (age >= NUTRITION_MONTHS[0]) & (age < NUTRITION_MONTHS[1])
    since = day - np.timedelta64(gap_days, "D")
    recent = ~np.isnat(last_pack) & (last_pack.astype("datetime64[D]") >= since)
    return pd.DataFrame(
        {
            C.CHILD_ID: ids.to_numpy(),
            NUTRITION_OVERDUE: eligible & ~recent,
            LAST_PACK: last_pack,
        }
    )


def due_children(
    children: pd.DataFrame,
    records: pd.DataFrame,
    doses: pd.DataFrame,
    *,
    on: date | str | pd.Timestamp,
    schedule: Schedule,
) -> pd.DataFrame:
    """One row per child of `children` (same order): their work at `on`.

    Columns: those of `children`, then `doses_overdue`, `doses_due` (codes in schedule
    order, space separated), `n_overdue`, `n_due`, `next_dose`, `next_due_date`,
    `last_visit`, `nutrition_overdue`, `last_pack`. A child without a date of birth has no
    dose status (counts 0).

    Examples
    --------
    >>> import pandas as pd
    >>> from forms.schedule import load_schedule
    >>> kids = pd.DataFrame({C.CHILD_ID: ["K1"], C.DOB: pd.to_datetime(["2026-01-15"])})
    >>> recs = pd.DataFrame({C.CHILD_ID: ["K1"], C.FORM_ID: ["immunization"],
    ...     C.EVENT_DATE: pd.to_datetime(["2026-01-15"]), C.DOSES_GIVEN: ["bcg hepb1"]})
    >>> doses = pd.DataFrame({C.CHILD_ID: ["K1", "K1"], C.DOSE: ["bcg", "hepb1"],
    ...     C.EVENT_DATE: pd.to_datetime(["2026-01-15"] * 2)})
    >>> row = due_children(kids, recs, doses, on="2026-03-20", schedule=load_schedule()).iloc[0]
    >>> row[DOSES_OVERDUE], row[DOSES_DUE], row[NEXT_DOSE], str(row[NEXT_DUE_DATE].date())
    ('hepb2', 'ipv1', 'hepb2', '2026-02-15')
    """
    C.require(records, (C.CHILD_ID, C.FORM_ID, C.EVENT_DATE), "records")
    status = dose_status(children, doses, on=on, schedule=schedule)
    out = children.copy()
    ids = out[C.CHILD_ID].astype(object)
    # `status` is child-major, one row per schedule dose: a child's doses are one row here,
    # joined in schedule order without a Python call per child and group.
    k = len(schedule.doses)
    codes = status[DOSE].to_numpy(dtype=object).reshape(-1, k).tolist()
    states = status[STATUS].to_numpy(dtype=object).reshape(-1, k)
    known = pd.Index(status[C.CHILD_ID].to_numpy(dtype=object)[::k], dtype=object)
    for name, wanted in ((DOSES_OVERDUE, OVERDUE), (DOSES_DUE, DUE)):
        hits = (states == wanted).tolist()
        joined = pd.Series(
            [
                " ".join(c for c, hit in zip(row, picked, strict=True) if hit)
                for row, picked in zip(codes, hits, strict=True)
            ],
            index=known,
            dtype=object,
        )
        joined = joined[~known.duplicated(keep="last")]
        out[name] = ids.map(joined).fillna("").to_numpy(dtype=object)
    for name, count in ((DOSES_OVERDUE, N_OVERDUE), (DOSES_DUE, N_DUE)):
        out[count] = np.array([len(v.split()) for v in out[name]], dtype=np.int64)

    pending = status.loc[status[STATUS] != DONE].sort_values(
        [C.CHILD_ID, DUE_DATE, ORDER], kind="stable"
    )
    nxt = pending.drop_duplicates(C.CHILD_ID).set_index(C.CHILD_ID)
    out[NEXT_DOSE] = ids.map(nxt[DOSE]).to_numpy(dtype=object)
    out[NEXT_DUE_DATE] = ids.map(nxt[DUE_DATE]).to_numpy(dtype="datetime64[ns]")

    day = _day(on)
    event = as_datetime64(records[C.EVENT_DATE]).astype("datetime64[D]")
    visits = pd.DataFrame({C.CHILD_ID: records[C.CHILD_ID].astype(object).to_numpy(), "d": event})
    visits = visits.loc[visits["d"].notna() & (visits["d"] <= day)]
    last = visits.groupby(C.CHILD_ID, sort=False)["d"].max()
    out[LAST_VISIT] = ids.map(last).to_numpy(dtype="datetime64[ns]")

    gap = schedule.windows.nutrition_gap_days
    nutrition = nutrition_overdue(children, records, on=on, gap_days=gap)
    out[NUTRITION_OVERDUE] = nutrition[NUTRITION_OVERDUE].to_numpy()
    out[LAST_PACK] = nutrition[LAST_PACK].to_numpy()
    return out.reset_index(drop=True)


def overdue_per_township(work: pd.DataFrame) -> pd.DataFrame:
    """`township_code`, `overdue_children`: children with at least one overdue dose.

    >>> import pandas as pd
    >>> work = pd.DataFrame({C.TOWNSHIP: ["450123101", "450123101"], N_OVERDUE: [2, 0]})
    >>> overdue_per_township(work).values.tolist()
    [['450123101', 1]]
    """
    C.require(work, (C.TOWNSHIP, N_OVERDUE), "work")
    counted = (work[N_OVERDUE] > 0).astype("int64").groupby(work[C.TOWNSHIP].astype(object))
    return counted.sum().rename(C.OVERDUE_CHILDREN).reset_index()
