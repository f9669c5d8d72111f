"""Submission documents shaped like `sync.ingest.store` writes them, for analytics tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from analytics.flatten import flatten_quarantine, flatten_submissions

TOWN_A = "450123101"
TOWN_B = "450123102"
TOWN_C = "450124101"  # another county
COUNTY_A = "450123"
COUNTY_B = "450124"

_ids = itertools.count(1)


def _iso(day: date | str, hour: int = 10) -> str:
    moment = datetime.fromisoformat(str(day)) + timedelta(hours=hour)
    return moment.isoformat(timespec="milliseconds") + "+08:00"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _date_field(form_id: str) -> str:
    return {
        "newborn_visit": "visit_date",
        "nutrition_pack": "distribution_date",
        "immunization": "vaccination_date",
    }[form_id]


def submission(
    form_id: str,
    child_id: str,
    on: date | str,
    *,
    township: str = TOWN_A,
    dob: date | str = "2026-01-15",
    sex: str = "female",
    doc_id: str | None = None,
    received: str | None = None,
    deleted: bool = False,
    edits: int = 0,
    **data: Any,
) -> dict[str, Any]:
    """One accepted submission document; `on` is the form's own date (visit, etc.)."""
    instance = doc_id or f"uuid:{next(_ids):08d}"
    fields: dict[str, Any] = {
        "county": township[:6],
        "township": township,
        "child_id": child_id,
        "child_name": "王小明",
        "child_sex": sex,
        "child_dob": str(dob),
        _date_field(form_id): str(on),
        **data,
    }
    collected = _iso(on)
    return {
        "_id": instance,
        "type": "submission",
        "form_id": form_id,
        "form_version": "2026070101",
        "instance_id": instance,
        "county_code": township[:6],
        "township_code": township,
        "village": "村",
        "child_id": child_id,
        "collected_at": collected,
        "received_at": received or _utc(datetime.fromisoformat(collected) + timedelta(hours=5)),
        "updated_at": collected,
        "source": "openrosa",
        "data": fields,
        "edits": edits,
        "review_state": "edited" if edits else None,
        "deleted": deleted,
        "versions": [],
        "history": [],
    }


def immunization(child_id: str, on: date | str, doses: Iterable[str], **kw: Any) -> dict:
    kw.setdefault("aefi", "no")
    return submission("immunization", child_id, on, doses_given=sorted(doses), **kw)


def newborn(child_id: str, on: date | str, **kw: Any) -> dict:
    defaults = {
        "visit_number": 1,
        "place_of_delivery": "township_hospital",
        "birth_weight_g": 3200,
        "disease_screening": "yes",
        "hearing_screening": "pass",
        "feeding_24h": "exclusive",
        "weight_kg": 3.4,
        "danger_signs": ["none"],
        "referred": "no",
        "mother_name": "李",
    }
    return submission("newborn_visit", child_id, on, **{**defaults, **kw})


def nutrition(child_id: str, on: date | str, **kw: Any) -> dict:
    defaults = {
        "packs_given": 30,
        "packs_eaten_7d": 5,
        "counselling": "yes",
        "weight_kg": 8.0,
        "length_cm": 70.0,
        "measured_lying": "yes",
        "oedema": "no",
    }
    return submission("nutrition_pack", child_id, on, **{**defaults, **kw})


def quarantined(
    code: str,
    *,
    township: str | None = TOWN_A,
    received: str = "2026-08-01T02:00:00.000Z",
    **kw: Any,
) -> dict:
    return {
        "_id": f"q:{next(_ids):040d}",
        "type": "quarantine",
        "status": kw.get("status", "open"),
        "reasons": [{"code": code, "field": None, "detail": None}],
        "received_at": received,
        "source": "openrosa",
        "form_id": kw.get("form_id", "immunization"),
        "township_code": township,
        "county_code": township[:6] if township else None,
    }


def frame(docs: Iterable[dict]) -> pd.DataFrame:
    """Flatten documents as the cache would (one `_changes` row each)."""
    return flatten_submissions([{"id": d["_id"], "doc": d} for d in docs])


def quarantine_frame(docs: Iterable[dict]) -> pd.DataFrame:
    return flatten_quarantine([{"id": d["_id"], "doc": d} for d in docs])
