"""One record per child, recomputed from all of that child's facts (pure functions).

A record holds what the due lists need at any date `D`, so a list never reads the
submissions again: sex and date of birth as `analytics.children.children_table` resolves
them (with the conflict flags), the township runs in event order (the township at `D` is
that of the latest record dated on or before `D`), the first date of every dose given,
the days of every visit and of every nutrition pack given. Per township the child was
recorded in, the village of the latest submission there.

Dates are ISO strings: days (`2026-07-01`) as the forms record them, a full instant only
if a value carries a time of day, so a date read back is exactly the one computed.

>>> from analytics.register.facts import facts_frame
>>> row = ("d1", "K1", "immunization", "450123101", "450123", 1782864000000000000, 0,
...        "male", 1767225600000000000, "bcg hepb1", None, "弄岗村", "2026-07-01T10:00")
>>> children, towns = child_records(facts_frame([row]))
>>> children[0][:7]
('K1', '450123101', '450123', '弄岗村', 'male', '2026-01-01', 0)
>>> children[0][8], children[0][9]
('[["2026-07-01","450123101"]]', '{"bcg":"2026-07-01","hepb1":"2026-07-01"}')
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from analytics import columns as C
from analytics.children import children_table
from analytics.due import NUTRITION_FORM
from analytics.records import explode_doses

#: Columns of the `children` table, in order.
CHILD_COLUMNS = (
    "child_id",
    "township",  # of the latest record
    "county",
    "village",  # of the latest submission naming one, anywhere
    "sex",
    "dob",
    "dob_conflict",
    "sex_conflict",
    "moves",  # JSON [[first dated record of the run, township], ...] in event order
    "doses",  # JSON {dose: first day given}
    "visits",  # JSON [day, ...]: every record's event day, sorted, distinct
    "packs",  # JSON [day, ...]: nutrition packs given (packs_given > 0)
    "last_visit",
    "last_pack",
)
#: Columns of the `child_townships` table: one row per child and township recorded in.
TOWNSHIP_COLUMNS = ("child_id", "township", "village", "village_collected", "village_doc")


def iso(values: np.ndarray) -> list[str | None]:
    """`datetime64` values as ISO text: the day alone at midnight, else the full instant."""
    values = np.asarray(values, dtype="datetime64[ns]")
    days = values.astype("datetime64[D]")
    exact = (values == days.astype("datetime64[ns]")).tolist()
    day_text = np.datetime_as_string(days, unit="D").tolist()
    full_text = np.datetime_as_string(values, unit="ns").tolist()
    nat = np.isnat(values).tolist()
    return [
        None if nat[i] else (day_text[i] if exact[i] else full_text[i]) for i in range(len(values))
    ]


def parse_iso(values: list[str | None]) -> np.ndarray:
    """ISO text (None for missing) back to `datetime64[ns]`."""
    return np.array(["NaT" if v is None else v for v in values], dtype="datetime64[ns]")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def child_records(records: pd.DataFrame) -> tuple[list[tuple], list[tuple]]:
    """Rows of `children` (`CHILD_COLUMNS`) and `child_townships` (`TOWNSHIP_COLUMNS`) for
    every child of `records` (facts sorted by child, then in event order:
    `facts.facts_frame`)."""
    if records.empty:
        return [], []
    table = children_table(records, on=pd.Timestamp.max.normalize())
    children = records[C.CHILD_ID].tolist()
    towns = records[C.TOWNSHIP].tolist()
    counties = records[C.COUNTY].tolist()
    events = iso(records[C.EVENT_DATE].to_numpy())
    days = iso(records[C.EVENT_DATE].to_numpy().astype("datetime64[D]"))
    packed = ((records[C.FORM_ID] == NUTRITION_FORM) & (records[C.PACKS_GIVEN] > 0)).tolist()
    named = zip(records["village"], records["collected"], records[C.DOC_ID], strict=True)

    latest: dict[str, tuple[str | None, str | None]] = {}
    moves: dict[str, list[list[str | None]]] = {}
    visits: dict[str, set[str]] = {}
    packs: dict[str, set[str]] = {}
    village: dict[str, tuple[tuple[str, str], str]] = {}
    place: dict[tuple[str, str], tuple[tuple[str, str], str] | None] = {}
    for i, (child, township) in enumerate(zip(children, towns, strict=True)):
        latest[child] = (township, counties[i])
        runs = moves.setdefault(child, [])
        if not runs or runs[-1][1] != township:
            runs.append([events[i], township])
        elif runs[-1][0] is None:
            runs[-1][0] = events[i]  # the run's first dated record
        seen = visits.setdefault(child, set())
        if days[i] is not None:
            seen.add(days[i])
            if packed[i]:
                packs.setdefault(child, set()).add(days[i])
        name, collected, doc_id = next(named)
        if township is not None:
            place.setdefault((child, township), None)
        if name is None or name == "":
            continue
        # Latest by (collected_at as written, document id), as the lists always compared.
        stamp = (collected or "", doc_id)
        if child not in village or stamp >= village[child][0]:
            village[child] = (stamp, name.strip())
        if township is not None:
            held = place[(child, township)]
            if held is None or stamp >= held[0]:
                place[(child, township)] = (stamp, name.strip())

    first: dict[str, dict[str, str]] = {}
    doses = explode_doses(records)
    dated = iso(doses[C.EVENT_DATE].to_numpy().astype("datetime64[D]"))
    for child, dose, day in zip(
        doses[C.CHILD_ID], doses[C.DOSE].astype(object), dated, strict=True
    ):
        if day is not None:
            given = first.setdefault(child, {})
            if dose not in given or day < given[dose]:
                given[dose] = day

    rows = []
    resolved = zip(
        table[C.CHILD_ID],
        table[C.SEX],
        iso(table[C.DOB].to_numpy()),
        table[C.DOB_CONFLICT],
        table[C.SEX_CONFLICT],
        strict=True,
    )
    for child, sex, dob, dob_conflict, sex_conflict in resolved:
        seen, fed = sorted(visits[child]), sorted(packs.get(child, ()))
        rows.append(
            (
                child,
                *latest[child],
                village[child][1] if child in village else None,
                sex,
                dob,
                int(dob_conflict),
                int(sex_conflict),
                _dump(moves[child]),
                _dump(first.get(child, {})),
                _dump(seen),
                _dump(fed),
                seen[-1] if seen else None,
                fed[-1] if fed else None,
            )
        )
    places = [
        (child, township, *((None, None, None) if hit is None else (hit[1], *hit[0])))
        for (child, township), hit in place.items()
    ]
    return rows, places
