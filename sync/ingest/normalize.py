"""Type a parsed submission by its form contract and check it: pure functions on plain data.

`normalize(fields, contract) -> (data, problems)` turns text into ISO dates, numbers,
lists and locations; `validate(data, contract, places, today) -> problems` checks the
contract's ranges, dates and choices and the township registry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from forms.contract import NUTRITION_AGE_DAYS, Field, FormContract
from sync.ingest.problems import Problem

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Places:
    """The part of the township registry that validation needs: township → county."""

    county_of_township: Mapping[str, str]
    counties: frozenset[str]

    @classmethod
    def from_pairs(cls, pairs: Mapping[str, str]) -> Places:
        return cls(dict(pairs), frozenset(pairs.values()))


def _number(text: str, f: Field) -> tuple[Any, Problem | None]:
    if f.kind == "integer":
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            code = "not_an_integer" if re.fullmatch(r"[+-]?\d+(\.\d+)?", text) else "not_a_number"
            return None, Problem(code, field=f.name, detail=text[:40])
        return int(text), None
    try:
        value = float(text)
    except ValueError:
        return None, Problem("not_a_number", field=f.name, detail=text[:40])
    if not math.isfinite(value):
        return None, Problem("not_a_number", field=f.name, detail=text[:40])
    return value, None


def _date(text: str, f: Field) -> tuple[Any, Problem | None]:
    if not _DATE.match(text):
        return None, Problem("invalid_date", field=f.name, detail=text[:40])
    try:
        return date.fromisoformat(text).isoformat(), None
    except ValueError:
        return None, Problem("invalid_date", field=f.name, detail=text[:40])


def _datetime(text: str, f: Field) -> tuple[Any, Problem | None]:
    try:
        return datetime.fromisoformat(text).isoformat(timespec="milliseconds"), None
    except ValueError:
        return None, Problem("invalid_date", field=f.name, detail=text[:40])


def _geopoint(text: str, f: Field) -> tuple[Any, Problem | None]:
    parts = text.split()
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None, Problem("invalid_geopoint", field=f.name)
    if not 2 <= len(numbers) <= 4 or not all(math.isfinite(n) for n in numbers):
        return None, Problem("invalid_geopoint", field=f.name)
    lat, lon = numbers[0], numbers[1]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, Problem("invalid_geopoint", field=f.name)
    point = {"lat": lat, "lon": lon}
    if len(numbers) > 2:
        point["alt"] = numbers[2]
    if len(numbers) > 3:
        point["accuracy"] = numbers[3]
    return point, None


def convert(text: str, f: Field) -> tuple[Any, Problem | None]:
    """One field's text as its typed value, or the problem with it."""
    if f.kind in ("integer", "decimal"):
        return _number(text, f)
    if f.kind == "date":
        return _date(text, f)
    if f.kind == "dateTime":
        return _datetime(text, f)
    if f.kind == "select_multiple":
        return sorted(set(text.split())), None
    if f.kind == "geopoint":
        return _geopoint(text, f)
    return text, None


def normalize(
    fields: Mapping[str, str], contract: FormContract
) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
    """Typed contract fields, the other leaves as text (calculations, notes), and problems.

    Empty answers are left out: ODK sends unanswered questions as empty elements.
    """
    data: dict[str, Any] = {}
    problems: list[Problem] = []
    known = set(contract.names)
    for f in contract:
        text = fields.get(f.name, "")
        if text == "":
            continue
        value, problem = convert(text, f)
        if problem:
            problems.append(problem)
        else:
            data[f.name] = value
    extra = {k: v for k, v in fields.items() if k not in known and k not in _META and v != ""}
    return data, extra, problems


_META = frozenset({"instanceID", "deprecatedID", "instanceName"})


def _age_days(later: str, earlier: str) -> int:
    return (date.fromisoformat(later) - date.fromisoformat(earlier)).days


def validate(
    data: Mapping[str, Any], contract: FormContract, places: Places, today: date
) -> list[Problem]:
    """Every way the typed submission breaks the contract or the registry."""
    problems: list[Problem] = []
    for f in contract:
        value = data.get(f.name)
        if value is None:
            if f.required and not f.conditional and not f.metadata:
                problems.append(Problem("required", field=f.name))
            continue
        problems.extend(_check_field(f, value, data, today))
    problems.extend(_check_places(data, places))
    problems.extend(_check_form_rules(contract.form_id, data))
    return problems


def _check_field(f: Field, value: Any, data: Mapping[str, Any], today: date) -> list[Problem]:
    out: list[Problem] = []
    if f.choices:
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if v not in f.choices]
        if bad:
            out.append(Problem("invalid_choice", field=f.name, detail=" ".join(bad)[:60]))
        if f.kind == "select_multiple" and not values and f.required:
            out.append(Problem("required", field=f.name))
    if f.minimum is not None and isinstance(value, (int, float)) and value < f.minimum:
        out.append(Problem("out_of_range", field=f.name, detail=f"{value} < {f.minimum:g}"))
    if f.maximum is not None and isinstance(value, (int, float)) and value > f.maximum:
        out.append(Problem("out_of_range", field=f.name, detail=f"{value} > {f.maximum:g}"))
    if f.pattern and isinstance(value, str) and not re.fullmatch(f.pattern, value):
        out.append(Problem("invalid_pattern", field=f.name, detail=value[:40]))
    if f.max_length and isinstance(value, str) and len(value) > f.max_length:
        out.append(Problem("too_long", field=f.name, detail=f"{len(value)} > {f.max_length}"))
    if f.kind == "date":
        if f.not_future and value > today.isoformat():
            out.append(Problem("future_date", field=f.name, detail=value))
        if f.earliest and value < f.earliest.isoformat():
            out.append(Problem("too_early", field=f.name, detail=value))
        other = data.get(f.not_before) if f.not_before else None
        if isinstance(other, str) and value < other:
            out.append(Problem("before_birth", field=f.name))
        after = data.get(f.after) if f.after else None
        if isinstance(after, str) and value <= after:
            out.append(Problem("not_after", field=f.name, detail=f.after))
    return out


def _check_places(data: Mapping[str, Any], places: Places) -> list[Problem]:
    county, township = data.get("county"), data.get("township")
    out: list[Problem] = []
    if county is not None and county not in places.counties:
        out.append(Problem("unknown_county", field="county", detail=str(county)))
    if township is not None:
        actual = places.county_of_township.get(township)
        if actual is None:
            out.append(Problem("unknown_township", field="township", detail=str(township)))
        elif county is not None and actual != county:
            out.append(Problem("township_not_in_county", field="township", detail=str(township)))
    return out


def _check_form_rules(form_id: str, data: Mapping[str, Any]) -> list[Problem]:
    """Rules that span fields and are not ranges: the forms enforce the same ones."""
    out: list[Problem] = []
    dob = data.get("child_dob")
    if form_id == "nutrition_pack" and dob and data.get("distribution_date"):
        age = _age_days(data["distribution_date"], dob)
        low, high = NUTRITION_AGE_DAYS
        if not low <= age <= high:
            out.append(
                Problem("age_out_of_window", field="distribution_date", detail=f"{age} days")
            )
    signs = data.get("danger_signs")
    if isinstance(signs, list) and "none" in signs and len(signs) > 1:
        out.append(Problem("exclusive_choice", field="danger_signs"))
    return out
