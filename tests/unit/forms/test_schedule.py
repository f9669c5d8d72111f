"""The vaccine schedule file, and its agreement with the immunization form."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from defusedxml import ElementTree

from forms.build import FormBuildError, build_forms
from forms.media import registry_media_csv
from forms.schedule import DEFAULT_PATH, Dose, Schedule, load_schedule

# FORMS.md: China national immunization schedule, 2021 edition (code, due age in months).
EXPECTED = [
    ("hepb1", 0),
    ("bcg", 0),
    ("hepb2", 1),
    ("ipv1", 2),
    ("ipv2", 3),
    ("dtap1", 3),
    ("bopv1", 4),
    ("dtap2", 4),
    ("dtap3", 5),
    ("hepb3", 6),
    ("mpsva1", 6),
    ("mmr1", 8),
    ("jel1", 8),
    ("mpsva2", 9),
    ("dtap4", 18),
    ("mmr2", 18),
    ("hepa1", 18),
    ("jel2", 24),
    ("mpsvac1", 36),
    ("bopv2", 48),
    ("dt", 72),
    ("mpsvac2", 72),
]
NS = {"h": "http://www.w3.org/1999/xhtml", "xf": "http://www.w3.org/2002/xforms"}
TOWNSHIPS = pd.DataFrame(
    [("451024101", "城关镇", "Chengguan Town", "451024", "德保县", "Debao County")],
    columns=[
        "township_code",
        "township_name_zh",
        "township_name_en",
        "county_code",
        "county_name_zh",
        "county_name_en",
    ],
)


def test_schedule_has_the_22_national_doses_with_their_due_months() -> None:
    schedule = load_schedule()
    assert [(d.code, d.due_months) for d in schedule.doses] == EXPECTED
    assert [d.order for d in schedule.doses] == list(range(1, 23))
    assert schedule.codes == tuple(code for code, _ in EXPECTED)
    for dose in schedule.doses:
        assert re.search(r"[\u4e00-\u9fff]", dose.name_zh), dose
        assert dose.name_en and not re.search(r"[\u4e00-\u9fff]", dose.name_en), dose


def test_schedule_windows() -> None:
    windows = load_schedule().windows
    assert (windows.grace_days, windows.nutrition_gap_days) == (28, 35)


def test_dose_lookup_and_immutability() -> None:
    schedule = load_schedule()
    assert schedule.dose("hepb3") == Dose("hepb3", "乙肝疫苗 第3剂", "Hepatitis B, dose 3", 6, 10)
    with pytest.raises(KeyError):
        schedule.dose("polio")
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.doses[0].due_months = 1  # type: ignore[misc]


def test_default_path_is_the_file_beside_the_module(tmp_path: Path) -> None:
    copy = tmp_path / "schedule.toml"
    copy.write_bytes(DEFAULT_PATH.read_bytes())
    assert load_schedule(copy) == load_schedule()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('code = "bcg"', 'code = "hepb1"'), "duplicate dose codes ['hepb1']"),
        (lambda t: t.replace("order = 2\n", "order = 3\n", 1), "dose orders must run 1, 2, 3"),
        (lambda t: t.replace("due_months = 72", "due_months = -72", 1), "due_months must be"),
        (lambda t: t.replace("due_months = 1\n", "due_months = true\n"), "due_months must be"),
        (lambda t: t.replace('code = "dt"', 'code = "DT"'), "code 'DT' must match"),
        (lambda t: t.replace("grace_days = 28", "grace = 28"), "[windows] needs exactly"),
        (lambda t: t.replace('name_en = "BCG"', 'name_en = ""'), "name_en must be a non-empty"),
        (lambda t: t.replace('name_en = "BCG"\n', ""), "dose #2 needs exactly"),
    ],
)
def test_invalid_schedule_is_refused(
    tmp_path: Path, change: Callable[[str], str], message: str
) -> None:
    path = tmp_path / "schedule.toml"
    path.write_text(change(DEFAULT_PATH.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        load_schedule(path)
    assert str(error.value).startswith(str(path))


def test_immunization_dose_choices_are_the_schedule(tmp_path: Path) -> None:
    forms = build_forms(tmp_path, registry_media_csv(TOWNSHIPS), odk_validate=False)
    xml = next(f for f in forms if f.form_id == "immunization").xml_path
    html = ElementTree.parse(xml).getroot()
    control = next(
        c
        for c in html.find("h:body", NS).iter(f"{{{NS['xf']}}}select")
        if c.get("ref") == "/data/visit/doses_given"
    )
    list_id = re.match(r"instance\('([^']+)'\)", control.find("xf:itemset", NS).get("nodeset"))[1]
    instance = html.find(f"h:head/xf:model/xf:instance[@id='{list_id}']", NS)
    codes = [item.findtext("xf:name", "", NS) for item in instance.iterfind("xf:root/xf:item", NS)]
    assert codes == list(load_schedule().codes)
    labels = {
        t.get("lang"): [
            t.findtext(f"xf:text[@id='{item.findtext('xf:itextId', '', NS)}']/xf:value", "", NS)
            for item in instance.iterfind("xf:root/xf:item", NS)
        ]
        for t in html.iterfind("h:head/xf:model/xf:itext/xf:translation", NS)
    }
    assert labels["Chinese (zh)"] == [d.name_zh for d in load_schedule().doses]
    assert labels["English (en)"] == [d.name_en for d in load_schedule().doses]


def test_build_fails_when_form_and_schedule_disagree(tmp_path: Path) -> None:
    schedule = load_schedule()
    media = registry_media_csv(TOWNSHIPS)
    reordered = Schedule(doses=schedule.doses[1::-1] + schedule.doses[2:], windows=schedule.windows)
    with pytest.raises(FormBuildError, match=r"differ from schedule\.toml .*same order"):
        build_forms(tmp_path, media, schedule=reordered, odk_validate=False)
    renamed = dataclasses.replace(schedule.doses[0], name_en="HepB birth dose")
    relabelled = Schedule(doses=(renamed, *schedule.doses[1:]), windows=schedule.windows)
    with pytest.raises(FormBuildError, match=re.escape("dose hepb1 labels")):
        build_forms(tmp_path, media, schedule=relabelled, odk_validate=False)
