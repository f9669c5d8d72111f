"""The visits of each form, simulated child by child with numpy (pure, seeded).

Each function returns columns of typed values named as the form's fields, plus `child`
(the child's row) and `date` (the day the visit happened). Nothing is generated after
`until`: a visit that would fall later has simply not happened yet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forms.contract import DANGER_SIGNS, FEEDING_UNDER_MONTHS, NUTRITION_AGE_DAYS
from forms.schedule import Schedule
from forms.synthetic.dates import DAY, add_months, age_days, completed_months
from forms.synthetic.growth import length_cm, weight_kg

Columns = dict[str, np.ndarray]
NOT_EXCLUSIVE = ("predominant", "mixed", "formula", "none")
NOT_EXCLUSIVE_SHARES = (0.3, 0.45, 0.2, 0.05)
# Danger signs other than "none", and how often each is the one seen.
SIGN_SHARES = {
    "jaundice": 0.4,
    "fever": 0.15,
    "poor_feeding": 0.15,
    "umbilical_infection": 0.1,
    "breathing": 0.08,
    "convulsions": 0.02,
    "other": 0.1,
}
NEWBORN_VISITS_SHARES = (0.35, 0.4, 0.15, 0.1)  # 1, 2, 3 or 4 visits
NUTRITION_SLOTS = 26  # more distributions than 18 months can hold
MIN_DOSE_INTERVAL_DAYS = 28


def _days(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype(np.int64).astype("timedelta64[D]")


def _param(params: pd.DataFrame, name: str, t: np.ndarray) -> np.ndarray:
    return params[name].to_numpy(dtype=float)[t]


def feeding(exclusive_share: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`feeding_24h` answers: exclusive with the given probability, otherwise another kind."""
    n = len(exclusive_share)
    other = np.array(NOT_EXCLUSIVE, dtype=object)[rng.choice(4, n, p=NOT_EXCLUSIVE_SHARES)]
    return np.where(rng.random(n) < exclusive_share, "exclusive", other).astype(object)


# -- newborn visits -------------------------------------------------------------------------


def newborn(
    children: Columns, params: pd.DataFrame, until: np.datetime64, rng: np.random.Generator
) -> Columns:
    """Home visits after birth: most first visits on day 3-7, some later, some never."""
    n = len(children["child"])
    t = children["t"]
    visited = rng.random(n) >= _param(params, "newborn_missing", t)
    count = rng.choice(4, n, p=NEWBORN_VISITS_SHARES) + 1
    on_time = rng.random(n) < _param(params, "newborn_on_time", t)
    first = np.where(
        on_time,
        rng.integers(3, 8, n),
        np.where(rng.random(n) < 0.75, rng.integers(8, 29, n), rng.integers(29, 61, n)),
    )
    gaps = rng.integers(5, 22, (n, 4))
    gaps[:, 0] = first
    offsets = np.cumsum(gaps, axis=1)
    dates = children["child_dob"][:, None] + _days(offsets)
    slot = np.arange(4)[None, :]
    keep = visited[:, None] & (slot < count[:, None]) & (dates <= until)
    child = np.broadcast_to(children["child"][:, None], keep.shape)[keep]
    date = dates[keep].astype(DAY)
    m = len(child)
    age = age_days(children["child_dob"][child], date)
    birth_kg = children["birth_weight_g"][child] / 1000
    kg = birth_kg * (1 - 0.06 * np.minimum(age, 4) / 4) + 0.03 * np.maximum(age - 10, 0)
    kg = np.clip(np.round(kg + rng.normal(0, 0.05, m), 2), 0.5, 10)
    signs = _danger_signs(m, rng)
    serious = np.char.find(signs.astype(str), "convulsions") >= 0
    serious |= np.char.find(signs.astype(str), "breathing") >= 0
    referred = np.where(
        serious | ((signs != "none") & (rng.random(m) < 0.4)) | (rng.random(m) < 0.01),
        "yes",
        "no",
    ).astype(object)
    out: Columns = {"child": child, "date": date}
    for name in (
        "mother_name",
        "place_of_delivery",
        "birth_weight_g",
        "gestational_weeks",
        "disease_screening",
        "hearing_screening",
    ):
        out[name] = children[name][child]
    exclusive = _param(params, "exclusive_bf", children["t"][child])
    out.update(
        visit_date=date,
        visit_number=np.broadcast_to(slot + 1, keep.shape)[keep].astype(np.int64),
        weight_kg=kg,
        feeding_24h=feeding(exclusive, rng),
        danger_signs=signs,
        referred=referred,
    )
    return out


def _danger_signs(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mostly `none`; otherwise one or two signs, in the form's choice order."""
    names = list(SIGN_SHARES)
    shares = np.array(list(SIGN_SHARES.values()))
    first = rng.choice(len(names), n, p=shares / shares.sum())
    second = rng.choice(len(names), n, p=shares / shares.sum())
    two = (rng.random(n) < 0.2) & (second != first)
    rank = {name: DANGER_SIGNS.index(name) for name in names}
    out = np.full(n, "none", dtype=object)
    sick = np.flatnonzero(rng.random(n) >= 0.92)
    for i in sick:
        chosen = {names[first[i]], names[second[i]]} if two[i] else {names[first[i]]}
        out[i] = " ".join(sorted(chosen, key=rank.__getitem__))
    return out


# -- immunization ---------------------------------------------------------------------------


def dose_coverage(
    schedule: Schedule, base: np.ndarray, facility: np.ndarray
) -> dict[str, np.ndarray]:
    """Per child and dose, the chance of getting it: the township's propensity, a little
    lower for later doses, higher for birth doses in a facility, lower at home."""
    out = {}
    for dose in schedule.doses:
        if dose.due_months == 0:
            p = np.where(facility, base + 0.02, base - 0.08)
        else:
            p = base - 0.001 * (dose.order - 3)
        out[dose.code] = np.clip(p, 0.0, 0.998)
    return out


def immunization(
    children: Columns,
    params: pd.DataFrame,
    schedule: Schedule,
    until: np.datetime64,
    rng: np.random.Generator,
) -> Columns:
    """One visit per group of doses due at the same age, several doses at once.

    Whether a child gets a dose follows the child's engagement (drop-out: a child who
    misses one dose tends to miss later ones) against the township's propensity. Visits
    come a log-normal number of days after the due date (families late once tend to be
    late again), at least 28 days after the previous one; birth doses are given on the day
    of birth or the day after in a facility.
    """
    n = len(children["child"])
    t = children["t"]
    dob = children["child_dob"]
    facility = children["born_in_facility"]
    coverage = dose_coverage(schedule, _param(params, "imm_coverage", t), facility)
    engagement = children["engagement"]
    median_delay = _param(params, "imm_delay_days", t)
    lateness = children["lateness"]
    groups = sorted({d.due_months for d in schedule.doses})
    last = np.full(n, np.datetime64("1900-01-01", "D"))
    parts: list[Columns] = []
    for k, months in enumerate(groups):
        doses = [d for d in schedule.doses if d.due_months == months]
        given = np.zeros((n, len(doses)), dtype=bool)
        for j, dose in enumerate(doses):
            draw = np.where(rng.random(n) < 0.75, engagement, rng.random(n))
            given[:, j] = draw < coverage[dose.code]
        due = add_months(dob, months)
        if months == 0:
            at_facility = _days(rng.choice(4, n, p=(0.85, 0.11, 0.03, 0.01)))
            at_home = _days(np.floor(rng.lognormal(np.log(7), 0.8, n)))
            date = dob + np.where(facility, at_facility, at_home)
        else:
            log_delay = np.log(median_delay + 1) + 0.8 * lateness + rng.normal(0, 0.45, n)
            delay = np.maximum(np.floor(np.exp(log_delay)) - 1, 0)
            date = np.maximum(due + _days(delay), last + MIN_DOSE_INTERVAL_DAYS)
        any_given = given.any(axis=1)
        last = np.where(any_given, date, last)
        keep = any_given & (date <= until)
        rows = np.flatnonzero(keep)
        codes = np.array([d.code for d in doses], dtype=object)
        doses_given = np.array([" ".join(codes[g]) for g in given[rows]], dtype=object)
        later = groups[k + 1] if k + 1 < len(groups) else None
        parts.append(
            _immunization_visits(children, params, rows, date[rows], doses_given, later, until, rng)
        )
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _immunization_visits(
    children: Columns,
    params: pd.DataFrame,
    rows: np.ndarray,
    date: np.ndarray,
    doses_given: np.ndarray,
    next_months: int | None,
    until: np.datetime64,
    rng: np.random.Generator,
) -> Columns:
    m = len(rows)
    t = children["t"][rows]
    dob = children["child_dob"][rows]
    days = age_days(dob, date)
    has_hepb1 = np.array(["hepb1" in d.split() for d in doses_given], dtype=bool)
    within = (days <= 1) & (rng.random(m) < _param(params, "hepb1_24h", t))
    hepb1_24h = np.where(has_hepb1, np.where(within, "yes", "no"), None).astype(object)
    months = completed_months(dob, date)
    exclusive = np.clip(_param(params, "exclusive_bf", t) - 0.05 * months, 0, 1)
    relevant = months < FEEDING_UNDER_MONTHS
    feeding_24h = np.where(relevant, feeding(exclusive, rng), None).astype(object)
    next_date = np.full(m, np.datetime64("NaT"), dtype=DAY)
    if next_months is not None:
        planned = add_months(dob, next_months)
        planned = np.where(planned > date, planned, date + MIN_DOSE_INTERVAL_DAYS)
        wanted = (rng.random(m) < _param(params, "next_visit", t)) & (planned <= until)
        next_date = np.where(wanted, planned, next_date)
    return {
        "child": rows,
        "date": date.astype(DAY),
        "vaccination_date": date.astype(DAY),
        "doses_given": doses_given,
        "hepb1_within_24h": hepb1_24h,
        "aefi": np.where(rng.random(m) < 0.01, "yes", "no").astype(object),
        "feeding_24h": feeding_24h,
        "next_visit_date": next_date.astype(DAY),
    }


# -- nutrition packs ------------------------------------------------------------------------


def nutrition(
    children: Columns, params: pd.DataFrame, until: np.datetime64, rng: np.random.Generator
) -> Columns:
    """Monthly-ish pack distributions from 6 to 24 months, with growth and haemoglobin.

    Enrolment, missed months, drop-out and the days packs are eaten vary by township
    (and compliance by child). Length and weight come from the child's z-scores (a
    township mean plus the child's own, plus a little noise per visit) through the WHO
    tables; what is recorded is rounded to 0.1 as on the scale and board.
    """
    n = len(children["child"])
    t = children["t"]
    dob = children["child_dob"]
    enrolled = rng.random(n) < _param(params, "nutrition_coverage", t)
    low, high = NUTRITION_AGE_DAYS
    first = np.maximum(add_months(dob, 6), dob + low) + _days(np.floor(rng.exponential(8, n)))
    gaps = np.clip(np.round(rng.normal(30, 4, (n, NUTRITION_SLOTS))), 21, 45)
    skip = rng.random((n, NUTRITION_SLOTS)) < _param(params, "nutrition_skip", t)[:, None]
    gaps = gaps + 30 * skip
    gaps[:, 0] = 0
    dates = first[:, None] + _days(np.cumsum(gaps, axis=1))
    dropped = rng.random((n, NUTRITION_SLOTS)) < _param(params, "nutrition_dropout", t)[:, None]
    stayed = np.cumsum(dropped, axis=1) - dropped == 0
    last_day = np.minimum(add_months(dob, 24), dob + high)
    keep = enrolled[:, None] & stayed & (dates <= last_day[:, None]) & (dates <= until)
    child = np.broadcast_to(children["child"][:, None], keep.shape)[keep]
    date = dates[keep].astype(DAY)
    is_first = np.broadcast_to(np.arange(NUTRITION_SLOTS)[None, :] == 0, keep.shape)[keep]
    m = len(child)
    t = children["t"][child]
    packs = rng.choice(np.array([30, 60, 0, 10, 15, 20]), m, p=(0.8, 0.1, 0.02, 0.03, 0.03, 0.02))
    eaten = rng.binomial(7, children["compliance"][child])
    male = children["male"][child]
    days = age_days(children["child_dob"][child], date)
    months = completed_months(children["child_dob"][child], date)
    lying = months < 24
    laz = np.clip(children["laz"][child] + rng.normal(0, 0.15, m), -4.5, 4.0)
    waz = np.clip(children["waz"][child] + rng.normal(0, 0.15, m), -4.5, 4.0)
    tested = rng.random(m) < _param(params, "hb_tested", t)
    hb = np.clip(np.round(rng.normal(_param(params, "hb_mean", t), 11)), 60, 180)
    return {
        "child": child,
        "date": date,
        "distribution_date": date,
        "packs_given": packs.astype(np.int64),
        "packs_eaten_7d": np.where(is_first, 0, eaten).astype(np.int64),
        "counselling": np.where(
            rng.random(m) < _param(params, "counselling", t), "yes", "no"
        ).astype(object),
        "weight_kg": np.round(weight_kg(male, days, waz), 1),
        "measured_lying": np.where(lying, "yes", "no").astype(object),
        "length_cm": np.round(length_cm(male, days, laz, lying), 1),
        "oedema": np.where(rng.random(m) < 0.002, "yes", "no").astype(object),
        "hemoglobin_g_l": np.where(tested, hb, -1).astype(np.int64),
        "laz_sim": laz,
        "waz_sim": waz,
    }
