"""`cradle demo generate`: realistic submissions that the ingestion core accepts, and a
truth that matches them exactly.

One small dataset (2 counties, births in 2026) with every fault switched on is generated
once into a temporary folder against forms built there; the checks read it the way a
user would: the JSON lines, the Parquet truth and the manifest.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from forms.build import build_forms
from forms.contract import CONTRACTS, FEEDING_UNDER_MONTHS
from forms.registry import load_registry
from forms.schedule import load_schedule
from forms.synthetic import Options, SyntheticError, demo_group, generate, read_submissions
from forms.synthetic.dates import add_months, completed_months
from forms.synthetic.instances import FormTemplate, TemplateError
from sync.ingest.normalize import Places, normalize, validate
from sync.ingest.parse import parse_instance
from sync.ingest.problems import Problem
from sync.ingest.store import Outcome

TODAY = date(2026, 11, 28)
UNTIL = date(2026, 11, 27)
END_OF_UNTIL = "2026-11-27T15:59:59.999Z"  # midnight in Asia/Shanghai, in UTC
XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"
FAULTY = Options(
    seed=7,
    counties=2,
    years=(2026,),
    until=UNTIL,
    scale=0.5,
    duplicates=0.04,
    edits=0.04,
    late=0.04,
    invalid=0.04,
)
DATE_FIELDS = {
    "newborn_visit": "visit_date",
    "nutrition_pack": "distribution_date",
    "immunization": "vaccination_date",
}


@pytest.fixture(scope="module")
def forms_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("forms")
    build_forms(out, odk_validate=False)
    return out


@pytest.fixture(scope="module")
def dataset(forms_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(FAULTY, out_dir=out, forms_dir=forms_dir, today=TODAY)
    return out


@pytest.fixture(scope="module")
def lines(dataset: Path) -> list[dict[str, str]]:
    return read_submissions(dataset / "submissions.jsonl")


@pytest.fixture(scope="module")
def truth(dataset: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in (dataset / "truth").glob("*.parquet")}


@pytest.fixture(scope="module")
def places() -> Places:
    townships = load_registry().townships
    return Places.from_pairs(dict(zip(townships.township_code, townships.county_code, strict=True)))


def primary_instance(xform: Path) -> tuple[dict[str, str], list[str], set[str]]:
    """Root attributes, leaf paths of a built XForm's primary instance and the paths with
    a `relevant` bind, read here independently of the generator."""
    root = ET.parse(xform).getroot()  # noqa: S314 - our own build output
    model = root.find(f"{H}head/{XF}model")
    primary = model.find(f"{XF}instance")[0]
    prefix = f"/{primary.tag.replace(XF, '')}/"
    conditional = {
        b.get("nodeset").removeprefix(prefix) for b in model.iter(f"{XF}bind") if b.get("relevant")
    }
    paths: list[str] = []

    def walk(node: ET.Element, prefix: str) -> None:
        for child in node:
            name = child.tag.replace(XF, "")
            path = f"{prefix}/{name}" if prefix else name
            if len(child):
                walk(child, path)
            else:
                paths.append(path)

    walk(primary, "")
    return dict(primary.attrib), paths, conditional


def asked(form_id: str, fields: dict[str, str]) -> dict[str, bool]:
    """Whether each question with skip logic is asked (relevant), by path, decided here
    from the submitted answers as the form says: hepatitis B timing only when hepb1 is
    ticked, feeding only for a child under 6 completed months on the vaccination day, the
    children list's note only when a child was picked from it (generated visits never do)."""
    picked = {} if form_id == "newborn_visit" else {"child/pick_note": False}
    if form_id != "immunization":
        return picked
    dob, on = (
        np.array([fields[k]], dtype="datetime64[D]") for k in ("child_dob", "vaccination_date")
    )
    return {
        **picked,
        "visit/hepb1_within_24h": "hepb1" in fields["doses_given"].split(),
        "visit/feeding_24h": int(completed_months(dob, on)[0]) < FEEDING_UNDER_MONTHS,
    }


def test_every_submission_has_the_built_forms_relevant_nodes_in_order(
    lines: list[dict[str, str]], forms_dir: Path
) -> None:
    forms = {f: primary_instance(forms_dir / f"{f}.xml") for f in CONTRACTS}
    assert {line["form_id"] for line in lines} == set(CONTRACTS)
    left_out: Counter[str] = Counter()
    for line in lines:
        xml = line["xml"].encode("utf-8")
        parsed = parse_instance(xml)
        attributes, paths, conditional = forms[parsed.form_id]
        assert parsed.form_id == line["form_id"] == attributes["id"]
        assert parsed.form_version == attributes["version"]
        assert parsed.instance_id == line["instance_id"]
        relevant = asked(parsed.form_id, parsed.fields)
        assert set(relevant) == conditional  # every bind with skip logic is checked here
        got = [p for p in parsed.paths.values() if p != "meta/deprecatedID"]
        assert got == [p for p in paths if relevant.get(p, True)]  # ODK leaves out the rest
        left_out.update(p for p, r in relevant.items() if not r)
        assert not xml.startswith(b"<?xml") and b"\n" not in xml and b"> <" not in xml
    assert left_out["visit/hepb1_within_24h"] > 0 and left_out["visit/feeding_24h"] > 0


def test_valid_submissions_pass_the_contract_and_invalid_ones_fail_for_their_reason(
    lines: list[dict[str, str]], truth: dict[str, pd.DataFrame], places: Places
) -> None:
    arrivals = truth["arrivals"]
    assert len(arrivals) == len(lines)
    reasons = Counter()
    for line, row in zip(lines, arrivals.itertuples(), strict=True):
        assert row.instance_id == line["instance_id"] and row.form_id == line["form_id"]
        parsed = parse_instance(line["xml"].encode("utf-8"))
        contract = CONTRACTS[parsed.form_id]
        data, _, problems = normalize(parsed.fields, contract)
        problems += validate(data, contract, places, TODAY)
        codes = [p.code for p in problems]
        assert codes == ([row.reason] if row.invalid else []), (row.instance_id, codes)
        reasons[row.reason] += row.invalid
    expected = {"out_of_range", "unknown_township", "before_birth", "future_date"}
    assert expected | {"age_out_of_window", "invalid_pattern"} == {
        r for r, n in reasons.items() if n
    }


def test_form_logic_is_filled_as_odk_would(lines: list[dict[str, str]]) -> None:
    uuid4 = re.compile(
        r"^uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$")
    for line in lines:
        fields = parse_instance(line["xml"].encode("utf-8")).fields
        assert uuid4.match(fields["instanceID"])
        assert re.fullmatch(r"collect:[0-9A-Za-z]{16}", fields["deviceid"])
        assert stamp.match(fields["start"]) and stamp.match(fields["end"])
        start, end = (datetime.fromisoformat(fields[k]) for k in ("start", "end"))
        assert start < end <= start.replace(hour=23, minute=59) and fields["today"] == str(
            start.date()
        )
        form_date = fields[DATE_FIELDS[line["form_id"]]]
        assert fields["instanceName"] == f"{fields['child_id']} {form_date}"
        dob, on = (np.array([d], dtype="datetime64[D]") for d in (fields["child_dob"], form_date))
        months = int(completed_months(dob, on)[0])
        if line["form_id"] == "nutrition_pack":
            assert fields["age_months"] == str(months)
            assert fields["measured_lying"] == ("yes" if months < 24 else "no")
        if line["form_id"] == "immunization":
            doses = fields["doses_given"].split()
            # asked only when hepb1 is ticked, and then always answered
            assert fields.get("hepb1_within_24h", "") in (
                ("yes", "no") if "hepb1" in doses else ("",)
            )
            assert ("hepb1_within_24h" in fields) == ("hepb1" in doses)
            # asked under 6 completed months on the vaccination day, even a mistyped one
            assert ("feeding_24h" in fields) == (months < FEEDING_UNDER_MONTHS)
            if form_date == fields["today"]:  # not one of the mistyped dates: answered
                assert (fields.get("feeding_24h", "") != "") == (months < FEEDING_UNDER_MONTHS)
        if line["form_id"] == "newborn_visit":
            signs = fields["danger_signs"].split()
            assert signs == ["none"] or "none" not in signs


def test_nothing_is_dated_after_the_evaluation_date(
    lines: list[dict[str, str]], truth: dict[str, pd.DataFrame]
) -> None:
    arrivals = truth["arrivals"]
    for line, invalid, reason in zip(lines, arrivals.invalid, arrivals.reason, strict=True):
        assert line["received_at"] <= END_OF_UNTIL
        if invalid and reason == "future_date":
            continue
        dates = re.findall(r"\d{4}-\d{2}-\d{2}", line["xml"])
        assert max(dates) <= UNTIL.isoformat(), line["instance_id"]
    assert truth["children"]["dob"].max() <= UNTIL
    assert truth["doses"]["date"].max() <= UNTIL
    received = [line["received_at"] for line in lines]
    assert received == sorted(received)


def test_submissions_arrive_hours_to_days_after_collection_and_late_ones_weeks(
    truth: dict[str, pd.DataFrame],
) -> None:
    for form_id in CONTRACTS:
        table = truth[form_id]
        lag = (table.received_at - table.end).dt.total_seconds() / 86400
        assert (lag > 0).all()
        assert lag[table.late].min() >= 14 and table.late.sum() > 0
        assert lag[~table.late & (table.version == 1)].median() < 2


def _with_bind(xform: Path, out: Path, bind: str) -> Path:
    """A copy of a built XForm with one more bind (text edit, as a form designer would)."""
    text = xform.read_text(encoding="utf-8")
    out.write_text(text.replace("</model>", f"{bind}</model>", 1), encoding="utf-8")
    return out


def test_a_group_that_is_not_relevant_is_left_out_with_its_subtree(
    forms_dir: Path, tmp_path: Path
) -> None:
    xform = _with_bind(
        forms_dir / "immunization.xml",
        tmp_path / "immunization.xml",
        """<bind nodeset="/data/visit" relevant=" /data/child/child_sex  = 'female'"/>""",
    )
    template = FormTemplate.from_xform(xform)
    values = {
        "child_sex": ["female", "male", "female"],
        "child_dob": ["2026-01-01", "2026-01-01", "2025-01-01"],
        "vaccination_date": ["2026-01-02", "2026-01-02", "2026-01-02"],
        "doses_given": ["hepb2", "hepb2", "hepb1"],
        "feeding_24h": ["exclusive", "exclusive", "exclusive"],
        "instanceID": ["uuid:1", "uuid:2", "uuid:3"],
    }
    female, male, older = (ET.fromstring(x) for x in template.render(values))  # noqa: S314
    visit = ["vaccination_date", "doses_given", "aefi", "feeding_24h", "next_visit_date", "gps"]
    assert [n.tag for n in female.find("visit")] == visit
    assert male.find("visit") is None and male.find("meta/instanceID").text == "uuid:2"
    assert [n.tag for n in older.find("visit")] == [
        "vaccination_date",
        "doses_given",
        "hepb1_within_24h",  # relevant, not answered: an empty element
        "aefi",
        "next_visit_date",
        "gps",
    ]
    assert older.find("visit/hepb1_within_24h").text is None
    relevant = template.relevance(values, 3)
    assert relevant["visit"].tolist() == [True, False, True]
    assert relevant["feeding_24h"].tolist() == [True, False, False]


def test_a_relevance_the_generator_cannot_evaluate_fails_when_the_form_is_read(
    forms_dir: Path, tmp_path: Path
) -> None:
    xform = _with_bind(
        forms_dir / "immunization.xml",
        tmp_path / "immunization.xml",
        """<bind nodeset="/data/visit/aefi" relevant="today() &gt; /data/child/child_dob"/>""",
    )
    with pytest.raises(TemplateError, match=r"/data/visit/aefi: .*today\(\)"):
        FormTemplate.from_xform(xform)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(
    forms_dir: Path, tmp_path: Path
) -> None:
    small = Options(
        seed=3,
        townships=("451024101", "451024102"),
        years=(2026,),
        children=150,
        duplicates=0.1,
        edits=0.1,
        late=0.1,
        invalid=0.1,
    )
    runs = {}
    for name, options, compress in (
        ("a", small, True),
        ("b", small, True),
        ("c", replace(small, seed=4), True),
    ):
        generate(
            options, out_dir=tmp_path / name, forms_dir=forms_dir, today=TODAY, compress=compress
        )
        runs[name] = {
            p.relative_to(tmp_path / name): p.read_bytes()
            for p in sorted((tmp_path / name).rglob("*"))
            if p.is_file()
        }
    assert runs["a"] == runs["b"]
    assert set(runs["a"]) == set(runs["c"])
    assert runs["a"][Path("submissions.jsonl.gz")] != runs["c"][Path("submissions.jsonl.gz")]


def test_resends_are_identical_bytes_and_edits_name_the_version_they_replace(
    lines: list[dict[str, str]], truth: dict[str, pd.DataFrame]
) -> None:
    arrivals = truth["arrivals"]
    by_id: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for seq, line in enumerate(lines):
        by_id[line["instance_id"]].append((seq, line["xml"]))
    duplicates = arrivals[arrivals.kind == "duplicate"]
    assert len(duplicates) > 0
    for instance_id in duplicates.instance_id:
        copies = by_id[instance_id]
        assert len(copies) >= 2 and len({xml for _, xml in copies}) == 1
    edits = arrivals[arrivals.kind == "edit"]
    assert len(edits) > 0
    for row in edits.itertuples():
        (seq, xml), *_ = by_id[row.instance_id]
        fields = parse_instance(xml.encode("utf-8")).fields
        assert fields["deprecatedID"] == row.deprecated_id
        first_seq, first_xml = by_id[row.deprecated_id][0]
        assert first_seq < seq
        before = parse_instance(first_xml.encode("utf-8")).fields
        changed = {k for k in fields if fields[k] != before.get(k)}
        assert changed - {"instanceID", "deprecatedID"} != set()
        assert changed <= {
            "instanceID",
            "deprecatedID",
            "instanceName",
            "village",
            "child_name",
            "birth_weight_g",
            "weight_kg",
            "length_cm",
        }


def test_truth_holds_exactly_the_submitted_values(
    lines: list[dict[str, str]], truth: dict[str, pd.DataFrame]
) -> None:
    latest: dict[str, dict[str, object]] = {}
    for line in lines:
        parsed = parse_instance(line["xml"].encode("utf-8"))
        data, extra, _ = normalize(parsed.fields, CONTRACTS[parsed.form_id])
        latest[parsed.instance_id] = {**data, **extra}
    for form_id, contract in CONTRACTS.items():
        table = truth[form_id]
        assert set(table.instance_id) == {
            line["instance_id"] for line in lines if line["form_id"] == form_id
        }
        for row in table.to_dict("records"):
            submitted = latest[row["instance_id"]]
            for f in contract:
                column = {"county": "county_code", "township": "township_code"}.get(f.name, f.name)
                value = row[column]
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    assert f.name not in submitted, (row["instance_id"], f.name)
                elif f.kind == "date":
                    assert submitted[f.name] == value.isoformat()
                elif f.kind == "dateTime":
                    assert datetime.fromisoformat(submitted[f.name]) == value
                elif f.kind == "select_multiple":
                    assert submitted[f.name] == sorted(value.split())
                elif f.kind == "geopoint":
                    assert submitted[f.name]["lat"] == float(value.split()[0])
                else:
                    assert submitted[f.name] == value, (row["instance_id"], f.name)
            if form_id == "nutrition_pack":
                assert submitted["age_months"] == str(row["age_months"])


def test_counted_versions_and_doses_follow_the_edits_and_refusals(
    truth: dict[str, pd.DataFrame],
) -> None:
    for form_id in CONTRACTS:
        table = truth[form_id]
        edited = set(table.loc[table.version > 1, "deprecated_id"])
        assert set(table.loc[table.superseded, "instance_id"]) == edited
        assert (table.counts == (~table.invalid & ~table.superseded)).all()
        assert table.loc[table.counts, "original_id"].is_unique
        assert not table.loc[table.invalid, "reason"].isna().any()
    imm = truth["immunization"]
    counted = imm[imm.counts]
    expected = sorted(
        (c, d, v)
        for c, doses, v in zip(
            counted.child_id, counted.doses_given, counted.vaccination_date, strict=True
        )
        for d in doses.split()
    )
    doses = truth["doses"]
    assert sorted(zip(doses.child_id, doses.dose, doses.date, strict=True)) == expected


def test_children_have_deterministic_card_numbers_and_plausible_attributes(
    truth: dict[str, pd.DataFrame],
) -> None:
    children = truth["children"]
    assert children.child_id.is_unique
    assert children.child_id.str.fullmatch(r"\d{18}").all()
    assert (children.child_id.str[:6] == children.county_code).all()
    dob = pd.to_datetime(children.dob).dt.strftime("%Y%m%d")
    assert (children.child_id.str[6:14] == dob).all()
    assert 0.45 < (children.sex == "male").mean() < 0.57
    assert 0.02 < (children.birth_weight_g < 2500).mean() < 0.11
    assert children.born_in_facility.mean() > 0.9
    assert children.township_code.nunique() > 10


def coverage(truth: dict[str, pd.DataFrame], dose: str, evaluation: date) -> pd.Series:
    """`imm_<dose>` per township as INDICATORS.md defines it, from the truth alone."""
    children = truth["children"]
    children = children[children.registered]
    due = load_schedule().dose(dose).due_months
    on = np.full(len(children), np.datetime64(evaluation), dtype="datetime64[D]")
    age = completed_months(children.dob.to_numpy(dtype="datetime64[D]"), on)
    eligible = children[(age >= due + 1) & (age < due + 13)]
    doses = truth["doses"]
    given = set(doses.loc[(doses.dose == dose) & (doses.date <= evaluation), "child_id"])
    return eligible.child_id.isin(given).groupby(eligible.township_code).mean()


def test_township_coverage_falls_on_both_sides_of_the_target(
    truth: dict[str, pd.DataFrame],
) -> None:
    rates = coverage(truth, "hepb2", UNTIL)
    assert len(rates) >= 10
    assert (rates < 0.95).any() and (rates >= 0.95).any()
    births = truth["children"].groupby("township_code").size()
    assert births.max() > 2 * births.min()


def test_schedule_timing_is_realistic(truth: dict[str, pd.DataFrame]) -> None:
    imm = truth["immunization"]
    imm = imm[imm.counts]
    together = imm.doses_given.str.split().map(len) > 1
    assert together.mean() > 0.3  # e.g. hepb1 bcg, ipv2 dtap1, bopv1 dtap2
    hepb2 = imm[imm.doses_given.str.contains("hepb2")]
    dob = hepb2.child_dob.to_numpy(dtype="datetime64[D]")
    due = add_months(dob, 1)
    delay = (hepb2.vaccination_date.to_numpy(dtype="datetime64[D]") - due).astype(int)
    assert delay.min() >= 0 and np.median(delay) < 30 and delay.max() > 30
    yes = imm[imm.hepb1_within_24h == "yes"]
    assert (
        (pd.to_datetime(yes.vaccination_date) - pd.to_datetime(yes.child_dob)).dt.days <= 1
    ).all()


def test_manifest_counts_what_was_written(dataset: Path, truth: dict[str, pd.DataFrame]) -> None:
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["seed"] == FAULTY.seed and manifest["options"]["counties"] == 2
    assert manifest["counts"]["deliveries"] == len(truth["arrivals"])
    for form_id in CONTRACTS:
        counts = manifest["counts"]["forms"][form_id]
        table = truth[form_id]
        assert counts["submissions"] == len(table)
        assert counts["invalid"] == int(table.invalid.sum())
        assert counts["deliveries"] == int((truth["arrivals"].form_id == form_id).sum())
    assert manifest["date_range"]["until"] == UNTIL.isoformat()
    assert "submissions.jsonl" in manifest["files"]


def test_cli_writes_a_folder_and_refuses_impossible_options(
    forms_dir: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    args = [
        "generate",
        "--forms",
        str(forms_dir),
        "--townships",
        "451024101",
        "--years",
        "2026",
        "--until",
        "2026-06-30",
        "--children",
        "40",
        "--out",
        str(tmp_path / "cli"),
    ]
    result = runner.invoke(demo_group, args)
    assert result.exit_code == 0, result.output
    assert "generated" in result.output and (tmp_path / "cli" / "submissions.jsonl").is_file()
    future = runner.invoke(demo_group, [*args, "--until", "2999-01-01"])
    assert future.exit_code == 1 and "is after today" in future.output
    nowhere = runner.invoke(demo_group, ["generate", "--counties", "1"])
    assert nowhere.exit_code == 2 and "--out" in nowhere.output
    unknown = runner.invoke(demo_group, [*args, "--townships", "999999999"])
    assert unknown.exit_code == 1 and "999999999" in unknown.output


def test_options_are_checked() -> None:
    with pytest.raises(SyntheticError, match="after today"):
        Options(until=date(2026, 12, 1)).check(TODAY)
    with pytest.raises(SyntheticError, match="--edits"):
        Options(edits=1.5).check(TODAY)
    with pytest.raises(SyntheticError, match="not both"):
        Options(counties=1, townships=("451024101",)).check(TODAY)


class _Refusing:
    """An ingestion core that quarantines everything (as after a broken registry)."""

    def ingest_many(self, batch: list) -> list[Outcome]:
        return [Outcome("quarantined", 422, problems=(Problem("unknown_township"),)) for _ in batch]


def test_a_couch_load_fails_in_one_line_when_valid_submissions_are_quarantined(
    forms_dir: Path,
) -> None:
    small = Options(townships=("451024101",), years=(2026,), children=5)
    with pytest.raises(SyntheticError, match=r"^\d+ valid submissions were quarantined, first"):
        generate(small, ingestor=_Refusing(), forms_dir=forms_dir, today=TODAY)  # type: ignore[arg-type]
