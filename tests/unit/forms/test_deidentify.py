"""What analysts see of a submission: no names, no ids, no birth dates, no places below
the township, no device ids; the measures and a stable pseudonym for the child."""

from __future__ import annotations

import pytest

from forms.deidentify import age_in_months, child_key, deidentify

KEY = b"test-secret"

DOC = {
    "_id": "uuid:1",
    "_rev": "1-a",
    "type": "submission",
    "form_id": "immunization",
    "county_code": "450123",
    "township_code": "450123101",
    "village": "Nongla",
    "child_id": "450123-20260110-007",
    "collected_at": "2026-04-02T09:00:00+08:00",
    "device_id": "collect:abc",
    "submitter": "lina",
    "extra": {"note": "Wei Lan"},
    "_attachments": {"photo.jpg": {}},
    "data": {
        "county": "450123",
        "township": "450123101",
        "village": "Nongla",
        "child_id": "450123-20260110-007",
        "child_name": "Wei Lan",
        "child_sex": "female",
        "child_dob": "2026-01-10",
        "vaccination_date": "2026-03-15",
        "doses_given": ["dtap1"],
        "gps": "23.1 108.2 100 5",
        "deviceid": "collect:abc",
    },
    "history": [
        {
            "instance_id": "uuid:0",
            "collected_at": "2026-04-01T09:00:00+08:00",
            "data": {
                "child_id": "450123-20260110-007",
                "child_name": "Wei Lan",
                "mother_name": "Li Mei",
                "child_dob": "2026-01-09",
                "gps": "23.1 108.2 100 5",
                "vaccination_date": "2026-03-14",
            },
        }
    ],
}


def test_an_analyst_gets_measures_places_to_the_township_and_a_pseudonym() -> None:
    pseudonym = child_key("450123-20260110-007", key=KEY)
    assert deidentify(DOC, key=KEY) == {
        "_id": "uuid:1",
        "_rev": "1-a",
        "type": "submission",
        "form_id": "immunization",
        "county_code": "450123",
        "township_code": "450123101",
        "child_key": pseudonym,
        "child_age_months": 2,
        "collected_at": "2026-04-02T09:00:00+08:00",
        "submitter": "lina",
        "data": {
            "county": "450123",
            "township": "450123101",
            "child_key": pseudonym,
            "child_sex": "female",
            "child_age_months": 2,
            "vaccination_date": "2026-03-15",
            "doses_given": ["dtap1"],
        },
        "history": [
            {
                "instance_id": "uuid:0",
                "collected_at": "2026-04-01T09:00:00+08:00",
                "data": {
                    "child_key": pseudonym,
                    "child_age_months": 2,
                    "vaccination_date": "2026-03-14",
                },
            }
        ],
    }
    assert DOC["data"]["child_name"] == "Wei Lan"  # the input is not changed


def test_the_pseudonym_is_stable_per_secret_and_reveals_nothing() -> None:
    one = child_key("450123-20260110-007", key=KEY)
    assert one == child_key("450123-20260110-007", key=KEY)
    assert one != child_key("450123-20260110-008", key=KEY)
    assert one != child_key("450123-20260110-007", key=b"another secret")
    assert one.startswith("c-") and len(one) == 22
    assert "20260110" not in one and "450123" not in one


@pytest.mark.parametrize(
    ("dob", "on", "months"),
    [
        ("2026-01-10", "2026-01-10", 0),
        ("2026-01-10", "2026-02-09", 0),
        ("2026-01-10", "2026-02-10", 1),
        ("2024-02-29", "2026-02-28", 23),
        ("2026-05-01", "2026-04-01", None),
        ("not a date", "2026-04-01", None),
        (None, "2026-04-01", None),
    ],
)
def test_age_in_whole_months(dob, on, months) -> None:
    assert age_in_months(dob, on) == months


def test_without_a_visit_date_the_age_is_at_collection() -> None:
    doc = {"collected_at": "2026-03-20T08:00:00Z", "data": {"child_dob": "2026-01-10"}}
    assert deidentify(doc, key=KEY)["data"] == {"child_age_months": 2}
