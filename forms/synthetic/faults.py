"""From visits to submissions: instance ids, arrival times and the optional realistic faults.

Pure and seeded. Every visit becomes one submission with a random (seeded) `uuid:`
instanceID that arrives hours to days after it was collected. Optional faults, each a
share of submissions:

- `invalid`: the submission carries a mistake the server refuses, with the reason code it
  must be refused with (`out_of_range`, `unknown_township`, `before_birth`, `future_date`,
  `age_out_of_window`, `invalid_pattern`);
- `edits`: the submission was sent with a slip (wrong village, name, weight, ...) and a
  corrected version follows, with a new instanceID and `deprecatedID` naming the first;
- `duplicates`: the same bytes are sent again later;
- `late`: the submission arrives weeks after collection.

Nothing arrives after the end of the evaluation day (Asia/Shanghai): what would arrive
later has not arrived yet and is left out, with its edits and resends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forms.synthetic.dates import UTC_OFFSET_MS, day_start_ms
from forms.synthetic.options import Options
from forms.synthetic.people import GIVEN_FEMALE, GIVEN_MALE

Columns = dict[str, np.ndarray]

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
FORM_DATE = {
    "newborn_visit": "visit_date",
    "nutrition_pack": "distribution_date",
    "immunization": "vaccination_date",
}
INVALID_REASONS = {
    "newborn_visit": (
        "out_of_range",
        "unknown_township",
        "before_birth",
        "future_date",
        "invalid_pattern",
    ),
    "nutrition_pack": ("out_of_range", "unknown_township", "age_out_of_window", "invalid_pattern"),
    "immunization": ("unknown_township", "before_birth", "future_date", "invalid_pattern"),
}
EDITED_FIELDS = {
    "newborn_visit": ("village", "birth_weight_g", "child_name"),
    "nutrition_pack": ("village", "weight_kg", "length_cm"),
    "immunization": ("village", "child_name"),
}
#: Columns that invalid values and slips change in place.
MUTABLE = (
    "township",
    "child_id",
    "child_name",
    "village",
    "birth_weight_g",
    "weight_kg",
    "length_cm",
    "next_visit_date",
    *FORM_DATE.values(),
)
#: Arrival kinds in `Submissions.arrivals["kind"]`.
ORIGINAL, EDIT, DUPLICATE = 0, 1, 2
KINDS = ("original", "edit", "duplicate")


@dataclass
class Submissions:
    """The submitted versions per form and the order they arrive in.

    `forms[form_id]` has one row per distinct submission (an original or a corrected
    version) with the submitted typed values, `instanceID`, `deprecatedID` and the truth
    flags; `arrivals` has one row per delivery, sorted by arrival: `form` (index into
    `form_ids`), `row`, `kind` (`ORIGINAL`, `EDIT`, `DUPLICATE`) and `received` (UTC ms).
    """

    form_ids: tuple[str, ...]
    forms: dict[str, Columns]
    arrivals: Columns


def instance_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """`uuid:` + version-4 UUIDs from the generator's bits (as `uuid.UUID(int=..., version=4)`)."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    text = raw.tobytes().hex()
    out = np.empty(n, dtype=object)
    for i in range(n):
        h = text[32 * i : 32 * i + 32]
        out[i] = f"uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return out


def make_submissions(
    visits: dict[str, Columns],
    params: pd.DataFrame,
    known_townships: frozenset[str],
    options: Options,
) -> Submissions:
    """Turn the simulated visits into submissions with faults and arrival times.

    The visit columns are shared, not copied, unless a fault changes them.
    """
    form_ids = tuple(visits)
    cap = evaluation_end_ms(options)
    forms: dict[str, Columns] = {}
    arrivals: list[Columns] = []
    for f, form_id in enumerate(form_ids):
        rng = np.random.default_rng([options.seed, 20 + f])
        table = dict(visits[form_id])
        if options.invalid > 0 or options.edits > 0:  # copy what faults may change
            for name in MUTABLE:
                if name in table:
                    table[name] = table[name].copy()
        table["instanceID"] = instance_ids(len(table["child"]), rng)
        table["deprecatedID"] = np.full(len(table["child"]), None, dtype=object)
        _add_invalid(form_id, table, options.invalid, known_townships, options, rng)
        table = _add_edits(form_id, table, options.edits, params, rng)
        table, arrived = _arrive(table, options, cap, rng)
        forms[form_id] = table
        arrivals.append({**arrived, "form": np.full(len(arrived["row"]), f, dtype=np.int64)})
    merged = {k: np.concatenate([a[k] for a in arrivals]) for k in arrivals[0]}
    order = np.lexsort((merged["row"], merged["form"], merged["received"]))
    return Submissions(form_ids, forms, {k: v[order] for k, v in merged.items()})


def evaluation_end_ms(options: Options) -> int:
    """The last UTC millisecond of the evaluation day in Asia/Shanghai."""
    next_day = np.datetime64(options.until, "D") + 1
    return int(day_start_ms(np.array([next_day]))[0]) - UTC_OFFSET_MS - 1


# -- invalid submissions --------------------------------------------------------------------


def _add_invalid(
    form_id: str,
    table: Columns,
    rate: float,
    known: frozenset[str],
    options: Options,
    rng: np.random.Generator,
) -> None:
    n = len(table["child"])
    table["invalid"] = np.zeros(n, dtype=bool)
    table["reason"] = np.full(n, None, dtype=object)
    if rate <= 0:
        return
    rows = np.flatnonzero(rng.random(n) < rate)
    reasons = INVALID_REASONS[form_id]
    picks = rng.integers(0, len(reasons), len(rows))
    shifts = rng.integers(1, 31, len(rows))
    date_field = FORM_DATE[form_id]
    for i, pick, shift in zip(rows, picks, shifts, strict=True):
        reason = reasons[pick]
        dob = table["child_dob"][i]
        if reason == "out_of_range" and form_id == "newborn_visit":
            table["birth_weight_g"][i] = max(table["birth_weight_g"][i] * 10, 6010)
        elif reason == "out_of_range":  # weighed in grams instead of kilograms
            table["weight_kg"][i] = table["weight_kg"][i] * 1000
        elif reason == "unknown_township":
            table["township"][i] = _unknown_township(table["county"][i], known, rng)
        elif reason == "before_birth":
            table[date_field][i] = dob - np.timedelta64(int(shift), "D")
        elif reason == "future_date":  # the year's last two digits typed the other way round
            table[date_field][i] = _far_future(table[date_field][i], options)
            if "next_visit_date" in table:
                table["next_visit_date"][i] = np.datetime64("NaT")
        elif reason == "age_out_of_window":  # a pack given at 4-5 months
            table[date_field][i] = dob + np.timedelta64(int(119 + shift * 2), "D")
        elif reason == "invalid_pattern":  # the card number copied with its dashes
            cid = table["child_id"][i]
            table["child_id"][i] = f"{cid[:6]}-{cid[6:14]}-{cid[14:]}"
        table["invalid"][i] = True
        table["reason"][i] = reason


def _unknown_township(county: str, known: frozenset[str], rng: np.random.Generator) -> str:
    while True:
        code = f"{county}9{int(rng.integers(10, 100))}"
        if code not in known:
            return code


def _far_future(day: np.datetime64, options: Options) -> np.datetime64:
    text = str(np.datetime64(day, "D"))
    year = int(text[:4])
    swapped = int(text[:2] + text[3] + text[2])
    year = swapped if swapped > options.until.year + 20 else year + 30
    month, dom = int(text[5:7]), int(text[8:10])
    if month == 2 and dom == 29:
        dom = 28
    return np.datetime64(f"{year:04d}-{month:02d}-{dom:02d}", "D")


# -- edits ----------------------------------------------------------------------------------


def _add_edits(
    form_id: str, table: Columns, rate: float, params: pd.DataFrame, rng: np.random.Generator
) -> Columns:
    """Append corrected versions; the originals get the slip the edit corrects."""
    n = len(table["child"])
    table["version"] = np.ones(n, dtype=np.int64)
    table["original"] = np.arange(n)
    table["edited_field"] = np.full(n, None, dtype=object)
    rows = np.flatnonzero((rng.random(n) < rate) & ~table["invalid"]) if rate > 0 else []
    if len(rows) == 0:
        return table
    fields = EDITED_FIELDS[form_id]
    chosen = np.array(fields, dtype=object)[rng.integers(0, len(fields), len(rows))]
    edits = {k: v[rows].copy() for k, v in table.items()}
    edits["instanceID"] = instance_ids(len(rows), rng)
    edits["deprecatedID"] = table["instanceID"][rows]
    edits["version"][:] = 2
    edits["edited_field"] = chosen
    table["edited_field"][rows] = chosen
    villages = params["villages"].to_numpy()
    for i, name in zip(rows, chosen, strict=True):
        table[name][i] = _slip(name, table[name][i], table, i, villages, rng)
    return {k: np.concatenate([table[k], edits[k]]) for k in table}


def _slip(
    name: str,
    value: object,
    table: Columns,
    i: int,
    villages: np.ndarray,
    rng: np.random.Generator,
) -> object:
    """A plausible, still valid, wrong value for field `name` of row `i`."""
    sign = 1 if rng.random() < 0.5 else -1
    if name == "village":
        others = [v for v in villages[table["t"][i]] if v != value]
        return others[int(rng.integers(0, len(others)))] if others else str(value)[:-1]
    if name == "child_name":
        pool = GIVEN_MALE if table["child_sex"][i] == "male" else GIVEN_FEMALE
        last = str(value)[-1]
        return str(value)[:-1] + next(c for c in rng.permutation(pool) if c != last)
    if name == "birth_weight_g":
        wrong = int(value) + sign * int(rng.integers(10, 91)) * 10
        return wrong if 500 <= wrong <= 6000 else int(value) - sign * 100
    if name == "weight_kg":
        wrong = round(float(value) + sign * 1.0, 1)
        return wrong if 2 <= wrong <= 25 else round(float(value) - sign * 1.0, 1)
    if name == "length_cm":
        wrong = round(float(value) + sign * 10.0, 1)
        return wrong if 40 <= wrong <= 120 else round(float(value) - sign * 10.0, 1)
    raise ValueError(f"no slip for {name}")


# -- arrival --------------------------------------------------------------------------------


def _arrive(
    table: Columns, options: Options, cap: int, rng: np.random.Generator
) -> tuple[Columns, Columns]:
    """Arrival times; drop what arrives after `cap`; the truth flags that follow."""
    n = len(table["child"])
    is_edit = table["version"] > 1
    end_utc = table["end"] - UTC_OFFSET_MS
    lag = np.maximum(rng.lognormal(np.log(8 * 3600), 1.3, n), 60) * 1000
    late = (rng.random(n) < options.late) & ~is_edit if options.late > 0 else np.zeros(n, bool)
    lag = lag + late * rng.uniform(14, 90, n) * DAY_MS
    received = end_utc + lag.astype(np.int64)
    # An edit follows its original's arrival by an hour to three weeks.
    originals = table["original"][is_edit]
    after = rng.uniform(1 * HOUR_MS, 21 * DAY_MS, int(is_edit.sum())).astype(np.int64)
    received[is_edit] = received[originals] + after
    kept = received <= cap
    table = {**table, "late": late, "received": received}
    table = {k: v[kept] for k, v in table.items()}
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[np.flatnonzero(kept)] = np.arange(int(kept.sum()))
    table["original"] = renumber[table["original"]]
    m = len(table["child"])
    dup = (rng.random(m) < options.duplicates) if options.duplicates > 0 else np.zeros(m, bool)
    dup_rows = np.flatnonzero(dup)
    dup_received = table["received"][dup_rows] + rng.uniform(
        10 * 60 * 1000, 10 * DAY_MS, len(dup_rows)
    ).astype(np.int64)
    dup_kept = dup_received <= cap
    dup_rows, dup_received = dup_rows[dup_kept], dup_received[dup_kept]
    table["duplicates"] = np.bincount(dup_rows, minlength=m).astype(np.int64)
    superseded = np.zeros(m, dtype=bool)
    superseded[table["original"][table["version"] > 1]] = True
    table["superseded"] = superseded
    table["counts"] = ~table["invalid"] & ~superseded
    kinds = np.where(table["version"] > 1, EDIT, ORIGINAL)
    arrived = {
        "row": np.concatenate([np.arange(m), dup_rows]),
        "kind": np.concatenate([kinds, np.full(len(dup_rows), DUPLICATE)]).astype(np.int64),
        "received": np.concatenate([table["received"], dup_received]),
    }
    return table, arrived
