"""Checks of a built XForm: settings, translations, unique names, the data contract and
the vaccine schedule. Pure functions on the XForm text; the build turns problems into
a `FormBuildError`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

from forms.contract import CONTRACTS, CONTROLS, Field
from forms.schedule import Schedule

LANGUAGES = ("Chinese (zh)", "English (en)")
DEFAULT_LANGUAGE = LANGUAGES[0]

_NS = {
    "h": "http://www.w3.org/1999/xhtml",
    "xf": "http://www.w3.org/2002/xforms",
    "jr": "http://openrosa.org/javarosa",
}
_JR = "{" + _NS["jr"] + "}"
_TITLE = re.compile(r"^(?P<zh>.+) \((?P<en>[^()]+)\)$")
_MEDIA_SRC = re.compile(r"^jr://file(?:-csv)?/(?P<name>[^/]+)$")
_ITEMSET = re.compile(r"^instance\('(?P<id>[^']+)'\)/root/item(?P<filter>\[.*\])?$")


@dataclass(frozen=True, slots=True)
class XFormInfo:
    """What the build reports of a checked XForm."""

    version: str
    title_zh: str
    title_en: str
    media_names: tuple[str, ...]


def check_xform(form_id: str, xform: str, schedule: Schedule) -> tuple[XFormInfo, list[str]]:
    """Check the XForm built for `form_id`; return what it declares and its problems.

    Problems: settings (form_id, version yyyymmddNN, title "中文 (English)", default
    language, instanceID, instance_name), a missing translation, a name used twice, a
    contract field missing or changed, or `doses_given` choices that differ from the
    schedule (codes, order, names).
    """
    form = _XForm(xform)
    problems = [
        *_check_settings(form, form_id),
        *_check_translations(form),
        *_check_unique_names(form),
        *_check_contract(form, form_id),
    ]
    if "doses_given" in CONTRACTS[form_id].names:
        problems += _check_doses(form, CONTRACTS[form_id]["doses_given"], schedule)
    title = _TITLE.match(form.title)
    info = XFormInfo(
        version=form.version,
        title_zh=title["zh"] if title else form.title,
        title_en=title["en"] if title else "",
        media_names=tuple(sorted(form.files.values())),
    )
    return info, problems


class _XForm:
    """The parts of a built XForm that the checks read."""

    def __init__(self, xform: str) -> None:
        html = ElementTree.fromstring(xform.encode("utf-8"))
        head = html.find("h:head", _NS)
        model = head.find("xf:model", _NS)
        self.title = head.findtext("h:title", "", _NS)
        instances = model.findall("xf:instance", _NS)
        self.data: Element = next(i for i in instances if i.get("id") is None)[0]
        self.root = f"/{_local(self.data.tag)}"
        self.form_id = self.data.get("id", "")
        self.version = self.data.get("version", "")
        self.files = {  # instance id -> media file name
            i.get("id"): m["name"]
            for i in instances
            if i.get("src") and (m := _MEDIA_SRC.match(i.get("src", "")))
        }
        self.choices = {  # instance id -> [(name, itext id)]
            i.get("id"): [
                (item.findtext("xf:name", "", _NS), item.findtext("xf:itextId", "", _NS))
                for item in i.iterfind("xf:root/xf:item", _NS)
            ]
            for i in instances
            if i.get("id") and not i.get("src")
        }
        self.nodes = _paths(self.data)
        self.binds = {b.get("nodeset"): b.attrib for b in model.iterfind("xf:bind", _NS)}
        body = html.find("h:body", _NS)
        self.controls = {c.get("ref"): c for c in body.iter() if c.get("ref", "").startswith("/")}
        self.itext: dict[str, dict[str, str]] = {}  # language -> text id -> text
        self.default_languages = []
        for translation in model.iterfind("xf:itext/xf:translation", _NS):
            lang = translation.get("lang", "")
            if translation.get("default"):
                self.default_languages.append(lang)
            self.itext[lang] = {
                text.get("id", ""): "".join(text.itertext()).strip()
                for text in translation.iterfind("xf:text", _NS)
            }

    def path(self, field: Field) -> str:
        return f"{self.root}/{field.path}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _paths(root: Element) -> dict[str, Element]:
    """Every node below `root` by its absolute path, e.g. `/data/visit/gps`."""
    paths = {}

    def walk(element: Element, path: str) -> None:
        paths[path] = element
        for child in element:
            walk(child, f"{path}/{_local(child.tag)}")

    walk(root, f"/{_local(root.tag)}")
    return paths


def _check_settings(form: _XForm, form_id: str) -> list[str]:
    problems = []
    if form.form_id != form_id:
        problems.append(f"settings form_id is {form.form_id!r}, expected {form_id!r}")
    try:
        dt.datetime.strptime(form.version[:8], "%Y%m%d")
        ok = re.fullmatch(r"[0-9]{10}", form.version) is not None
    except ValueError:
        ok = False
    if not ok:
        problems.append(f"settings version {form.version!r} is not yyyymmddNN")
    if not _TITLE.match(form.title):
        problems.append(f"settings form_title {form.title!r} is not '中文 (English)'")
    if form.default_languages != [DEFAULT_LANGUAGE]:
        problems.append(f"default_language must be {DEFAULT_LANGUAGE!r}")
    instance_id = form.binds.get(f"{form.root}/meta/instanceID", {})
    if instance_id.get(f"{_JR}preload") != "uid":
        problems.append("no meta/instanceID")
    if not form.binds.get(f"{form.root}/meta/instanceName", {}).get("calculate"):
        problems.append("no instance_name")
    return problems


def _check_translations(form: _XForm) -> list[str]:
    """Both languages, every text non-empty in each, every prompt and message translated."""
    if sorted(form.itext) != sorted(LANGUAGES):
        return [f"languages are {sorted(form.itext)}, expected {list(LANGUAGES)}"]
    problems = []
    ids = {i for texts in form.itext.values() for i in texts}
    for lang, texts in form.itext.items():
        missing = sorted(i for i in ids if texts.get(i, "-") in {"", "-"})
        if missing:
            problems.append(f"no {lang} text for {missing}")
    for ref, control in form.controls.items():
        for part in ("label", "hint"):
            element = control.find(f"xf:{part}", _NS)
            if element is not None and not element.get("ref", "").startswith("jr:itext("):
                problems.append(f"{ref} {part} is not translated")
    for ref, bind in form.binds.items():
        if bind.get("constraint") and not bind.get(f"{_JR}constraintMsg"):
            problems.append(f"{ref} has a constraint without constraint_message")
        if bind.get("required") == "true()" and not bind.get(f"{_JR}requiredMsg"):
            problems.append(f"{ref} is required without required_message")
    return problems


def _check_unique_names(form: _XForm) -> list[str]:
    """Field and group names are unique in the whole form, so a name identifies its node."""
    names = [path.rsplit("/", 1)[-1] for path in form.nodes if path != form.root]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    return [f"names used more than once: {duplicates}"] if duplicates else []


def _check_contract(form: _XForm, form_id: str) -> list[str]:
    problems = []
    for field in CONTRACTS[form_id]:
        path = form.path(field)
        if path not in form.nodes:
            problems.append(f"contract field {field.name} missing at {path}")
            continue
        problems += [f"{field.name}: {p}" for p in _check_field(form, field, path)]
    return problems


def _check_field(form: _XForm, field: Field, path: str) -> list[str]:
    bind = form.binds.get(path, {})
    problems = []
    if bind.get("type") != field.bind_type:
        problems.append(f"type {bind.get('type')!r}, expected {field.bind_type!r}")
    if field.metadata:
        if bind.get(f"{_JR}preloadParams") != field.name:
            problems.append(f"is not the {field.name} metadata")
        return problems
    control = form.controls.get(path)
    if control is None or _local(control.tag) != CONTROLS[field.kind]:
        problems.append(f"needs a {CONTROLS[field.kind]} control")
        return problems
    if (bind.get("required") == "true()") != field.required:
        problems.append("must be required" if field.required else "must be optional")
    if bool(bind.get("relevant")) != field.conditional:
        problems.append(
            "must be relevant only in some cases"
            if field.conditional
            else "must always be relevant"
        )
    constraint = bind.get("constraint", "")
    wants_constraint = (
        field.minimum is not None
        or field.maximum is not None
        or field.pattern
        or field.max_length
        or field.not_future
        or field.earliest
        or field.not_before
        or field.after
    ) and not field.choices_file
    if wants_constraint and not constraint:
        problems.append("needs a constraint")
    if field.not_future and "today()" not in constraint:
        problems.append("constraint must refuse future dates (today())")
    for other in (field.not_before, field.after):
        if other and f"/{other}" not in constraint:
            problems.append(f"constraint must compare with {other}")
    if field.kind == "geopoint" and not control.get("accuracyThreshold"):
        problems.append("needs an accuracy threshold")
    if field.kind.startswith("select"):
        problems += _check_choices(form, field, control)
    return problems


def _check_choices(form: _XForm, field: Field, control: Element) -> list[str]:
    itemset = control.find("xf:itemset", _NS)
    match = _ITEMSET.match(itemset.get("nodeset", "")) if itemset is not None else None
    if match is None:
        return ["needs a choice list"]
    if field.choices_file:
        problems = []
        if form.files.get(match["id"]) != field.choices_file:
            problems.append(f"choices must come from {field.choices_file}")
        wanted = rf"/{re.escape(field.filtered_by or '')}\b"
        if field.filtered_by and not re.search(wanted, match["filter"] or ""):
            problems.append(f"choices must be filtered by {field.filtered_by}")
        return problems
    names = [name for name, _ in form.choices.get(match["id"], [])]
    missing = sorted(set(field.choices) - set(names))
    extra = sorted(set(names) - set(field.choices))
    problems = []
    if missing:
        problems.append(f"choices {missing} missing")
    if extra:
        problems.append(f"choices {extra} not in the contract")
    return problems


def _check_doses(form: _XForm, field: Field, schedule: Schedule) -> list[str]:
    """The `doses_given` choices must be the schedule's doses, in order, with its names."""
    control = form.controls.get(form.path(field))
    itemset = control.find("xf:itemset", _NS) if control is not None else None
    match = _ITEMSET.match(itemset.get("nodeset", "")) if itemset is not None else None
    items = form.choices.get(match["id"], []) if match else []
    problems = []
    if [name for name, _ in items] != list(schedule.codes):
        problems.append(
            f"doses_given choices {[n for n, _ in items]} differ from schedule.toml "
            f"{list(schedule.codes)} (same codes, same order)"
        )
    zh, en = (form.itext.get(lang, {}) for lang in LANGUAGES)
    for (name, itext_id), dose in zip(items, schedule.doses, strict=False):
        labels = (zh.get(itext_id), en.get(itext_id))
        if name == dose.code and labels != (dose.name_zh, dose.name_en):
            problems.append(
                f"dose {name} labels {labels} differ from schedule.toml "
                f"{(dose.name_zh, dose.name_en)}"
            )
    return problems
