"""The pure simulation: children born in each township, and the visits they get.

`simulate(places, targets, schedule, options)` draws everything with seeded numpy
generators and returns columnar tables of typed values (dates as `datetime64[D]`,
missing integers as -1, missing text as None); nothing here reads or writes files.
Rendering, faults and output happen elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forms.schedule import Schedule
from forms.synthetic import visits
from forms.synthetic.dates import DAY, day_start_ms
from forms.synthetic.options import Options, SyntheticError
from forms.synthetic.people import card_numbers, child_names, mother_names
from forms.synthetic.townships import monthly_births, township_params

Columns = dict[str, np.ndarray]

FACILITY_PLACES = ("county_hospital", "township_hospital", "other_facility")
FACILITY_SHARES = (0.5, 0.45, 0.05)
OTHER_PLACES = ("home", "other")
OTHER_SHARES = (0.85, 0.15)
MALE_SHARE = 0.51


@dataclass
class Simulation:
    """What happened, before anything was sent: townships, children and visits per form.

    `townships` has one row per township with its parameters; `children` and each table
    of `visits` are columns of equal length. Visit columns are named as the form's fields
    (plus `child`, the row of the child, and `t`, the row of the township).
    """

    townships: pd.DataFrame
    children: Columns
    visits: dict[str, Columns]


def simulate(
    places: pd.DataFrame, targets: pd.DataFrame, schedule: Schedule, options: Options
) -> Simulation:
    """Simulate births and visits for the townships in `places` (registry rows, optionally
    with `lat`, `lon` of a point inside each township) up to `options.until`."""
    if places.empty:
        raise SyntheticError("no townships to simulate")
    params = township_params(places, options.seed)
    for column in ("lat", "lon"):
        params[column] = places[column].to_numpy() if column in places else np.nan
    children = simulate_children(params, places, targets, options)
    until = np.datetime64(options.until, "D")
    tables = {
        "newborn_visit": visits.newborn(children, params, until, _rng(options, 2)),
        "nutrition_pack": visits.nutrition(children, params, until, _rng(options, 3)),
        "immunization": visits.immunization(children, params, schedule, until, _rng(options, 4)),
    }
    for n, (form_id, table) in enumerate(tables.items()):
        tables[form_id] = with_common_fields(table, children, params, _rng(options, 10 + n))
    return Simulation(params, children, tables)


def _rng(options: Options, stream: int) -> np.random.Generator:
    return np.random.default_rng([options.seed, stream])


def simulate_children(
    params: pd.DataFrame, places: pd.DataFrame, targets: pd.DataFrame, options: Options
) -> Columns:
    """Children born in each township and month, with what is known at birth."""
    rng = _rng(options, 1)
    months, days_in, expected = monthly_births(places, targets, options)
    expected = expected * options.scale
    if options.children is not None:
        total = expected.sum()
        if total <= 0:
            raise SyntheticError("the registry has no expected births for these townships")
        counts = rng.multinomial(options.children, (expected / total).ravel())
        counts = counts.reshape(expected.shape)
    else:
        counts = rng.poisson(expected)
    if counts.sum() == 0:
        raise SyntheticError("no children would be born: raise --scale or set --children")
    t = np.repeat(np.arange(expected.shape[0]), counts.sum(axis=1))
    month = np.concatenate([np.repeat(np.arange(len(months)), row) for row in counts])
    dob = months[month] + rng.integers(0, days_in[month]).astype("timedelta64[D]")
    order = np.lexsort((t, dob))
    t, dob = t[order], dob[order]
    n = len(t)
    p = {name: params[name].to_numpy()[t] for name in params.columns if name != "villages"}
    male = rng.random(n) < MALE_SHARE
    county = params["county_code"].to_numpy(dtype=object)[t]
    villages = params["villages"].to_numpy()
    village_pick = rng.random(n)
    village = np.array(
        [villages[i][int(u * len(villages[i]))] for i, u in zip(t, village_pick, strict=True)],
        dtype=object,
    )
    facility = rng.random(n) < p["facility_births"]
    place = np.where(
        facility,
        np.array(FACILITY_PLACES, dtype=object)[rng.choice(3, n, p=FACILITY_SHARES)],
        np.array(OTHER_PLACES, dtype=object)[rng.choice(2, n, p=OTHER_SHARES)],
    )
    weight = np.clip(np.round(rng.normal(p["birth_weight_mean"], 450) / 10) * 10, 500, 6000)
    weeks = np.clip(np.round(39 + (weight - 3200) / 450 * 1.2 + rng.normal(0, 1, n)), 24, 43)
    weeks = np.where(rng.random(n) < 0.85, weeks, -1).astype(np.int64)
    mother = np.where(rng.random(n) < 0.8, mother_names(n, rng), None)
    screening = np.where(
        rng.random(n) < p["disease_screening"],
        "yes",
        np.where(rng.random(n) < 0.7, "no", "unknown"),
    ).astype(object)
    u = rng.random(n)
    hearing = np.where(
        u < p["hearing_pass"],
        "pass",
        np.where(u < p["hearing_pass"] + 0.03, "refer", "not_done"),
    ).astype(object)
    laz = rng.normal(p["laz_mean"], 1.0)
    waz = p["waz_mean"] + 0.6 * (laz - p["laz_mean"]) + 0.8 * rng.normal(0, 1, n)
    return {
        "child": np.arange(n),
        "t": t,
        "child_id": card_numbers(county, dob),
        "child_name": child_names(male, rng),
        "male": male,
        "child_sex": np.where(male, "male", "female").astype(object),
        "child_dob": dob.astype(DAY),
        "county": county,
        "township": params["township_code"].to_numpy(dtype=object)[t],
        "village": village,
        "mother_name": mother,
        "place_of_delivery": place,
        "born_in_facility": facility,
        "birth_weight_g": weight.astype(np.int64),
        "gestational_weeks": weeks,
        "disease_screening": screening,
        "hearing_screening": hearing,
        "engagement": rng.random(n),
        "lateness": rng.normal(0, 1, n),
        "laz": laz,
        "waz": waz,
        "compliance": np.clip(
            rng.beta(p["nutrition_compliance"] * 6, (1 - p["nutrition_compliance"]) * 6), 0, 1
        ),
    }


CHILD_FIELDS = ("county", "township", "village", "child_id", "child_name", "child_sex", "child_dob")


def with_common_fields(
    table: Columns, children: Columns, params: pd.DataFrame, rng: np.random.Generator
) -> Columns:
    """Add what every form has: location, child, device, start/end/today and GPS.

    Rows are put in visit-date order. `start` is on the visit date between 08:00 and
    17:30 Asia/Shanghai time, `end` 3-25 minutes later (both local wall-clock ms).
    """
    order = np.lexsort((table["child"], table["date"]))
    table = {k: v[order] for k, v in table.items()}
    child = table["child"]
    n = len(child)
    t = children["t"][child]
    table["t"] = t
    for name in CHILD_FIELDS:
        table[name] = children[name][child]
    start = day_start_ms(table["date"]) + rng.integers(8 * 3600_000, 17 * 3600_000 + 1800_000, n)
    table["start"] = start
    table["end"] = start + rng.integers(180_000, 1_500_000, n)
    table["today"] = table["date"]
    table["deviceid"] = params["deviceid"].to_numpy(dtype=object)[t]
    table["gps"] = _gps(params, t, rng)
    return table


def _gps(params: pd.DataFrame, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(t)
    lat, lon = params["lat"].to_numpy(dtype=float)[t], params["lon"].to_numpy(dtype=float)[t]
    take = (rng.random(n) < params["gps"].to_numpy()[t]) & np.isfinite(lat)
    lat = lat + rng.normal(0, 0.01, n)
    lon = lon + rng.normal(0, 0.01, n)
    alt = 150 + (np.abs(lat * 1000 + lon * 700) % 900) + rng.normal(0, 8, n)
    acc = rng.uniform(3, 15, n)
    out = np.full(n, None, dtype=object)
    out[take] = [
        f"{a:.6f} {b:.6f} {c:.1f} {d:.1f}"
        for a, b, c, d in zip(lat[take], lon[take], alt[take], acc[take], strict=True)
    ]
    return out
