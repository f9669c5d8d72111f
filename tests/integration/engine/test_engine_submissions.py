"""Submissions made by ODK's own form engine, posted to Cradle as ODK Collect posts them
(HEAD, Digest, multipart `xml_submission_file`): accepted with 201 and stored as the expected
CouchDB documents; what the engine refuses, Cradle refuses too."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from server.core.couch import cradle_db
from tests.engine.instance import millis
from tests.engine.runner import Engine, EngineResult
from tests.engine.scenarios import (
    HOME_BIRTH,
    INFANT_VACCINATION,
    NEWBORN,
    NUTRITION,
    SIX_MONTHS,
    TWENTY_FOUR_MONTHS,
    VALID,
    Scenario,
)
from tests.integration.openrosa.conftest import TOWNSHIP, Collect

pytestmark = pytest.mark.django_db

#: The built versions (the two forms with the children list were updated once).
VERSIONS = {"newborn_visit": "2026112801"}


def _fill(engine: Engine, forms: Path, form_id: str, answers: Any) -> EngineResult:
    return engine.fill(forms / f"{form_id}.xml", answers, device_id="collect:tablet01")


def _expected_data(scenario: Scenario, result: EngineResult) -> dict[str, Any]:
    meta = result.values
    return {
        "start": millis(meta["start"]),
        "end": millis(meta["end"]),
        "today": meta["today"],
        "deviceid": "collect:tablet01",
        **scenario.expected,
    }


@pytest.mark.parametrize("scenario", VALID, ids=lambda s: s.name)
def test_engine_submission_is_accepted_and_stored(
    server, users, built_forms: Path, engine: Engine, scenario: Scenario
) -> None:
    result = _fill(engine, built_forms, scenario.form_id, scenario.answers)
    assert result.ok, (result.violations, result.refused)

    response = Collect(scenario.user).submit(result.xml)
    assert response.status_code == 201, response.content.decode()
    assert response["X-OpenRosa-Version"] == "1.0"

    db = cradle_db("submissions")
    doc = db.get(result.instance_id)
    assert doc["data"] == _expected_data(scenario, result)
    assert doc["extra"] == scenario.extra
    assert {k: doc[k] for k in _SUMMARY} == {
        "type": "submission",
        "form_id": scenario.form_id,
        "form_version": VERSIONS.get(scenario.form_id, "2026112802"),
        "instance_id": result.instance_id,
        "county_code": scenario.expected["county"],
        "township_code": scenario.expected["township"],
        "village": scenario.expected["village"],
        "child_id": scenario.expected["child_id"],
        "started_at": millis(result.values["start"]),
        "collected_at": millis(result.values["end"]),
        "source": "openrosa",
        "submitter": scenario.user,
        "device_id": "collect:tablet01",
        "edits": 0,
        "deleted": False,
    }
    assert db.get_attachment(result.instance_id, f"xml/{result.instance_id}.xml") == result.xml
    assert cradle_db("quarantine").find({"instance_id": result.instance_id}).docs == []


_SUMMARY = (
    "type",
    "form_id",
    "form_version",
    "instance_id",
    "county_code",
    "township_code",
    "village",
    "child_id",
    "started_at",
    "collected_at",
    "source",
    "submitter",
    "device_id",
    "edits",
    "deleted",
)


def test_a_days_visits_land_once_each(server, users, built_forms: Path, engine: Engine) -> None:
    """The county supervisor sends every visit, then Collect resends them all (as after a lost
    response): one document per visit, unchanged by the resend."""
    collect = Collect("sup")
    results = [_fill(engine, built_forms, s.form_id, s.answers) for s in VALID]
    assert [collect.submit(r.xml).status_code for r in results] == [201] * len(VALID)
    db = cradle_db("submissions")
    revs = {r.instance_id: db.get(r.instance_id)["_rev"] for r in results}
    assert [collect.submit(r.xml).status_code for r in results] == [201] * len(VALID)
    assert {r.instance_id: db.get(r.instance_id)["_rev"] for r in results} == revs

    stored = db.find({"type": "submission"}).docs
    assert sorted((d["form_id"], d["child_id"], d["township_code"]) for d in stored) == sorted(
        (s.form_id, s.expected["child_id"], s.expected["township"]) for s in VALID
    )
    assert Counter(d["form_id"] for d in stored) == {
        "newborn_visit": 2,
        "immunization": 3,
        "nutrition_pack": 3,
    }

    # ... and they count in the coverage table: the one child born in November 2026 (the
    # birth-dose scenario) had hepatitis B within 24 hours.
    from analytics import columns as AC
    from analytics.service import coverage_report
    from server.accounts.scope import scope_for

    analyst = get_user_model().objects.get(username="analyst")
    table = coverage_report(
        period="2026-11", indicators=["imm_hepb1_24h"], scope=scope_for(analyst)
    ).table
    row = table.loc[(table[AC.LEVEL] == "township") & (table[AC.TOWNSHIP] == TOWNSHIP)]
    assert row[[AC.NUMERATOR, AC.DENOMINATOR]].values.tolist() == [[1, 1]]


# What the engine refuses to finish is refused by Cradle too, if a client sent it anyway.
SERVER_REFUSES = [
    ("vaccinated before birth", INFANT_VACCINATION, {"vaccination_date": "2026-07-13"},
     "before_birth", "vaccination_date"),
    ("nutrition pack a day before 6 months", SIX_MONTHS, {"distribution_date": "2025-07-14"},
     "age_out_of_window", "distribution_date"),
    ("nutrition pack a day after 24 months", TWENTY_FOUR_MONTHS,
     {"distribution_date": "2025-03-11"}, "age_out_of_window", "distribution_date"),
    ("newborn weighing 12.5 kg", NEWBORN, {"weight_kg": "12.5"}, "out_of_range", "weight_kg"),
    ("child weighing 31 kg", NUTRITION, {"weight_kg": "31"}, "out_of_range", "weight_kg"),
    ("no danger signs and fever", NEWBORN, {"danger_signs": ["none", "fever"]},
     "exclusive_choice", "danger_signs"),
    ("village missing", HOME_BIRTH, {"village": None}, "required", "village"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scenario", "changes", "code", "field"),
    [case[1:] for case in SERVER_REFUSES],
    ids=[case[0] for case in SERVER_REFUSES],
)
def test_what_the_engine_refuses_cradle_refuses(
    server,
    users,
    built_forms: Path,
    engine: Engine,
    scenario: Scenario,
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    result = _fill(engine, built_forms, scenario.form_id, scenario.with_answers(**changes))
    assert result.status == "pending"
    assert [v.field for v in result.violations] == [field]

    response = Collect(scenario.user).submit(result.xml)
    assert response.status_code == 422
    assert 'nature="error"' in response.content.decode()
    assert cradle_db("submissions").get(result.instance_id) is None
    held = cradle_db("quarantine").find({"instance_id": result.instance_id}).docs
    assert [(r["code"], r.get("field")) for r in held[0]["reasons"]] == [(code, field)]
