"""Indicator definitions are data: a new dose or a new target needs no code change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analytics.config import DEFAULT_PATH, load_config, read_config
from analytics.errors import AnalyticsError
from forms.schedule import DEFAULT_PATH as SCHEDULE_PATH
from forms.schedule import load_schedule

SPEC_INDICATORS = {
    "imm_full_12m", "imm_hepb1_24h", "nutrition_coverage", "nutrition_compliance",
    "newborn_visit_7d", "newborn_visit_28d", "hospital_delivery", "newborn_disease_screening",
    "newborn_hearing_screening", "exclusive_breastfeeding_0_5m", "low_birth_weight",
    "stunting", "underweight", "anaemia",
}  # fmt: skip
TARGETS = {
    "hospital_delivery": (0.98, ">="),
    "newborn_disease_screening": (0.90, ">="),
    "newborn_hearing_screening": (0.90, ">="),
    "exclusive_breastfeeding_0_5m": (0.80, ">="),
    "nutrition_coverage": (0.90, ">="),
    "stunting": (0.07, "<="),
    "underweight": (0.05, "<="),
    "anaemia": (0.12, "<="),
    "imm_bcg": (0.95, ">="),
    "imm_hepb1_24h": (None, ">="),
    "low_birth_weight": (None, "<="),
}


def test_every_indicator_of_the_spec_with_its_target() -> None:
    config = load_config()
    ids = {i.id for i in config.indicators}
    assert SPEC_INDICATORS <= ids
    assert {f"imm_{c}" for c in load_schedule().codes} <= ids
    for ident, (target, direction) in TARGETS.items():
        indicator = config.indicator(ident)
        assert (indicator.target, indicator.direction) == (target, direction), ident


def test_adding_a_dose_to_the_schedule_adds_its_indicator(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.toml"
    text = SCHEDULE_PATH.read_text(encoding="utf-8")
    text += (
        '\n[[doses]]\ncode = "hpv1"\nname_zh = "HPV疫苗 第1剂"\nname_en = "HPV, dose 1"\n'
        "due_months = 108\norder = 23\n"
    )
    schedule.write_text(text, encoding="utf-8")
    config = read_config(DEFAULT_PATH, load_schedule(schedule))
    hpv = config.indicator("imm_hpv1")
    assert (hpv.cohort.min_months, hpv.cohort.max_months, hpv.target) == (109, 121, 0.95)
    assert hpv.evidence is not None and hpv.evidence.dose == "hpv1"
    assert hpv.name_en == "HPV, dose 1 coverage"


def test_changing_a_target_is_an_edit_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "indicators.toml"
    shutil.copy(DEFAULT_PATH, path)
    text = path.read_text(encoding="utf-8").replace("target = 0.07", "target = 0.06")
    path.write_text(text, encoding="utf-8")
    assert load_config(path).indicator("stunting").target == 0.06


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('direction = "<="', 'direction = "<"', "direction"),
        ('["laz", "<", -2]', '["lazz", "<", -2]', "unknown column 'lazz'"),
        ("target = 0.07", "target = 7", "proportion"),
        ('window = "period"', 'window = "quarter"', "window"),
    ],
)
def test_bad_definitions_are_refused_naming_the_entry(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "indicators.toml"
    path.write_text(DEFAULT_PATH.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    with pytest.raises(AnalyticsError, match=message):
        load_config(path)


def test_unknown_indicator_names_the_known_ones() -> None:
    with pytest.raises(AnalyticsError, match="unknown indicator 'imm_xyz'; known: imm_hepb1"):
        load_config().indicator("imm_xyz")
