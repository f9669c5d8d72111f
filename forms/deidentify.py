"""What an analyst may see of a submission: the data without the person.

Analysts need every measure and every place down to the township, and the ability to
follow one child across visits; they never need who the child is. The rule, by field:

| field | analysts get |
|---|---|
| names (`personal` in the contract: `child_name`, `mother_name`) | nothing |
| `child_id` (county + date of birth + serial) | `child_key`, a keyed hash (below) |
| `child_dob` | `child_age_months` at the visit (whole months) |
| `gps` and any other geopoint | nothing (the township code is the finest place) |
| `village` (free text) | nothing |
| `deviceid` (the tablet's IMEI or id) | nothing |
| attachments (photos) and `extra` (unknown XML fields) | nothing |

`child_key` is HMAC-SHA256 of the id with a server secret: the same for every visit of the
child, meaningless without the secret. The same treatment applies to the document's
top-level copies of these fields and to every earlier version kept in its `history`.

>>> clean = deidentify({"data": {"child_id": "450123-20260101-001", "child_dob": "2026-01-01",
...     "vaccination_date": "2026-03-15", "child_name": "x"}}, key=b"k")
>>> sorted(clean["data"]), clean["data"]["child_age_months"]
(['child_age_months', 'child_key', 'vaccination_date'], 2)
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import Any

from forms.contract import CONTRACTS

#: Names of people: dropped.
PERSONAL: frozenset[str] = frozenset(
    f.name for contract in CONTRACTS.values() for f in contract if f.personal
)
#: Places finer than the township, and device identifiers: dropped.
DROPPED: frozenset[str] = frozenset(
    {"village", "deviceid", "device_id"}
    | {f.name for contract in CONTRACTS.values() for f in contract if f.kind == "geopoint"}
)
#: The date each form's visit happened, for the age at the visit.
EVENT_DATES = ("visit_date", "distribution_date", "vaccination_date")
CHILD_ID, CHILD_KEY = "child_id", "child_key"
DOB, AGE = "child_dob", "child_age_months"
#: Top-level keys of a stored document that never reach an analyst.
_DOC_DROPPED = frozenset({"extra", "_attachments"})


def child_key(child_id: str, *, key: bytes) -> str:
    """The child's pseudonym: stable for one secret, unlinkable to the id without it.

    >>> child_key("450123-20260101-001", key=b"k") == child_key("450123-20260101-001", key=b"k")
    True
    """
    digest = hmac.new(key, child_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"c-{digest[:20]}"


def age_in_months(dob: str | None, on: str | None) -> int | None:
    """Whole months from `dob` to `on` (ISO dates); None when either is missing or bad.

    >>> age_in_months("2026-01-31", "2026-02-28"), age_in_months("2026-01-31", "2026-03-01")
    (0, 1)
    """
    try:
        born, then = date.fromisoformat(str(dob)[:10]), date.fromisoformat(str(on)[:10])
    except ValueError:
        return None
    months = (then.year - born.year) * 12 + (then.month - born.month)
    if then.day < born.day:
        months -= 1
    return months if months >= 0 else None


def _event_date(data: dict[str, Any], collected_at: Any) -> str | None:
    for name in EVENT_DATES:
        if data.get(name):
            return str(data[name])
    return str(collected_at)[:10] if collected_at else None


def _clean_fields(fields: dict[str, Any], *, key: bytes, on: str | None) -> dict[str, Any]:
    clean = {k: v for k, v in fields.items() if k not in PERSONAL | DROPPED | {CHILD_ID, DOB}}
    if fields.get(CHILD_ID):
        clean[CHILD_KEY] = child_key(str(fields[CHILD_ID]), key=key)
    if DOB in fields:
        clean[AGE] = age_in_months(fields.get(DOB), on)
    return clean


def deidentify(doc: dict[str, Any], *, key: bytes) -> dict[str, Any]:
    """The submission document as an analyst may see it (see the module's table)."""
    data = doc.get("data") if isinstance(doc.get("data"), dict) else None
    on = _event_date(data or {}, doc.get("collected_at"))
    top = {k: v for k, v in doc.items() if k not in _DOC_DROPPED}
    if data is not None and DOB in data:
        top[DOB] = data[DOB]  # the top level gets the age at this visit too
    clean = _clean_fields(top, key=key, on=on)
    if data is not None:
        clean["data"] = _clean_fields(data, key=key, on=on)
    if isinstance(doc.get("history"), list):
        clean["history"] = [_clean_entry(entry, key=key) for entry in doc["history"]]
    return clean


def _clean_entry(entry: Any, *, key: bytes) -> Any:
    if not isinstance(entry, dict):
        return entry
    data = entry.get("data") if isinstance(entry.get("data"), dict) else None
    on = _event_date(data or {}, entry.get("collected_at"))
    clean = _clean_fields({k: v for k, v in entry.items() if k not in _DOC_DROPPED}, key=key, on=on)
    if data is not None:
        clean["data"] = _clean_fields(data, key=key, on=on)
    return clean
