"""The forms build, checked by parsing the XForms it writes.

Constraints, relevance and calculations are also evaluated here with a small
interpreter for the XPath subset the forms use, following ODK's rules for dates
(a date compares as a number of days, and as its ISO text in `=`). The real ODK engine
runs on these forms in the integration tests; this catches boundary mistakes early.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import os
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from defusedxml import ElementTree
from openpyxl import load_workbook

from forms import build as build_module
from forms.build import XLSFORM_DIR, BuiltForm, FormBuildError, build_forms, forms_group
from forms.contract import CONTRACTS, Field
from forms.media import doses_text, registry_media_csv
from forms.schedule import load_schedule

NS = {
    "h": "http://www.w3.org/1999/xhtml",
    "xf": "http://www.w3.org/2002/xforms",
    "jr": "http://openrosa.org/javarosa",
}
JR = "{http://openrosa.org/javarosa}"
ZH, EN = "Chinese (zh)", "English (en)"
CJK = re.compile(r"[\u4e00-\u9fff]")
TODAY = dt.date(2026, 11, 28)
FORM_IDS = ("newborn_visit", "nutrition_pack", "immunization")

# Deliberately unsorted, with a comma and an apostrophe to exercise CSV quoting.
TOWNSHIPS = pd.DataFrame(
    [
        ("451024102", "那甲镇", "Najia Town", "451024", "德保县", "Debao County"),
        ("450123101", "都结乡", "Dujie, Township", "450123", "隆安县", "Long'an County"),
        ("451024101", "城关镇", "Chengguan Town", "451024", "德保县", "Debao County"),
    ],
    columns=[
        "township_code",
        "township_name_zh",
        "township_name_en",
        "county_code",
        "county_name_zh",
        "county_name_en",
    ],
)
COUNTIES_CSV = "name,label\n450123,隆安县 (Long'an County)\n451024,德保县 (Debao County)\n"
TOWNSHIPS_CSV = (
    "name,label,county\n"
    '450123101,"都结乡 (Dujie, Township)",450123\n'
    "451024101,城关镇 (Chengguan Town),451024\n"
    "451024102,那甲镇 (Najia Town),451024\n"
)


# --- the built XForms ------------------------------------------------------------------


class XForm:
    """A built XForm, parsed for the assertions below."""

    def __init__(self, path: Path) -> None:
        html = ElementTree.parse(path).getroot()
        model = html.find("h:head/xf:model", NS)
        self.title = html.findtext("h:head/h:title", "", NS)
        instances = model.findall("xf:instance", NS)
        self.data = next(i for i in instances if i.get("id") is None)[0]
        self.root = "/" + self.data.tag.split("}")[-1]
        self.instances = {i.get("id"): i for i in instances if i.get("id")}
        self.binds = {b.get("nodeset"): b.attrib for b in model.iterfind("xf:bind", NS)}
        self.controls = {
            c.get("ref"): c for c in html.find("h:body", NS).iter() if c.get("ref", "")[:1] == "/"
        }
        self.itext = {
            t.get("lang"): {
                text.get("id"): "".join(text.itertext()).strip()
                for text in t.iterfind("xf:text", NS)
            }
            for t in model.iterfind("xf:itext/xf:translation", NS)
        }
        self.paths: dict[str, str] = {}  # field name -> absolute path

        def walk(element: Any, path: str) -> None:
            for child in element:
                name = child.tag.split("}")[-1]
                assert name not in self.paths, f"{name} used twice"
                self.paths[name] = f"{path}/{name}"
                walk(child, f"{path}/{name}")

        walk(self.data, self.root)

    def bind(self, name: str) -> dict[str, str]:
        return self.binds[self.paths[name]]

    def control(self, name: str) -> Any:
        return self.controls[self.paths[name]]

    def text(self, ref: str, lang: str) -> str:
        """The itext of a `jr:itext('id')` reference in one language."""
        match = re.fullmatch(r"jr:itext\('(.+)'\)", ref)
        assert match, f"not translated: {ref}"
        return self.itext[lang][match[1]]

    def choices(self, name: str) -> list[str]:
        nodeset = self.control(name).find("xf:itemset", NS).get("nodeset")
        instance = self.instances[re.match(r"instance\('([^']+)'\)", nodeset)[1]]
        return [
            item.findtext("xf:name", "", NS) for item in instance.iterfind("xf:root/xf:item", NS)
        ]

    def choice_labels(self, name: str, lang: str) -> list[str]:
        nodeset = self.control(name).find("xf:itemset", NS).get("nodeset")
        instance = self.instances[re.match(r"instance\('([^']+)'\)", nodeset)[1]]
        return [
            self.itext[lang][item.findtext("xf:itextId", "", NS)]
            for item in instance.iterfind("xf:root/xf:item", NS)
        ]

    # Evaluate a field's expressions; values are given by field name, as submitted text.
    def constraint_ok(self, name: str, value: str, today: dt.date = TODAY, **values: str) -> bool:
        return _boolean(self._eval(name, "constraint", {**values, name: value}, today))

    def relevant(self, name: str, **values: str) -> bool:
        return _boolean(self._eval(name, "relevant", values, TODAY))

    def calculate(self, name: str, **values: str) -> Any:
        return self._eval(name, "calculate", values, TODAY)

    def _eval(self, name: str, attribute: str, values: dict[str, str], today: dt.date) -> Any:
        expression = self.bind(name)[attribute]
        return XPath(expression, self._typed(values), self.paths[name], today).value()

    def _typed(self, values: dict[str, str]) -> dict[str, Any]:
        """Node values by path, typed as ODK types them (dates, numbers, text)."""
        typed: dict[str, Any] = {}
        for name, value in values.items():
            kind = self.bind(name).get("type")
            if value != "" and kind == "date":
                typed[self.paths[name]] = dt.date.fromisoformat(value)
            elif value != "" and kind in {"int", "decimal"}:
                typed[self.paths[name]] = float(value)
            else:
                typed[self.paths[name]] = value
        return typed


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("forms")


@pytest.fixture(scope="module")
def built(out_dir: Path) -> dict[str, BuiltForm]:
    forms = build_forms(out_dir, registry_media_csv(TOWNSHIPS))  # with ODK Validate
    return {form.form_id: form for form in forms}


@pytest.fixture(scope="module")
def xforms(built: dict[str, BuiltForm]) -> dict[str, XForm]:
    return {form_id: XForm(form.xml_path) for form_id, form in built.items()}


def contract_fields(predicate: Callable[[Field], bool] = lambda f: True) -> list[Any]:
    return [
        pytest.param(form_id, field, id=f"{form_id}.{field.name}")
        for form_id, contract in CONTRACTS.items()
        for field in contract
        if predicate(field)
    ]


# --- build output ------------------------------------------------------------------------


def test_builds_the_three_forms_with_version_and_hash(out_dir: Path, built: dict) -> None:
    assert list(built) == list(FORM_IDS)
    versions = {"newborn_visit": "2026112801"}  # the other two have the children list
    for form_id, form in built.items():
        assert form.xml_path == out_dir / f"{form_id}.xml"
        assert form.version == versions.get(form_id, "2026112802")
        assert form.md5 == hashlib.md5(form.xml_path.read_bytes()).hexdigest()  # noqa: S324
        assert form.hash == f"md5:{form.md5}"
        children = () if form_id == "newborn_visit" else ("children.csv",)
        assert form.media_paths == tuple(
            out_dir / f"{form_id}-media" / name
            for name in (*children, "counties.csv", "townships.csv")
        )
    # Built empty: the server makes each health worker's list when Collect asks.
    children_csv = out_dir / "immunization-media" / "children.csv"
    assert children_csv.read_bytes() == (
        b"name,label,township,village,child_name,child_sex,child_dob,due,overdue,doses\n"
    )
    assert (built["immunization"].title_zh, built["immunization"].title_en) == (
        "预防接种",
        "Vaccination visit",
    )


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_settings_instance_id_and_name(xforms: dict[str, XForm], form_id: str) -> None:
    form = xforms[form_id]
    assert form.data.get("id") == form_id
    assert re.fullmatch(r"20[0-9]{6}[0-9]{2}", form.data.get("version"))
    assert form.bind("instanceID")[f"{JR}preload"] == "uid"
    assert form.paths["instanceID"] == f"{form.root}/meta/instanceID"
    date_field = {"newborn_visit": "visit_date", "nutrition_pack": "distribution_date"}.get(
        form_id, "vaccination_date"
    )
    name = form.calculate(
        "instanceName", child_id="451024202412030012", **{date_field: "2025-06-03"}
    )
    assert name == "451024202412030012 2025-06-03"
    for meta in ("start", "end", "today", "deviceid"):
        assert form.bind(meta)[f"{JR}preloadParams"] == meta


@pytest.mark.parametrize(("form_id", "field"), contract_fields())
def test_contract_field_has_its_node_and_type(
    xforms: dict[str, XForm], form_id: str, field: Field
) -> None:
    form = xforms[form_id]
    assert form.paths[field.name] == f"{form.root}/{field.path}"
    expected_type = {
        "text": "string",
        "integer": "int",
        "decimal": "decimal",
        "date": "date",
        "dateTime": "dateTime",
        "select_one": "string",
        "select_multiple": "string",
        "geopoint": "geopoint",
    }[field.kind]
    assert form.bind(field.name)["type"] == expected_type
    if field.metadata:
        return
    control = {"select_one": "select1", "select_multiple": "select"}.get(field.kind, "input")
    assert form.control(field.name).tag == f"{{{NS['xf']}}}{control}"
    assert (form.bind(field.name).get("required") == "true()") == field.required


@pytest.mark.parametrize(("form_id", "field"), contract_fields(lambda f: bool(f.choices)))
def test_select_has_every_contract_choice(
    xforms: dict[str, XForm], form_id: str, field: Field
) -> None:
    assert xforms[form_id].choices(field.name) == list(field.choices)


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_every_label_hint_and_message_in_both_languages(
    xforms: dict[str, XForm], form_id: str
) -> None:
    form = xforms[form_id]
    assert set(form.itext) == {ZH, EN}
    assert set(form.itext[ZH]) == set(form.itext[EN])
    for text_id in form.itext[ZH]:
        zh, en = form.itext[ZH][text_id], form.itext[EN][text_id]
        assert CJK.search(zh), f"{text_id}: no Chinese in {zh!r}"
        assert en and not CJK.search(en), f"{text_id}: English text is {en!r}"
    for ref, control in form.controls.items():
        label = control.find("xf:label", NS)
        assert label is not None, ref
        assert form.text(label.get("ref"), ZH) and form.text(label.get("ref"), EN)
        hint = control.find("xf:hint", NS)
        if hint is not None:
            assert form.text(hint.get("ref"), ZH) and form.text(hint.get("ref"), EN)
        for item in control.iterfind("xf:itemset/xf:label", NS):
            # media file choices carry their own labels (see test_township_list_...)
            assert item.get("ref") in {"label", "jr:itext(itextId)"}
    for ref, bind in form.binds.items():
        if "constraint" in bind:
            assert form.text(bind[f"{JR}constraintMsg"], EN), ref
        if bind.get("required") == "true()":
            assert form.text(bind[f"{JR}requiredMsg"], ZH), ref


def test_choice_labels_are_bilingual(xforms: dict[str, XForm]) -> None:
    form = xforms["newborn_visit"]
    assert form.choice_labels("place_of_delivery", ZH)[:2] == ["县级及以上医院", "乡镇卫生院"]
    assert form.choice_labels("place_of_delivery", EN)[1] == "Township health centre"


def test_township_list_comes_from_media_filtered_by_county(xforms: dict[str, XForm]) -> None:
    for form in xforms.values():
        assert form.instances["counties"].get("src") == "jr://file-csv/counties.csv"
        assert form.instances["townships"].get("src") == "jr://file-csv/townships.csv"
        county = form.control("county").find("xf:itemset", NS)
        assert county.get("nodeset") == "instance('counties')/root/item"
        township = form.control("township").find("xf:itemset", NS)
        assert township.get("nodeset") == (
            f"instance('townships')/root/item[county= {form.root}/location/county ]"
        )
        assert township.find("xf:value", NS).get("ref") == "name"
        assert township.find("xf:label", NS).get("ref") == "label"


def test_media_csvs_hold_exactly_the_registry_rows(built: dict[str, BuiltForm]) -> None:
    for form in built.values():
        media = {path.name: path.read_bytes() for path in form.media_paths}
        counties, townships = media["counties.csv"], media["townships.csv"]
        assert counties == COUNTIES_CSV.encode()
        assert townships == TOWNSHIPS_CSV.encode()
        assert not townships.startswith(b"\xef\xbb\xbf") and b"\r" not in townships
    rows = list(csv.DictReader(io.StringIO(TOWNSHIPS_CSV)))
    assert [r["name"] for r in rows] == sorted(TOWNSHIPS["township_code"])
    assert rows[0]["label"] == "都结乡 (Dujie, Township)"
    # ODK's web engine cannot load a form whose CSV has a `label::<language>` column
    assert not any("::" in column for column in rows[0])


def test_building_twice_gives_identical_bytes(out_dir: Path, built: dict, tmp_path: Path) -> None:
    build_forms(tmp_path / "again", registry_media_csv(TOWNSHIPS), odk_validate=False)
    # and in a fresh interpreter with another hash seed (set and dict order)
    script = (
        "import sys, pandas as pd; from pathlib import Path; from forms.build import build_forms;"
        "from forms.media import registry_media_csv;"
        "townships = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False);"
        "build_forms(Path(sys.argv[1]), registry_media_csv(townships), odk_validate=False)"
    )
    TOWNSHIPS.to_csv(tmp_path / "townships.csv", index=False)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "seeded"), str(tmp_path / "townships.csv")],
        check=True,
        env=env,
        cwd=Path(build_module.__file__).parents[1],
    )
    files = sorted(p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file())
    assert len(files) == 11  # 3 forms, 3 × 2 registry lists, 2 children lists
    for other in ("again", "seeded"):
        assert (
            sorted(
                p.relative_to(tmp_path / other)
                for p in (tmp_path / other).rglob("*")
                if p.is_file()
            )
            == files
        )
        for name in files:
            assert (tmp_path / other / name).read_bytes() == (out_dir / name).read_bytes(), name


def test_rebuild_replaces_stale_media(tmp_path: Path) -> None:
    stale = tmp_path / "immunization-media" / "old.csv"
    stale.parent.mkdir()
    stale.write_text("x")
    build_forms(tmp_path, registry_media_csv(TOWNSHIPS), odk_validate=False)
    assert not stale.exists()


def test_gps_is_optional_with_an_accuracy_threshold(xforms: dict[str, XForm]) -> None:
    for form in xforms.values():
        assert form.paths["gps"] == f"{form.root}/visit/gps"
        assert "required" not in form.bind("gps") and "constraint" not in form.bind("gps")
        assert form.control("gps").get("accuracyThreshold") == "10"


def test_group_structure(xforms: dict[str, XForm]) -> None:
    top = {form_id: [c.tag.split("}")[-1] for c in form.data] for form_id, form in xforms.items()}
    meta = ["start", "end", "today", "deviceid"]
    assert top["immunization"] == [*meta, "location", "child", "visit", "meta"]
    assert top["newborn_visit"] == [*meta, "location", "child", "birth", "visit", "meta"]
    assert top["nutrition_pack"] == [*meta, "location", "child", "visit", "growth", "meta"]
    visit = [c.tag.split("}")[-1] for c in xforms["immunization"].data.find("xf:visit", NS)]
    assert visit == [
        "vaccination_date",
        "doses_given",
        "hepb1_within_24h",
        "aefi",
        "feeding_24h",
        "next_visit_date",
        "gps",
    ]


# --- constraints, relevance and calculations ----------------------------------------------


@pytest.mark.parametrize(("form_id", "field"), contract_fields(lambda f: f.not_future))
def test_dates_cannot_be_in_the_future(
    xforms: dict[str, XForm], form_id: str, field: Field
) -> None:
    form = xforms[form_id]
    assert "today()" in form.bind(field.name)["constraint"]
    # the child is 18 months old today, within every form's window
    dob = {} if field.name == "child_dob" else {"child_dob": "2025-06-01"}
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    assert form.constraint_ok(field.name, TODAY.isoformat(), **dob)
    assert not form.constraint_ok(field.name, tomorrow, **dob)
    message = form.bind(field.name)[f"{JR}constraintMsg"]
    assert CJK.search(form.text(message, ZH)) and "future" in form.text(message, EN)


@pytest.mark.parametrize(("form_id", "field"), contract_fields(lambda f: bool(f.not_before)))
def test_visit_dates_not_before_birth(xforms: dict[str, XForm], form_id: str, field: Field) -> None:
    form = xforms[form_id]
    assert not form.constraint_ok(field.name, "2026-10-31", child_dob="2026-11-01")
    if form_id != "nutrition_pack":  # (a newborn is too young for nutrition packs)
        assert form.constraint_ok(field.name, "2026-11-01", child_dob="2026-11-01")


@pytest.mark.parametrize(
    ("form_id", "field"), contract_fields(lambda f: f.minimum is not None and not f.metadata)
)
def test_measures_refuse_impossible_values(
    xforms: dict[str, XForm], form_id: str, field: Field
) -> None:
    form = xforms[form_id]
    step = 1 if field.kind == "integer" else 0.1
    for value, ok in (
        (field.minimum, True),
        (field.maximum, True),
        (field.minimum - step, False),
        (field.maximum + step, False),
    ):
        text = f"{value:g}"
        assert form.constraint_ok(field.name, text) == ok, f"{field.name}={text}"
    message = form.bind(field.name)[f"{JR}constraintMsg"]
    zh, en = form.text(message, ZH), form.text(message, EN)
    assert f"{field.minimum:g}" in zh and f"{field.maximum:g}" in zh
    assert f"{field.minimum:g}" in en and f"{field.maximum:g}" in en


def test_child_dob_from_2010_until_today(xforms: dict[str, XForm]) -> None:
    for form in xforms.values():
        assert form.constraint_ok("child_dob", "2010-01-01")
        assert form.constraint_ok("child_dob", TODAY.isoformat())
        assert not form.constraint_ok("child_dob", "2009-12-31")


@pytest.mark.parametrize(
    ("child_id", "ok"),
    [
        ("451024202412030012", True),
        ("AB1234", True),
        ("12345", False),
        ("123456789012345678901", False),
        ("4510-2420", False),
        ("451024 2024", False),
    ],
)
def test_child_id_pattern(xforms: dict[str, XForm], child_id: str, ok: bool) -> None:
    assert xforms["immunization"].constraint_ok("child_id", child_id) == ok


@pytest.mark.parametrize(
    ("dob", "date", "ok"),
    [
        ("2024-01-15", "2024-07-15", True),  # exactly 6 months
        ("2024-01-15", "2024-07-10", False),  # 177 days
        ("2024-08-31", "2025-02-28", True),  # 6 months by the calendar, only 181 days
        ("2024-01-15", "2026-01-15", True),  # exactly 24 months
        ("2024-03-01", "2026-03-01", True),  # exactly 24 months, 730 days
        ("2023-03-01", "2025-03-01", True),  # exactly 24 months, 731 days
        ("2024-01-15", "2026-01-17", False),  # 24 months and 2 days
        ("2024-01-15", "2024-05-15", False),  # 4 months
        ("2023-01-15", "2026-01-15", False),  # 36 months
    ],
)
def test_nutrition_pack_only_for_children_6_to_24_months(
    xforms: dict[str, XForm], dob: str, date: str, ok: bool
) -> None:
    form = xforms["nutrition_pack"]
    assert form.constraint_ok("distribution_date", date, child_dob=dob) == ok


def test_nutrition_window_edges_in_days(xforms: dict[str, XForm]) -> None:
    form = xforms["nutrition_pack"]
    dob = dt.date(2024, 1, 15)
    for days, ok in ((180, False), (181, True), (731, True), (732, False)):
        date = (dob + dt.timedelta(days=days)).isoformat()
        assert form.constraint_ok("distribution_date", date, child_dob=dob.isoformat()) == ok


@pytest.mark.parametrize(
    ("dob", "date", "months"),
    [
        ("2024-01-15", "2024-07-15", 6),
        ("2024-01-15", "2024-07-14", 5),
        ("2024-01-15", "2026-01-15", 24),
        ("2024-01-15", "2026-01-14", 23),
        ("2023-12-31", "2024-12-31", 12),
    ],
)
def test_age_months_counts_completed_months(
    xforms: dict[str, XForm], dob: str, date: str, months: int
) -> None:
    form = xforms["nutrition_pack"]
    assert form.calculate("age_months", child_dob=dob, distribution_date=date) == months
    assert form.calculate("age_months", child_dob=dob, distribution_date="") == ""


@pytest.mark.parametrize(
    ("dob", "date", "asked"),
    [
        ("2025-01-10", "2025-01-10", True),  # newborn
        ("2025-01-10", "2025-07-09", True),  # 5 completed months
        ("2025-01-10", "2025-07-10", False),  # exactly 6 months
        ("2024-01-10", "2025-01-10", False),
    ],
)
def test_immunization_feeding_asked_under_6_months(
    xforms: dict[str, XForm], dob: str, date: str, asked: bool
) -> None:
    form = xforms["immunization"]
    assert form.relevant("feeding_24h", child_dob=dob, vaccination_date=date) == asked


def test_hepb1_within_24h_only_when_hepb1_given(xforms: dict[str, XForm]) -> None:
    form = xforms["immunization"]
    assert form.relevant("hepb1_within_24h", doses_given="hepb1 bcg")
    assert not form.relevant("hepb1_within_24h", doses_given="bcg hepb2")
    same_day = {"child_dob": "2026-11-20", "vaccination_date": "2026-11-20"}
    next_day = {"child_dob": "2026-11-20", "vaccination_date": "2026-11-21"}
    late = {"child_dob": "2026-11-20", "vaccination_date": "2026-11-23"}
    assert form.constraint_ok("hepb1_within_24h", "yes", **same_day)
    assert form.constraint_ok("hepb1_within_24h", "yes", **next_day)
    assert not form.constraint_ok("hepb1_within_24h", "yes", **late)
    assert form.constraint_ok("hepb1_within_24h", "no", **late)


def test_doses_given_needs_at_least_one(xforms: dict[str, XForm]) -> None:
    form = xforms["immunization"]
    assert form.bind("doses_given")["required"] == "true()"
    assert form.text(form.bind("doses_given")[f"{JR}requiredMsg"], EN).startswith(
        "Choose at least one"
    )


def test_next_visit_after_vaccination(xforms: dict[str, XForm]) -> None:
    form = xforms["immunization"]
    assert not form.constraint_ok("next_visit_date", "2026-11-20", vaccination_date="2026-11-20")
    assert form.constraint_ok("next_visit_date", "2026-11-21", vaccination_date="2026-11-20")
    assert form.constraint_ok("next_visit_date", "2027-03-01", vaccination_date="2026-11-20")


@pytest.mark.parametrize(
    ("signs", "ok"),
    [("none", True), ("fever jaundice", True), ("none fever", False), ("other none", False)],
)
def test_danger_sign_none_is_exclusive(xforms: dict[str, XForm], signs: str, ok: bool) -> None:
    assert xforms["newborn_visit"].constraint_ok("danger_signs", signs) == ok


@pytest.mark.parametrize(("form_id", "field"), contract_fields(lambda f: bool(f.max_length)))
def test_free_text_has_a_length_limit(xforms: dict[str, XForm], form_id: str, field: Field) -> None:
    form = xforms[form_id]
    assert form.constraint_ok(field.name, "弄" * field.max_length)
    assert not form.constraint_ok(field.name, "x" * (field.max_length + 1))


# --- failures ----------------------------------------------------------------------------


def edited_copy(tmp_path: Path, edit: Callable[[Any], None], form_id: str = "immunization") -> Path:
    """A copy of the XLSForms folder with one workbook edited through openpyxl."""
    folder = tmp_path / "xlsform"
    shutil.copytree(XLSFORM_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    workbook = load_workbook(folder / f"{form_id}.xlsx")
    edit(workbook)
    workbook.save(folder / f"{form_id}.xlsx")
    return folder


def set_cell(sheet: str, row_name: str, column: str, value: str | None) -> Callable[[Any], None]:
    """Edit the cell in `column` of the row whose name (form_id in settings) is `row_name`."""

    def edit(workbook: Any) -> None:
        ws = workbook[sheet]
        header = [c.value for c in ws[1]]
        key = header.index("form_id" if sheet == "settings" else "name")
        row = next(r for r in ws.iter_rows(min_row=2) if r[key].value == row_name)
        row[header.index(column)].value = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            set_cell("survey", "aefi", "name", "doses_given"),
            "'doses_given' is invalid. Questions, groups, and repeats must be unique",
            id="duplicate-name",
        ),
        pytest.param(
            set_cell("survey", "next_visit_date", "constraint", ". > ${vaccination_dat}"),
            "Could not find the name 'vaccination_dat'",
            id="unknown-reference",
        ),
        pytest.param(
            set_cell("survey", "next_visit_date", "constraint", ". > (${vaccination_date}"),
            "mismatched brackets or parentheses",
            id="bad-formula",
        ),
        pytest.param(
            set_cell("survey", "aefi", "type", "select_one no_such_list"),
            "no_such_list",
            id="missing-choice-list",
        ),
    ],
)
def test_broken_xlsform_fails_with_pyxform_message(
    tmp_path: Path, edit: Callable[[Any], None], message: str
) -> None:
    folder = edited_copy(tmp_path, edit)
    with pytest.raises(FormBuildError, match=re.escape(message)) as error:
        build_forms(tmp_path / "out", registry_media_csv(TOWNSHIPS), xlsform_dir=folder)
    assert str(error.value).startswith("immunization (immunization.xlsx): ")
    assert not (tmp_path / "out").exists()  # nothing written when a form fails


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            set_cell("survey", "aefi", "label::English (en)", None),
            "no English (en) text for ['/data/visit/aefi:label']",
            id="missing-translation",
        ),
        pytest.param(
            # pyxform itself refuses names the form refers to (child_name is filled from
            # the children list); the build's own check catches the rest
            set_cell("survey", "aefi", "name", "deviceid"),
            "names used more than once: ['deviceid']",
            id="name-reused-in-another-group",
        ),
        pytest.param(
            set_cell("survey", "aefi", "name", "adverse_event"),
            "contract field aefi missing at /data/visit/aefi",
            id="renamed-contract-field",
        ),
        pytest.param(
            set_cell("survey", "aefi", "type", "text"),
            "aefi: needs a select1 control",
            id="changed-type",
        ),
        pytest.param(
            set_cell("survey", "next_visit_date", "required", "yes"),
            "next_visit_date: must be optional",
            id="optional-made-required",
        ),
        pytest.param(
            set_cell("settings", "immunization", "version", "2026-11-28"),
            "settings version '2026-11-28' is not yyyymmddNN",
            id="bad-version",
        ),
    ],
)
def test_contract_breaking_edit_fails(
    tmp_path: Path, edit: Callable[[Any], None], message: str
) -> None:
    folder = edited_copy(tmp_path, edit)
    with pytest.raises(FormBuildError, match=re.escape(message)):
        build_forms(
            tmp_path / "out", registry_media_csv(TOWNSHIPS), xlsform_dir=folder, odk_validate=False
        )


def test_changed_choice_value_fails(tmp_path: Path) -> None:
    def edit(workbook: Any) -> None:
        for row in workbook["choices"].iter_rows(min_row=2):
            if (row[0].value, row[1].value) == ("yes_no", "no"):
                row[1].value = "No"

    folder = edited_copy(tmp_path, edit)
    with pytest.raises(FormBuildError, match=re.escape("aefi: choices ['no'] missing")):
        build_forms(
            tmp_path / "out", registry_media_csv(TOWNSHIPS), xlsform_dir=folder, odk_validate=False
        )


def test_missing_media_file_fails(tmp_path: Path) -> None:
    media = registry_media_csv(TOWNSHIPS)
    del media["townships.csv"]
    with pytest.raises(FormBuildError, match=re.escape("media file townships.csv not provided")):
        build_forms(tmp_path, media, odk_validate=False)


def test_default_media_comes_from_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = types.ModuleType("forms.registry")
    fake = types.SimpleNamespace(townships=TOWNSHIPS)
    monkeypatch.setattr(registry, "load_registry", lambda: fake, raising=False)
    monkeypatch.setitem(sys.modules, "forms.registry", registry)
    forms = build_forms(tmp_path, odk_validate=False)
    assert forms[0].media_paths[1].read_text(encoding="utf-8") == TOWNSHIPS_CSV


def test_registry_failure_is_a_build_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise ValueError("townships.csv: row 3 has no county_code")

    registry = types.ModuleType("forms.registry")
    monkeypatch.setattr(registry, "load_registry", broken, raising=False)
    monkeypatch.setitem(sys.modules, "forms.registry", registry)
    with pytest.raises(
        FormBuildError, match=re.escape("cannot load the township registry: townships.csv")
    ):
        build_forms(tmp_path, odk_validate=False)


# --- media -------------------------------------------------------------------------------


def test_media_rejects_a_broken_registry() -> None:
    with pytest.raises(ValueError, match=r"lacks columns \['county_name_en'\]"):
        registry_media_csv(TOWNSHIPS.drop(columns="county_name_en"))
    twice = pd.concat([TOWNSHIPS, TOWNSHIPS.iloc[[0]]])
    with pytest.raises(ValueError, match="duplicate township codes"):
        registry_media_csv(twice)
    renamed = TOWNSHIPS.assign(county_name_zh=["德保县", "隆安县", "德保縣"])
    with pytest.raises(ValueError, match=r"conflicting names: \['451024'\]"):
        registry_media_csv(renamed)
    outside = TOWNSHIPS.assign(county_code=["451024", "451024", "451024"])
    with pytest.raises(ValueError, match="not within their county code"):
        registry_media_csv(outside)


def test_media_without_english_name_falls_back_to_chinese() -> None:
    one = TOWNSHIPS.iloc[[2]].assign(township_name_en="")
    rows = list(csv.reader(io.StringIO(registry_media_csv(one)["townships.csv"].decode())))
    assert rows[1] == ["451024101", "城关镇", "451024"]


def test_media_does_not_modify_its_input() -> None:
    before = TOWNSHIPS.copy()
    registry_media_csv(TOWNSHIPS)
    pd.testing.assert_frame_equal(TOWNSHIPS, before)


# --- CLI ---------------------------------------------------------------------------------


def test_cli_build_prints_each_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "_default_media", lambda: registry_media_csv(TOWNSHIPS))
    result = CliRunner().invoke(forms_group, ["build", "--out", str(tmp_path), "--no-odk-validate"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split("\t")[0] for line in lines] == list(FORM_IDS)
    md5 = hashlib.md5((tmp_path / "immunization.xml").read_bytes()).hexdigest()  # noqa: S324
    assert lines[2].split("\t")[1:3] == ["version 2026112802", f"md5:{md5}"]


def test_cli_error_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise FormBuildError("immunization (immunization.xlsx): ODK Validate Errors:\n>> bad")

    monkeypatch.setattr(build_module, "build_forms", fail)
    result = CliRunner().invoke(forms_group, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        "Error: immunization (immunization.xlsx): ODK Validate Errors: >> bad\n"
    )


# --- a small XPath interpreter (ODK semantics for the functions the forms use) -----------

_EPOCH = dt.date(1970, 1, 1)
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|'(?P<string>[^']*)'|\"(?P<dstring>[^\"]*)\""
    r"|(?P<path>(?:/[A-Za-z_][\w-]*)+)|(?P<op>!=|<=|>=|[=<>+\-*(),.])"
    r"|(?P<name>[A-Za-z_][\w-]*))"
)
_BINARY = [("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "div", "mod")]


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, dt.date):
        return float((value - _EPOCH).days)
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except ValueError:
        return math.nan


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return (
            "NaN" if math.isnan(value) else (f"{value:.0f}" if value.is_integer() else str(value))
        )
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isnan(value) and value != 0
    if isinstance(value, str):
        return value != ""
    return bool(value)


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else _EPOCH + dt.timedelta(days=math.floor(value))
    return dt.date.fromisoformat(value) if value else None


def _format_date(value: Any, fmt: str) -> str:
    date = _date(value)
    if date is None:
        return ""
    parts = {"%Y": f"{date.year:04d}", "%m": f"{date.month:02d}", "%d": f"{date.day:02d}"}
    return re.sub(r"%[Ymd]", lambda m: parts[m[0]], fmt)


def _decimal_date_time(value: Any) -> float:
    date = _date(value)
    return math.nan if date is None else _number(date)


def _int(value: Any) -> float:
    number = _number(value)
    return number if math.isnan(number) else float(math.trunc(number))


class XPath:
    """Evaluates one expression against node values keyed by absolute path."""

    def __init__(
        self, expression: str, nodes: dict[str, Any], current: str, today: dt.date
    ) -> None:
        self.tokens = [(m.lastgroup, m[m.lastgroup]) for m in _TOKEN.finditer(expression)]
        assert "".join(re.sub(r"\s", "", t[1]) for t in self.tokens) == re.sub(
            r"\s|'|\"", "", expression
        ), f"cannot tokenize {expression!r}"
        self.nodes, self.current, self.position = nodes, current, 0
        self.functions: dict[str, Callable[..., Any]] = {
            "today": lambda: today,
            "date": lambda v: _date(v) if isinstance(v, str | dt.date) else _date(_number(v)),
            "decimal-date-time": _decimal_date_time,
            "format-date": lambda v, f: _format_date(v, f),
            "int": _int,
            "round": lambda v: (
                math.floor(_number(v) + 0.5) if not math.isnan(_number(v)) else math.nan
            ),
            "if": lambda c, a, b: a if _boolean(c) else b,
            "selected": lambda s, v: _string(v) in _string(s).split(),
            "count-selected": lambda s: float(len(_string(s).split())),
            "regex": lambda s, p: re.search(p, _string(s)) is not None,
            "string-length": lambda s: float(len(_string(s))),
            "not": lambda v: not _boolean(v),
            "concat": lambda *vs: "".join(_string(v) for v in vs),
        }

    def value(self) -> Any:
        result = self._binary(0)
        assert self.position == len(self.tokens), "trailing tokens"
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        self.position += 1
        return self.tokens[self.position - 1]

    def _binary(self, level: int) -> Any:
        if level == len(_BINARY):
            return self._unary()
        left = self._binary(level + 1)
        while self._peek() in _BINARY[level]:
            op = self._take()[1]
            left = self._apply(op, left, self._binary(level + 1))
        return left

    def _apply(self, op: str, a: Any, b: Any) -> Any:
        if op in {"or", "and"}:
            return (_boolean(a) or _boolean(b)) if op == "or" else (_boolean(a) and _boolean(b))
        if op in {"=", "!="}:
            if isinstance(a, bool) or isinstance(b, bool):
                equal = _boolean(a) == _boolean(b)
            elif isinstance(a, float) or isinstance(b, float):
                equal = _number(a) == _number(b)
            else:
                equal = _string(a) == _string(b)
            return equal if op == "=" else not equal
        x, y = _number(a), _number(b)
        return {
            "<": lambda: x < y,
            "<=": lambda: x <= y,
            ">": lambda: x > y,
            ">=": lambda: x >= y,
            "+": lambda: x + y,
            "-": lambda: x - y,
            "*": lambda: x * y,
            "div": lambda: x / y if y else math.nan,
            "mod": lambda: math.fmod(x, y) if y else math.nan,
        }[op]()

    def _unary(self) -> Any:
        if self._peek() == "-":
            self._take()
            return -_number(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "number":
            return float(text)
        if kind in {"string", "dstring"}:
            return text
        if kind == "path":
            return self.nodes.get(text, "")
        if text == ".":
            return self.nodes.get(self.current, "")
        if text == "(":
            result = self._binary(0)
            assert self._take()[1] == ")"
            return result
        assert kind == "name" and self._take()[1] == "(", f"unexpected {text!r}"
        args = []
        while self._peek() != ")":
            args.append(self._binary(0))
            if self._peek() == ",":
                self._take()
        self._take()
        return self.functions[text](*args)


def test_children_list_doses_text_names_each_dose() -> None:
    schedule = load_schedule()
    assert doses_text(schedule, "bcg hepb1", "hepb2", nutrition_overdue=True) == (
        "逾期 overdue: 乙肝疫苗 第2剂 (hepb2)；应种 due: 卡介苗 (bcg)、乙肝疫苗 第1剂 (hepb1)；"
        "营养包超过35天未领 (no pack for 35 days)"
    )
    assert doses_text(schedule, "", "", nutrition_overdue=False) == "无应种疫苗 (nothing due)"
    with pytest.raises(KeyError):
        doses_text(schedule, "measles9", "", nutrition_overdue=False)
