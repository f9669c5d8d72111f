"""Due lists as each role may see them, and the children list Collect downloads.

Who sees what is the scope's decision (`server.accounts.scope`): a user who
`sees_personal_data` gets the list with names for townships of their scope; a user who may
only see coverage (analysts) gets counts, never a child id or a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from analytics import columns as C
from analytics import due as D
from analytics.source import Source
from forms.catalog import CatalogForm
from forms.media import CHILDREN_CSV, children_list_csv, doses_text
from forms.schedule import load_schedule
from server.accounts.scope import Scope
from server.core.places import registry_places
from server.due import selectors

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
    rows = []
    for code in load_schedule().codes:
        rows.append(
            {
                "dose": code,
                "due": int(work[D.DOSES_DUE].str.split().apply(lambda d, c=code: c in d).sum()),
                "overdue": int(
                    work[D.DOSES_OVERDUE].str.split().apply(lambda d, c=code: c in d).sum()
                ),
            }
        )
    return counts, pd.DataFrame(rows, columns=["dose", "due", "overdue"])


def due_list(*, township: str, on: date, scope: Scope, source: Source | None = None) -> DueList:
    """The due list of `township` at `on` as `scope` may see it.

    Raises `DueAccessDenied` outside the scope (or for a role with neither names nor
    coverage) and `UnknownTownship` for a code the registry does not know.
    """
    if not (scope.sees_personal_data or scope.can_see_coverage):
        raise DueAccessDenied("this role may not see due lists")
    if not scope.allows_township(township):
        raise DueAccessDenied(f"township {township} is not in your area")
    if township not in registry_places().county_of_township:
        raise UnknownTownship(f"unknown township {township!r}")
    work = selectors.due_work(on=on, townships=[township], source=source)
    counts, doses = _counts(work)
    if not scope.sees_personal_data:
        return DueList(township, on, counts, doses, None)
    listed = work.loc[(work[D.N_OVERDUE] > 0) | (work[D.N_DUE] > 0) | work[D.NUTRITION_OVERDUE]]
    details = selectors.child_details([township], listed[C.CHILD_ID])
    table = listed.merge(details, on=C.CHILD_ID, how="left")
    table = table.sort_values(
        [selectors.VILLAGE, C.DOB, C.CHILD_ID], kind="stable", na_position="last"
    )
    return DueList(
        township, on, counts, doses, table.loc[:, list(LIST_COLUMNS)].reset_index(drop=True)
    )


def _iso(value: object) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def children_csv(*, scope: Scope, on: date, source: Source | None = None) -> bytes:
    """The children of the user's townships with their due and overdue doses, for Collect.

    Rows sorted by village then child id; UTF-8 without BOM, LF endings: the same data give
    the same bytes, so the manifest hash changes exactly when the content does.
    """
    if not scope.sees_personal_data:
        raise DueAccessDenied("this role may not download children's names")
    work = selectors.due_work(on=on, townships=scope.townships, source=source)
    towns = (
        sorted(set(work[C.TOWNSHIP].dropna()))
        if scope.townships is None
        else sorted(scope.townships)
    )
    details = selectors.child_details(towns, work[C.CHILD_ID])
    table = work.merge(details, on=C.CHILD_ID, how="left").fillna(
        {selectors.NAME: "", selectors.VILLAGE: ""}
    )
    table = table.sort_values([selectors.VILLAGE, C.CHILD_ID], kind="stable")
    schedule = load_schedule()
    rows = []
    for row in table.itertuples(index=False):
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
                _iso(getattr(row, C.DOB)),
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
    """Media made for this user when Collect asks for a form's manifest or files: the
    children list, for the forms built with one (its built copy is empty)."""
    if form.media_file(CHILDREN_CSV) is None or not scope.sees_personal_data:
        return {}
    return {CHILDREN_CSV: children_csv(scope=scope, on=on)}


def overdue_counts(*, on: date, scope: Scope, source: Source | None = None) -> pd.DataFrame:
    """`township_code`, `overdue_children` for the townships of `scope` (counts only)."""
    work = selectors.due_work(on=on, townships=scope.townships, source=source)
    return D.overdue_per_township(work)
