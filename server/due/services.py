"""Due lists as each role may see them, and the children list Collect downloads.

Who sees what is the scope's decision (`server.accounts.scope`): a user who
`sees_personal_data` gets the list with names for townships of their scope; a user who may
only see coverage (analysts) gets counts, never a child id or a name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics import due as D
from analytics.register import read
from forms.catalog import CatalogForm
from forms.media import CHILDREN_CSV, children_list_csv, doses_text
from forms.schedule import load_schedule
from server.accounts.scope import Scope
from server.core.places import registry_places
from server.due import register, selectors
from server.due.register import RegisterNotReady

#: Columns of a list with names, in order.
LIST_COLUMNS = (
    C.CHILD_ID,
    selectors.NAME,
    C.SEX,
    C.DOB,
    selectors.VILLAGE,
    D.DOSES_OVERDUE,
    D.DOSES_DUE,
    D.LAST_VISIT,
    D.NUTRITION_OVERDUE,
    D.NEXT_DOSE,
    D.NEXT_DUE_DATE,
)


class DueAccessDenied(PermissionError):
    """The township is not in the user's area, or the role sees no due list."""


class UnknownTownship(ValueError):
    """The township code is not in the registry."""


@dataclass(frozen=True)
class DueList:
    """One township's due list at `on`: counts always, `children` only with names."""

    township: str
    on: date
    counts: dict[str, int]
    doses: pd.DataFrame  # dose, due, overdue (children per dose)
    children: pd.DataFrame | None  # LIST_COLUMNS, sorted by village then date of birth


def _counts(work: pd.DataFrame) -> tuple[dict[str, int], pd.DataFrame]:
    listed = (work[D.N_OVERDUE] > 0) | (work[D.N_DUE] > 0) | work[D.NUTRITION_OVERDUE]
    counts = {
        "children": len(work),
        "listed_children": int(listed.sum()),
        "overdue_children": int((work[D.N_OVERDUE] > 0).sum()),
        "due_children": int((work[D.N_DUE] > 0).sum()),
        "nutrition_overdue_children": int(work[D.NUTRITION_OVERDUE].sum()),
    }
    due = Counter(c for d in work[D.DOSES_DUE] for c in set(d.split()))
    overdue = Counter(c for d in work[D.DOSES_OVERDUE] for c in set(d.split()))
    rows = [
        {"dose": code, "due": due[code], "overdue": overdue[code]} for code in load_schedule().codes
    ]
    return counts, pd.DataFrame(rows, columns=["dose", "due", "overdue"])


def due_list(*, township: str, on: date, scope: Scope) -> DueList:
    """The due list of `township` at `on` as `scope` may see it, from the children register.

    Raises `DueAccessDenied` outside the scope (or for a role with neither names nor
    coverage), `UnknownTownship` for a code the registry does not know and
    `RegisterNotReady` while the register is first being built.
    """
    if not (scope.sees_personal_data or scope.can_see_coverage):
        raise DueAccessDenied("this role may not see due lists")
    if not scope.allows_township(township):
        raise DueAccessDenied(f"township {township} is not in your area")
    if township not in registry_places().county_of_township:
        raise UnknownTownship(f"unknown township {township!r}")
    view = register.catch_up()
    if not view.complete:
        raise RegisterNotReady("the children register is being built; try again shortly")
    with register.snapshot(view):
        work = selectors.due_work(view, on=on, townships=[township])
        counts, doses = _counts(work)
        if not scope.sees_personal_data:
            return DueList(township, on, counts, doses, None)
        listed = work.loc[(work[D.N_OVERDUE] > 0) | (work[D.N_DUE] > 0) | work[D.NUTRITION_OVERDUE]]
        details = selectors.child_details(view, [township], listed[C.CHILD_ID])
    table = listed.merge(details, on=C.CHILD_ID, how="left")
    table = table.sort_values(
        [selectors.VILLAGE, C.DOB, C.CHILD_ID], kind="stable", na_position="last"
    )
    return DueList(
        township, on, counts, doses, table.loc[:, list(LIST_COLUMNS)].reset_index(drop=True)
    )


def iso_days(values: pd.Series) -> list[str]:
    """Dates as `YYYY-MM-DD`, "" where missing: a whole column at once."""
    days = values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    return ["" if text == "NaT" else text for text in np.datetime_as_string(days).tolist()]


#: Lists made, by (register file, generation, townships, date, their stamps).
_lists: register.Memo[tuple, bytes] = register.Memo(64)
#: The last list made per (register file, townships): served while the register is rebuilt.
_last_good: register.Memo[tuple, bytes] = register.Memo(128)


def children_csv(*, scope: Scope, on: date) -> bytes:
    """The children of the user's townships with their due and overdue doses, for Collect.

    Rows sorted by village then child id; UTF-8 without BOM, LF endings: the same data give
    the same bytes, so the manifest hash changes exactly when the content does. Made from
    the register caught up for at most `register.BUDGET` seconds, and reused until a
    township of the list changes or the date does; while the register is rebuilt from
    the start, the last list made is served (`RegisterNotReady` when there is none).
    """
    if not scope.sees_personal_data:
        raise DueAccessDenied("this role may not download children's names")
    view = register.catch_up()
    towns = scope.townships
    mine = (str(view.state.path), towns)
    if not view.complete:
        last = _last_good.get(mine)
        if last is None:
            raise RegisterNotReady("the children register is being built; try again shortly")
        return last
    with register.snapshot(view) as conn:
        generation, _, stamps = read.stamps(conn, towns)
        key = (*mine, generation, on, stamps)
        content = _lists.get_or_make(key, lambda: _children_list(view, towns, on))
    return _last_good.put(mine, content)


def _children_list(view: register.View, townships: frozenset[str] | None, on: date) -> bytes:
    work = selectors.due_work(view, on=on, townships=townships)
    towns = sorted(set(work[C.TOWNSHIP].dropna())) if townships is None else sorted(townships)
    details = selectors.child_details(view, towns, work[C.CHILD_ID])
    table = work.merge(details, on=C.CHILD_ID, how="left").fillna(
        {selectors.NAME: "", selectors.VILLAGE: ""}
    )
    table = table.sort_values([selectors.VILLAGE, C.CHILD_ID], kind="stable")
    schedule = load_schedule()
    rows = []
    dobs = iso_days(table[C.DOB])
    for row, dob in zip(table.itertuples(index=False), dobs, strict=True):
        child, name = getattr(row, C.CHILD_ID), getattr(row, selectors.NAME)
        due, overdue = getattr(row, D.DOSES_DUE), getattr(row, D.DOSES_OVERDUE)
        rows.append(
            (
                child,
                f"{child} {name}".strip(),
                getattr(row, C.TOWNSHIP) or "",
                getattr(row, selectors.VILLAGE),
                name,
                getattr(row, C.SEX) or "",
                dob,
                due,
                overdue,
                doses_text(
                    schedule,
                    due,
                    overdue,
                    nutrition_overdue=bool(getattr(row, D.NUTRITION_OVERDUE)),
                ),
            )
        )
    return children_list_csv(rows)


def form_media(form: CatalogForm, *, scope: Scope, on: date) -> dict[str, bytes]:
    """Media made for this user when Collect asks for a form's manifest or its children
    list: the children list, for the forms built with one (its built copy is empty)."""
    if form.media_file(CHILDREN_CSV) is None or not scope.sees_personal_data:
        return {}
    return {CHILDREN_CSV: children_csv(scope=scope, on=on)}


def overdue_counts(*, on: date, scope: Scope) -> pd.DataFrame:
    """`township_code`, `overdue_children` for the townships of `scope` (counts only)."""
    view = register.catch_up()
    if not view.complete:
        raise RegisterNotReady("the children register is being built; try again shortly")
    work = selectors.due_work(view, on=on, townships=scope.townships)
    return D.overdue_per_township(work)
