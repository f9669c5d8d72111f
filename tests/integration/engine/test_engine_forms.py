"""Cradle's built XForms in ODK's own form engine (@getodk/xforms-engine): health workers' visits
give submissions, and every constraint, required rule, relevance and calculation the forms
promise is enforced by the engine, with its message in Chinese and English."""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from forms.contract import CONTRACTS
from forms.media import children_list_csv
from tests.engine.instance import format_problems, leaf_values, millis, node_paths
from tests.engine.runner import Engine, EngineResult, Violation
from tests.engine.scenarios import (
    BIRTH_DOSES,
    COUNTY,
    HOME_BIRTH,
    INFANT_VACCINATION,
    LATE_VACCINATION,
    NEWBORN,
    NUTRITION,
    OTHER_COUNTY,
    OTHER_COUNTY_TOWNSHIP,
    OTHER_TOWNSHIP,
    SIX_MONTHS,
    TOWNSHIP,
    TWENTY_FOUR_MONTHS,
    VALID,
    Scenario,
)
from tests.support.openrosa import fill, instance_template

LANGUAGES = ("Chinese (zh)", "English (en)")
REQUIRED = ("此项必填。", "This question is required.")
DATE_BEFORE_BIRTH = (
    "日期不能早于出生日期，也不能晚于今天。",
    "The date cannot be before the date of birth or in the future.",
)
AGE_WINDOW = (
    "日期不能晚于今天，且发放当天儿童须满6月龄、不超过24月龄；请核对出生日期。",
    "The date cannot be in the future, and the child must be 6 to 24 months old on that day. "
    "Check the date of birth.",
)
NEWBORN_WEIGHT = (
    "体重应在0.5–10千克之间；请核对单位是千克，不是克。",
    "Weight must be 0.5–10 kg. Check the unit: kilograms, not grams.",
)
BIRTH_WEIGHT = (
    "出生体重应在500–6000克之间；请核对单位是克，不是千克。",
    "Birth weight must be 500–6000 g. Check the unit: grams, not kilograms.",
)
CHILD_WEIGHT = (
    "体重应在2–25千克之间；请核对单位是千克。",
    "Weight must be 2–25 kg. Check the unit: kilograms.",
)
LENGTH = (
    "身长应在40–120厘米之间；请核对单位是厘米。",
    "Length must be 40–120 cm. Check the unit: centimetres.",
)
HEPB1_24H = (
    '接种日期比出生日期晚1天以上，不可能在24小时内接种；请选"否"或核对日期。',
    'The vaccination date is more than 1 day after birth, so not within 24 hours. Choose "No" '
    "or check the dates.",
)
NONE_WITH_SIGNS = (
    '"无"不能与其他危险征象同时选择。',
    '"None" cannot be chosen together with a danger sign.',
)
CHILD_ID = (
    "编号应为6–20位数字或字母，不含空格或符号。",
    "The ID must be 6–20 digits or letters, with no spaces or symbols.",
)
NEXT_VISIT = (
    "下次预约日期必须晚于本次接种日期。",
    "The next appointment must be after this vaccination date.",
)
NO_DOSE = ("请至少选择一种本次接种的疫苗。", "Choose at least one dose given today.")


def _fill(engine: Engine, forms: Path, form_id: str, answers: Any) -> EngineResult:
    return engine.fill(forms / f"{form_id}.xml", answers, device_id="collect:tablet01")


def _media_rows(forms: Path, form_id: str, name: str) -> list[dict[str, str]]:
    with (forms / f"{form_id}-media" / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _text(value: Any) -> str:
    return " ".join(value) if isinstance(value, list) else str(value)


@pytest.mark.parametrize("form_id", list(CONTRACTS))
def test_each_form_loads_with_its_media_and_requires_its_contract_fields(
    engine: Engine, built_forms: Path, form_id: str
) -> None:
    result = _fill(engine, built_forms, form_id, [])
    assert result.languages == LANGUAGES
    assert result.status == "pending"
    counties = [row["name"] for row in _media_rows(built_forms, form_id, "counties.csv")]
    assert result.options["county"] == counties
    assert len(counties) == 29
    assert result.options["township"] == []  # no county chosen yet
    required = [
        f.name for f in CONTRACTS[form_id] if f.required and not f.conditional and not f.metadata
    ]
    assert [v.field for v in result.violations] == required
    assert {v.kind for v in result.violations} == {"required"}


@pytest.mark.parametrize("scenario", VALID, ids=lambda s: s.name)
def test_a_visit_gives_the_submission_odk_would_send(
    engine: Engine, built_forms: Path, scenario: Scenario
) -> None:
    xform = built_forms / f"{scenario.form_id}.xml"
    result = _fill(engine, built_forms, scenario.form_id, scenario.answers)
    assert (result.violations, result.refused) == ((), ())
    assert result.ok and result.status == "ready"

    # every answer reached the instance as given (the engine writes decimals with a point)
    stored = {a["field"]: a["stored"] for a in result.answers}
    given = {k: _text(v) for k, v in scenario.answers}
    if "gps" in given:
        lat, lon, alt, acc = given.pop("gps").split()
        assert stored.pop("gps") == f"{lat} {lon} {alt}.0 {acc}.0"
    assert stored == given

    # the instance holds the form's nodes, minus the questions that were not relevant
    template = [node.tag for node in instance_template(xform).iter() if len(node) == 0]
    leaves = [p.rsplit("/", 1)[-1] for p in node_paths(result.xml)]
    assert leaves == [name for name in template if result.relevant[name]]
    assert format_problems(result.xml, xform) == []
    version = instance_template(xform).get("version")
    assert result.xml.startswith(f'<data id="{scenario.form_id}" version="{version}">'.encode())
    assert re.fullmatch(r"uuid:[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", result.instance_id)
    assert result.values["deviceid"] == "collect:tablet01"
    date_field = next(
        k for k in ("visit_date", "vaccination_date", "distribution_date") if k in given
    )
    assert result.values["instanceName"] == f"{given['child_id']} {given[date_field]}"


@pytest.mark.parametrize(
    ("scenario", "months"),
    [(NUTRITION, "17"), (SIX_MONTHS, "6"), (TWENTY_FOUR_MONTHS, "24")],
    ids=["17 months 29 days", "6 months", "24 months"],
)
def test_age_in_completed_months_is_calculated(
    engine: Engine, built_forms: Path, scenario: Scenario, months: str
) -> None:
    result = _fill(engine, built_forms, "nutrition_pack", scenario.answers)
    assert result.ok
    assert result.values["age_months"] == months


@pytest.mark.parametrize(
    ("dob", "day", "asked"),
    [
        ("2026-07-14", "2026-11-14", True),  # 4 months
        ("2026-05-14", "2026-11-13", True),  # 5 months 30 days
        ("2026-05-14", "2026-11-14", False),  # 6 months
        ("2025-08-12", "2026-11-20", False),  # 15 months
    ],
)
def test_feeding_is_asked_only_for_infants_under_six_months(
    engine: Engine, built_forms: Path, dob: str, day: str, asked: bool
) -> None:
    answers = INFANT_VACCINATION.with_answers(child_dob=dob, vaccination_date=day, feeding_24h=None)
    result = _fill(engine, built_forms, "immunization", answers)
    assert result.relevant["feeding_24h"] is asked
    if asked:  # asked and required: the form cannot be finished without it
        assert result.violations == (
            Violation("/data/visit/feeding_24h", "feeding_24h", "required", *REQUIRED),
        )
    else:
        assert result.ok
        assert "visit/feeding_24h" not in node_paths(result.xml)


def test_a_question_that_is_not_asked_cannot_be_answered(engine: Engine, built_forms) -> None:
    answers = LATE_VACCINATION.with_answers(feeding_24h="exclusive", hepb1_within_24h="yes")
    result = _fill(engine, built_forms, "immunization", answers)
    assert [(r.field, r.value, r.reason) for r in result.refused] == [
        ("feeding_24h", "exclusive", "not_relevant"),
        ("hepb1_within_24h", "yes", "not_relevant"),
    ]
    assert result.status == "ready" and not result.ok
    assert "visit/feeding_24h" not in node_paths(result.xml)
    assert "visit/hepb1_within_24h" not in node_paths(result.xml)


def test_hepb1_timing_is_asked_only_when_hepb1_is_given(engine: Engine, built_forms) -> None:
    given = _fill(engine, built_forms, "immunization", BIRTH_DOSES.answers)
    assert given.relevant["hepb1_within_24h"] is True
    without = BIRTH_DOSES.with_answers(doses_given=["bcg"], hepb1_within_24h=None)
    not_given = _fill(engine, built_forms, "immunization", without)
    assert not_given.relevant["hepb1_within_24h"] is False
    assert not_given.ok
    # un-ticking hepb1 after answering drops the answer from the submission
    untick = [*BIRTH_DOSES.answers, ("doses_given", ["bcg"])]
    dropped = _fill(engine, built_forms, "immunization", untick)
    assert dropped.ok
    assert "visit/hepb1_within_24h" not in node_paths(dropped.xml)


@pytest.mark.parametrize(
    "scenario", [NEWBORN, NUTRITION, LATE_VACCINATION], ids=lambda s: s.form_id
)
def test_township_list_narrows_to_the_chosen_county(
    engine: Engine, built_forms: Path, scenario: Scenario
) -> None:
    rows = _media_rows(built_forms, scenario.form_id, "townships.csv")
    own = [r["name"] for r in rows if r["county"] == COUNTY]
    other = [r["name"] for r in rows if r["county"] == OTHER_COUNTY]
    assert len(own) >= 2 and OTHER_COUNTY_TOWNSHIP in other

    answers = scenario.with_answers(township=OTHER_COUNTY_TOWNSHIP)
    result = _fill(engine, built_forms, scenario.form_id, answers)
    assert result.options["township"] == own
    assert [(r.field, r.value, r.reason, r.options) for r in result.refused] == [
        ("township", OTHER_COUNTY_TOWNSHIP, "not_an_option", tuple(own))
    ]
    assert result.violations == (
        Violation("/data/location/township", "township", "required", *REQUIRED),
    )

    # changing the county afterwards empties the township chosen for the old one
    moved = _fill(
        engine, built_forms, scenario.form_id, [*scenario.answers, ("county", OTHER_COUNTY)]
    )
    assert moved.options["township"] == other
    assert moved.values["township"] == ""
    assert [v.field for v in moved.violations] == ["township"]


INVALID = [
    # (id, scenario, changes, field, kind, (message_zh, message_en))
    ("vaccinated before birth", INFANT_VACCINATION, {"vaccination_date": "2026-07-13"},
     "vaccination_date", "constraint", DATE_BEFORE_BIRTH),
    ("newborn visit before birth", NEWBORN, {"visit_date": "2026-10-14"},
     "visit_date", "constraint", DATE_BEFORE_BIRTH),
    ("nutrition pack a day before 6 months (180 days)", SIX_MONTHS,
     {"distribution_date": "2025-07-14"}, "distribution_date", "constraint", AGE_WINDOW),
    ("nutrition pack a day after 24 months (732 days)", TWENTY_FOUR_MONTHS,
     {"distribution_date": "2025-03-11"}, "distribution_date", "constraint", AGE_WINDOW),
    ("nutrition pack at 3 months", NUTRITION, {"child_dob": "2026-08-18"},
     "distribution_date", "constraint", AGE_WINDOW),
    ("nutrition pack at 3 years", NUTRITION, {"child_dob": "2023-11-01"},
     "distribution_date", "constraint", AGE_WINDOW),
    ("newborn weighing 12.5 kg", NEWBORN, {"weight_kg": "12.5"},
     "weight_kg", "constraint", NEWBORN_WEIGHT),
    ("newborn weight in grams", NEWBORN, {"weight_kg": "3450"},
     "weight_kg", "constraint", NEWBORN_WEIGHT),
    ("newborn weighing 0.3 kg", HOME_BIRTH, {"weight_kg": "0.3"},
     "weight_kg", "constraint", NEWBORN_WEIGHT),
    ("birth weight in kilograms", NEWBORN, {"birth_weight_g": "3"},
     "birth_weight_g", "constraint", BIRTH_WEIGHT),
    ("birth weight 7000 g", NEWBORN, {"birth_weight_g": "7000"},
     "birth_weight_g", "constraint", BIRTH_WEIGHT),
    ("child weighing 1.5 kg", NUTRITION, {"weight_kg": "1.5"},
     "weight_kg", "constraint", CHILD_WEIGHT),
    ("child weighing 31 kg", NUTRITION, {"weight_kg": "31"},
     "weight_kg", "constraint", CHILD_WEIGHT),
    ("length 7.85 (metres?)", NUTRITION, {"length_cm": "7.85"},
     "length_cm", "constraint", LENGTH),
    ("hepatitis B 'within 24 h' three days after birth", BIRTH_DOSES,
     {"vaccination_date": "2026-11-05"}, "hepb1_within_24h", "constraint", HEPB1_24H),
    ("no danger signs and fever", NEWBORN, {"danger_signs": ["none", "fever"]},
     "danger_signs", "constraint", NONE_WITH_SIGNS),
    ("child ID too short", NEWBORN, {"child_id": "12"}, "child_id", "constraint", CHILD_ID),
    ("next visit before this one", LATE_VACCINATION, {"next_visit_date": "2026-11-19"},
     "next_visit_date", "constraint", NEXT_VISIT),
    ("sex missing", NEWBORN, {"child_sex": None}, "child_sex", "required", REQUIRED),
    ("village missing", HOME_BIRTH, {"village": None}, "village", "required", REQUIRED),
    ("no dose ticked", LATE_VACCINATION, {"doses_given": None},
     "doses_given", "required", NO_DOSE),
    ("weight missing", NUTRITION, {"weight_kg": None}, "weight_kg", "required", REQUIRED),
    ("infant feeding missing", INFANT_VACCINATION, {"feeding_24h": None},
     "feeding_24h", "required", REQUIRED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scenario", "changes", "field", "kind", "message"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_the_engine_refuses_an_invalid_answer_with_its_bilingual_message(
    engine: Engine,
    built_forms: Path,
    scenario: Scenario,
    changes: dict[str, Any],
    field: str,
    kind: str,
    message: tuple[str, str],
) -> None:
    result = _fill(engine, built_forms, scenario.form_id, scenario.with_answers(**changes))
    assert not result.ok
    assert result.status == "pending"  # no submission
    assert result.refused == ()
    assert [(v.field, v.kind, v.message_zh, v.message_en) for v in result.violations] == [
        (field, kind, *message)
    ]
    assert result.violations[0].ref.endswith(f"/{field}")
    if kind == "constraint":  # shown as soon as the question is answered, as in Collect
        shown = [a["violation"] for a in result.answers if a["field"] == field]
        assert shown[-1] == "constraint"


# -- the synthetic generator writes what the engine writes ------------------------------------


def _local_ms(timestamp: str) -> int:
    """Wall-clock milliseconds of a local timestamp, the generator's clock."""
    moment = datetime.fromisoformat(timestamp).replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _synthetic_instance(xform: Path, scenario: Scenario, result: EngineResult) -> str:
    """The generator's submission for the scenario's answers and the engine's metadata."""
    from forms.synthetic.instances import FormTemplate, leaf_texts

    kinds = {f.name: f.kind for f in CONTRACTS[scenario.form_id]}
    dtypes = {"date": "datetime64[D]", "integer": np.int64, "decimal": np.float64}
    table = {
        name: np.array([_text(value)], dtype=dtypes.get(kinds[name], object))
        for name, value in scenario.answers
        if name != "gps"  # the generator formats its own points
    }
    meta = result.values
    table |= {
        "start": np.array([_local_ms(meta["start"])], dtype=np.int64),
        "end": np.array([_local_ms(meta["end"])], dtype=np.int64),
        "today": np.array([meta["today"]], dtype="datetime64[D]"),
        "deviceid": np.array([meta["deviceid"]], dtype=object),
        "instanceID": np.array([meta["instanceID"]], dtype=object),
    }
    template = FormTemplate.from_xform(xform)
    return template.render(leaf_texts(template, table, np.arange(1)))[0]


@pytest.mark.parametrize("scenario", VALID, ids=lambda s: s.name)
def test_the_synthetic_generator_writes_what_the_engine_writes(
    engine: Engine, built_forms: Path, scenario: Scenario
) -> None:
    xform = built_forms / f"{scenario.form_id}.xml"
    result = _fill(engine, built_forms, scenario.form_id, scenario.answers)
    assert result.ok
    synthetic = _synthetic_instance(xform, scenario, result)

    assert node_paths(synthetic) == node_paths(result.xml)
    assert format_problems(synthetic, xform) == []
    ours, theirs = leaf_values(result.xml), leaf_values(synthetic)
    for name in ("start", "end"):  # the same instant; Collect always writes 3 digits of ms
        assert re.fullmatch(r".*T\d\d:\d\d:\d\d\.\d{3}\+08:00", theirs[name])
        assert millis(ours.pop(name)) == theirs.pop(name)
    ours.pop("visit/gps", None)
    theirs.pop("visit/gps", None)
    assert theirs == ours  # dates, numbers, lists, calculations: the same text


FEEDING_AGES = [
    ("2026-07-14", "2026-11-14"),  # 4 months: asked
    ("2026-05-14", "2026-11-13"),  # 5 months 30 days: asked
    ("2026-05-14", "2026-11-14"),  # 6 months: not asked
    ("2025-08-12", "2026-11-20"),  # 15 months: not asked
]


@pytest.mark.parametrize(("dob", "day"), FEEDING_AGES)
@pytest.mark.parametrize("doses", [["bopv1", "dtap2"], ["hepb1", "bcg"]], ids=" ".join)
def test_the_generator_and_the_collect_helper_leave_out_what_the_engine_leaves_out(
    engine: Engine, built_forms: Path, dob: str, day: str, doses: list[str]
) -> None:
    """Both answer every question; the skip logic decides which answers are submitted."""
    answers = INFANT_VACCINATION.with_answers(
        child_dob=dob, vaccination_date=day, doses_given=doses, hepb1_within_24h="no"
    )
    answers = [*answers, ("feeding_24h", "exclusive")]  # answered last: after the dates
    scenario = replace(INFANT_VACCINATION, answers=tuple(answers))
    xform = built_forms / "immunization.xml"
    result = _fill(engine, built_forms, "immunization", answers)
    assert result.status == "ready" and result.violations == ()
    assert {r.reason for r in result.refused} <= {"not_relevant"}  # the skipped questions
    expected = node_paths(result.xml)
    assert ("visit/feeding_24h" in expected) == ((dob, day) in FEEDING_AGES[:2])
    assert ("visit/hepb1_within_24h" in expected) == ("hepb1" in doses)

    assert node_paths(_synthetic_instance(xform, scenario, result)) == expected
    collect = fill(xform, {k: _text(v) for k, v in answers}, result.instance_id)
    assert node_paths(collect) == expected


@pytest.mark.parametrize("scenario", VALID, ids=lambda s: s.name)
def test_the_collect_helper_writes_the_nodes_the_engine_writes(
    engine: Engine, built_forms: Path, scenario: Scenario
) -> None:
    result = _fill(engine, built_forms, scenario.form_id, scenario.answers)
    values = {k: _text(v) for k, v in scenario.answers}
    xml = fill(built_forms / f"{scenario.form_id}.xml", values, result.instance_id)
    assert node_paths(xml) == node_paths(result.xml)


# --- the children list (children.csv, made per health worker by the server) -------------

LISTED = [  # name, label, township, village, child_name, child_sex, child_dob, due, overdue, doses
    ("450123202508120019", "450123202508120019 蓝天佑", TOWNSHIP, "那桐村", "蓝天佑", "male",
     "2025-08-12", "mmr1 jel1", "mpsva2", "逾期 overdue: A群流脑多糖疫苗 第2剂 (mpsva2)"),
    ("450123202609010003", "450123202609010003 韦小梅", TOWNSHIP, "那桐村", "韦小梅", "female",
     "2026-09-01", "", "", "无应种疫苗 (nothing due)"),
    ("450123202607070021", "450123202607070021 黄明", TOWNSHIP, "定典村", "黄明", "male",
     "2026-07-07", "", "", "无应种疫苗 (nothing due)"),
    ("450123202606060008", "450123202606060008 农丽", OTHER_TOWNSHIP, "那桐村", "农丽", "female",
     "2026-06-06", "", "", "无应种疫苗 (nothing due)"),
]  # fmt: skip


@pytest.fixture
def listed_media(built_forms: Path, tmp_path: Path) -> Path:
    """The immunization form's media with a health worker's children list in it."""
    media = tmp_path / "immunization-media"
    shutil.copytree(built_forms / "immunization-media", media)
    (media / "children.csv").write_bytes(children_list_csv(LISTED))
    return media


def _visit_after(pick: list[tuple[str, Any]], village: str = "那桐村") -> list[tuple[str, Any]]:
    """Location, then `pick` (the child), then the rest of a late vaccination."""
    visit = [(k, v) for k, v in LATE_VACCINATION.answers if k not in CHILD_FIELDS]
    location = [(k, village if k == "village" else v) for k, v in visit[:3]]
    return [*location, *pick, *visit[3:]]


CHILD_FIELDS = ("child_id", "child_name", "child_sex", "child_dob")


def test_picking_a_listed_child_fills_the_identity_and_shows_the_doses(
    engine: Engine, built_forms: Path, listed_media: Path
) -> None:
    xform = built_forms / "immunization.xml"
    answers = _visit_after([("child_pick", LISTED[0][0])])
    result = engine.fill(xform, answers, media_dir=listed_media)
    # the list offers the children of the chosen township and village only
    assert result.options["child_pick"] == [LISTED[0][0], LISTED[1][0]]
    assert [result.values[f] for f in CHILD_FIELDS] == [
        "450123202508120019", "蓝天佑", "male", "2025-08-12",
    ]  # fmt: skip
    assert result.relevant["pick_note"] is True
    assert result.values["pick_doses"] == LISTED[0][9]
    assert (result.violations, result.refused) == ((), ())
    assert result.ok
    values = leaf_values(result.xml)
    assert [values[f"child/{f}"] for f in CHILD_FIELDS] == [result.values[f] for f in CHILD_FIELDS]
    assert values["child/child_pick"] == LISTED[0][0]
    assert values["child/pick_village_listed"] == "yes"
    assert format_problems(result.xml, xform) == []


def test_a_picked_childs_details_stay_editable(
    engine: Engine, built_forms: Path, listed_media: Path
) -> None:
    answers = _visit_after([("child_pick", LISTED[0][0]), ("child_name", "蓝天佑佑")])
    result = engine.fill(built_forms / "immunization.xml", answers, media_dir=listed_media)
    assert result.ok
    assert (result.values["child_id"], result.values["child_name"]) == (
        "450123202508120019",
        "蓝天佑佑",
    )


def test_a_village_the_list_does_not_know_shows_the_whole_township(
    engine: Engine, built_forms: Path, listed_media: Path
) -> None:
    answers = _visit_after([], village="新建村")
    result = engine.fill(built_forms / "immunization.xml", answers, media_dir=listed_media)
    assert result.options["child_pick"] == [row[0] for row in LISTED[:3]]
    assert result.values["pick_village_listed"] == ""
    assert result.relevant["pick_note"] is False
    assert result.violations[0].field == "child_id"  # nothing picked: typed by hand


def test_a_child_not_on_the_list_is_entered_by_hand(
    engine: Engine, built_forms: Path, listed_media: Path
) -> None:
    result = engine.fill(
        built_forms / "immunization.xml", LATE_VACCINATION.answers, media_dir=listed_media
    )
    assert result.ok
    assert result.values["child_pick"] == "" and result.values["pick_doses"] == ""
    assert "child/pick_note" not in node_paths(result.xml)
    assert [result.values[f] for f in CHILD_FIELDS] == [
        v for k, v in LATE_VACCINATION.answers if k in CHILD_FIELDS
    ]


def test_picking_a_child_of_another_township_is_refused(
    engine: Engine, built_forms: Path, listed_media: Path
) -> None:
    answers = _visit_after([("child_pick", LISTED[3][0])])
    result = engine.fill(built_forms / "immunization.xml", answers, media_dir=listed_media)
    assert [(r.field, r.reason) for r in result.refused] == [("child_pick", "not_an_option")]
    assert result.values["child_id"] == ""
