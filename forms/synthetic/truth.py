"""The ground truth: what was simulated and exactly what was submitted, as Arrow tables.

Tables (one Parquet file each in `truth/`):

- `children`: every simulated child, with what is known at birth and `registered`
  (whether any counted submission names the child);
- `newborn_visit`, `nutrition_pack`, `immunization`: one row per distinct submission
  (an original, or a corrected version): `instance_id`, `original_id` (the first
  version's id, which is the server's document id), `deprecated_id`, `version` (1, 2),
  `true_child_id` (the simulated child, even when the card number was mistyped), every
  contract field in form order as submitted (`county_code`, `township_code`, `village`,
  `child_id`, ..., the form's date field, ...; `age_months` for nutrition packs), `start`,
  `end`, `laz_sim`/`waz_sim` (the simulation's z-scores before rounding or a slip:
  recompute z from the measurements), `received_at` (first arrival), `late`,
  `duplicates` (resends received), `invalid` and `reason` (the expected refusal code),
  `edited_field` (the field a later version corrects; the slip is in version 1),
  `superseded` (a later version arrived) and `counts` (accepted and the latest version:
  what the analytics must count);
- `doses`: one row per dose in a counted immunization submission;
- `arrivals`: one row per delivery, in arrival order, with what the server should answer;
- `townships`: each township's simulated propensities.

Dates are Arrow `date32`, `start`/`end` timestamps in Asia/Shanghai, `received_at` in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pyarrow as pa

from forms.contract import CONTRACTS
from forms.schedule import Schedule
from forms.synthetic.dates import UTC_OFFSET_MS, completed_months
from forms.synthetic.faults import DUPLICATE, EDIT, KINDS, ORIGINAL, Submissions
from forms.synthetic.model import Simulation

Columns = Mapping[str, np.ndarray]
LOCAL_TZ = "Asia/Shanghai"
#: Truth columns named differently from the form field they hold.
RENAMED = {
    "instanceID": "instance_id",
    "deprecatedID": "deprecated_id",
    "county": "county_code",
    "township": "township_code",
}
_FLAGS = (
    "received_at",
    "late",
    "duplicates",
    "invalid",
    "reason",
    "edited_field",
    "superseded",
    "counts",
)


def _column(values: np.ndarray, kind: str | None = None) -> pa.Array:
    values = np.asarray(values)
    if kind == "local_ms":
        return pa.array(values - UTC_OFFSET_MS, type=pa.timestamp("ms", tz=LOCAL_TZ))
    if kind == "utc_ms":
        return pa.array(values, type=pa.timestamp("ms", tz="UTC"))
    if values.dtype.kind == "M":
        return pa.array(values.astype("datetime64[D]"), type=pa.date32())
    if values.dtype.kind == "i" and kind == "optional":
        return pa.array(values, mask=values < 0, type=pa.int32())
    if values.dtype.kind == "i":
        return pa.array(values, type=pa.int64())
    if values.dtype.kind == "O":
        return pa.array(values, type=pa.string(), from_pandas=True)
    return pa.array(values)


def _optional(form_id: str, name: str) -> bool:
    contract = CONTRACTS[form_id]
    return name in contract.names and contract[name].kind == "integer"


def form_table(form_id: str, table: Columns, children: Columns) -> pa.Table:
    """One form's truth: identity, the submitted fields in form order, then flags."""
    contract = CONTRACTS[form_id]
    instance = table["instanceID"]
    columns: dict[str, pa.Array] = {
        "instance_id": _column(instance),
        "original_id": _column(instance[table["original"]]),
        "deprecated_id": _column(table["deprecatedID"]),
        "version": _column(table["version"]),
        "true_child_id": _column(children["child_id"][table["child"]]),
    }
    for f in contract:
        if f.name in ("start", "end"):
            continue
        name = RENAMED.get(f.name, f.name)
        kind = "optional" if _optional(form_id, f.name) else None
        columns[name] = _column(table[f.name], kind)
        if f.name == "distribution_date":
            months = completed_months(table["child_dob"], table[f.name])
            columns["age_months"] = pa.array(months, type=pa.int32())
    columns["start"] = _column(table["start"], "local_ms")
    columns["end"] = _column(table["end"], "local_ms")
    for name in ("laz_sim", "waz_sim"):
        if name in table:
            columns[name] = _column(table[name])
    for name in _FLAGS:
        source = "received" if name == "received_at" else name
        columns[name] = _column(table[source], "utc_ms" if name == "received_at" else None)
    return pa.table(columns)


def doses_table(table: Columns, children: Columns, schedule: Schedule) -> pa.Table:
    """Doses from counted immunization submissions: child, dose, date and where, sorted by
    child, date and schedule order."""
    rows = np.flatnonzero(table["counts"])
    lists = [str(d).split() for d in table["doses_given"][rows]]
    index = np.repeat(rows, [len(x) for x in lists])
    dose = np.array([code for x in lists for code in x], dtype=object)
    rank = {code: i for i, code in enumerate(schedule.codes)}
    dose_rank = np.array([rank[code] for code in dose], dtype=np.int64)
    child_rank = np.empty(len(children["child_id"]), dtype=np.int64)
    child_rank[np.argsort(children["child_id"], kind="stable")] = np.arange(len(child_rank))
    dates = np.asarray(table["vaccination_date"][index], dtype="datetime64[D]")
    order = np.lexsort((dose_rank, dates, child_rank[table["child"][index]]))
    index, dose = index[order], dose[order]
    return pa.table(
        {
            "child_id": _column(table["child_id"][index]),
            "dose": _column(dose),
            "date": _column(table["vaccination_date"][index]),
            "instance_id": _column(table["instanceID"][index]),
            "original_id": _column(table["instanceID"][table["original"][index]]),
            "township_code": _column(table["township"][index]),
            "county_code": _column(table["county"][index]),
        }
    )


def children_table(simulation: Simulation, submissions: Submissions) -> pa.Table:
    """Every simulated child; `registered` when a counted submission names the child."""
    c = simulation.children
    n = len(c["child"])
    registered = np.zeros(n, dtype=bool)
    for table in submissions.forms.values():
        registered[table["child"][table["counts"]]] = True
    return pa.table(
        {
            "child_id": _column(c["child_id"]),
            "child_name": _column(c["child_name"]),
            "sex": _column(c["child_sex"]),
            "dob": _column(c["child_dob"]),
            "township_code": _column(c["township"]),
            "county_code": _column(c["county"]),
            "village": _column(c["village"]),
            "mother_name": _column(c["mother_name"]),
            "place_of_delivery": _column(c["place_of_delivery"]),
            "born_in_facility": _column(c["born_in_facility"]),
            "birth_weight_g": _column(c["birth_weight_g"]),
            "gestational_weeks": _column(c["gestational_weeks"], "optional"),
            "disease_screening": _column(c["disease_screening"]),
            "hearing_screening": _column(c["hearing_screening"]),
            "registered": _column(registered),
        }
    )


def _gather(submissions: Submissions, name: str) -> np.ndarray:
    """Column `name` of each delivery's submission, in arrival order."""
    a = submissions.arrivals
    out: np.ndarray | None = None
    for f, form_id in enumerate(submissions.form_ids):
        mask = a["form"] == f
        values = submissions.forms[form_id][name][a["row"][mask]]
        if out is None:
            out = np.empty(len(a["row"]), dtype=values.dtype)
        out[mask] = values
    assert out is not None
    return out


def expected_results(submissions: Submissions) -> np.ndarray:
    """What the ingestion core should answer to each delivery, in arrival order:
    `created`, `updated` (an edit), `unchanged` (a resend) or `quarantined`."""
    kind = submissions.arrivals["kind"]
    results = np.array(["created", "updated", "unchanged"], dtype=object)
    assert (ORIGINAL, EDIT, DUPLICATE) == (0, 1, 2)
    return np.where(_gather(submissions, "invalid"), "quarantined", results[kind]).astype(object)


def arrivals_table(submissions: Submissions) -> pa.Table:
    """One row per delivery, in the order of `submissions.jsonl`."""
    a = submissions.arrivals
    form_ids = np.array(submissions.form_ids, dtype=object)
    return pa.table(
        {
            "seq": pa.array(np.arange(len(a["row"])), type=pa.int64()),
            "form_id": _column(form_ids[a["form"]]),
            "instance_id": _column(_gather(submissions, "instanceID")),
            "deprecated_id": _column(_gather(submissions, "deprecatedID")),
            "kind": _column(np.array(KINDS, dtype=object)[a["kind"]]),
            "received_at": _column(a["received"], "utc_ms"),
            "collected_at": _column(_gather(submissions, "end"), "local_ms"),
            "township_code": _column(_gather(submissions, "township")),
            "invalid": _column(_gather(submissions, "invalid")),
            "reason": _column(_gather(submissions, "reason")),
            "expected": _column(expected_results(submissions)),
        }
    )


def townships_table(simulation: Simulation) -> pa.Table:
    """Each township's simulated propensities, and how many children were born there."""
    frame = simulation.townships.drop(columns=["villages"]).copy()
    frame.insert(3, "villages", [len(v) for v in simulation.townships["villages"]])
    frame["children"] = np.bincount(simulation.children["t"], minlength=len(frame))
    return pa.Table.from_pandas(frame, preserve_index=False)


def truth_tables(
    simulation: Simulation, submissions: Submissions, schedule: Schedule
) -> Iterator[tuple[str, pa.Table]]:
    """Every truth table with its file stem, one at a time (each can be written and freed)."""
    yield "children", children_table(simulation, submissions)
    for form_id in submissions.form_ids:
        yield form_id, form_table(form_id, submissions.forms[form_id], simulation.children)
    yield "doses", doses_table(submissions.forms["immunization"], simulation.children, schedule)
    yield "arrivals", arrivals_table(submissions)
    yield "townships", townships_table(simulation)
