"""Submission XML as ODK Collect sends it, from the built XForm's primary instance.

`FormTemplate.from_xform(path)` reads the instance (root attributes, groups and leaves in
form order) and the binds that ODK fills by itself: preloads (`start`, `end`, `today`,
`deviceid`, `instanceID`) and calculations (`instanceName`, `age_months`). Rendering is
string concatenation of precomputed fragments, compact UTF-8 without an XML declaration;
a leaf without a value is an empty element, as Collect writes unanswered and
non-relevant questions.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from defusedxml.ElementTree import parse as parse_xml

from forms.contract import CONTRACTS
from forms.synthetic.dates import completed_months, iso_dates, local_timestamps

_XF = "{http://www.w3.org/2002/xforms}"
_H = "{http://www.w3.org/1999/xhtml}"
_JR = "{http://openrosa.org/javarosa}"
_PATH = re.compile(r"/[A-Za-z_][\w.-]*(?:/[A-Za-z_][\w.-]*)+")
_LITERAL = re.compile(r"'([^']*)'|\"([^\"]*)\"")
#: Preloads ODK fills, by `jr:preloadParams` (or `jr:preload` for `uid`).
PRELOADS = {
    "start": "start",
    "end": "end",
    "today": "today",
    "deviceid": "deviceid",
    "uid": "instanceID",
}


class TemplateError(ValueError):
    """The built XForm has a node the generator does not know how to fill."""


@dataclass(frozen=True)
class Leaf:
    """One leaf of the primary instance: its name, path below the root, and how ODK fills
    it by itself (`preload` name or `calculate` expression), if at all."""

    name: str
    path: str
    preload: str | None = None
    calculate: str | None = None


@dataclass(frozen=True)
class FormTemplate:
    """The primary instance of one built XForm, as fragments ready for concatenation."""

    form_id: str
    version: str
    leaves: tuple[Leaf, ...]
    # fragments[i] precedes leaf i; fragments[-1] closes the instance.
    fragments: tuple[str, ...]
    meta_close: int  # index of the leaf after which `</meta>` comes (deprecatedID goes there)

    @classmethod
    def from_xform(cls, xform_path: Path) -> FormTemplate:
        """Read the template from a built XForm (never re-typed)."""
        root = parse_xml(
            xform_path, forbid_dtd=True, forbid_entities=True, forbid_external=True
        ).getroot()
        model = root.find(f"{_H}head/{_XF}model")
        instance = model.find(f"{_XF}instance") if model is not None else None
        if instance is None or len(instance) == 0:
            raise TemplateError(f"{xform_path}: no primary instance")
        primary = instance[0]
        binds = {b.get("nodeset"): b for b in model.findall(f"{_XF}bind")}
        tag = _local(primary.tag)
        attributes = "".join(
            f" {k}={quoteattr(v)}" for k, v in primary.attrib.items() if not k.startswith("{")
        )
        leaves: list[Leaf] = []
        fragments: list[str] = [f"<{tag}{attributes}>"]
        meta_close = -1

        def walk(node: ET.Element, path: str) -> None:
            nonlocal meta_close
            for child in node:
                name = _local(child.tag)
                child_path = f"{path}/{name}"
                if len(child):
                    fragments[-1] += f"<{name}>"
                    walk(child, child_path)
                    fragments[-1] += f"</{name}>"
                    if name == "meta" and path == f"/{tag}":
                        meta_close = len(leaves) - 1
                    continue
                bind = binds.get(child_path)
                leaves.append(_leaf(name, child_path.removeprefix(f"/{tag}/"), bind))
                fragments.append("")

        walk(primary, f"/{tag}")
        fragments[-1] += f"</{tag}>"
        if meta_close < 0:
            raise TemplateError(f"{xform_path}: no meta group (meta/instanceID)")
        return cls(
            form_id=primary.get("id") or "",
            version=primary.get("version") or "",
            leaves=tuple(leaves),
            fragments=tuple(fragments),
            meta_close=meta_close,
        )

    @property
    def paths(self) -> tuple[str, ...]:
        """Leaf paths below the root, in form order."""
        return tuple(leaf.path for leaf in self.leaves)

    def render(
        self, values: Mapping[str, list[str]], deprecated: list[str] | None = None
    ) -> list[str]:
        """One XML document per row from already formatted (and escaped) leaf values.

        `values[name]` holds the text of each leaf by name; a leaf missing from `values`
        or with an empty text is written as an empty element. `deprecated` holds the
        `deprecatedID` of each row ('' for none), added at the end of `meta`.
        """
        n = len(next(iter(values.values())))
        columns: list[list[str] | str] = []
        for i, leaf in enumerate(self.leaves):
            empty = f"{self.fragments[i]}<{leaf.name}/>"
            text = values.get(leaf.name)
            if text is None:
                columns.append(empty)
            else:
                opening, closing = f"{self.fragments[i]}<{leaf.name}>", f"</{leaf.name}>"
                columns.append([opening + v + closing if v else empty for v in text])
            if i == self.meta_close and deprecated is not None:
                columns.append(
                    [f"<deprecatedID>{d}</deprecatedID>" if d else "" for d in deprecated]
                )
        columns.append(self.fragments[-1])
        rows = [c if isinstance(c, list) else [c] * n for c in columns]
        return ["".join(parts) for parts in zip(*rows, strict=True)]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _leaf(name: str, path: str, bind: ET.Element | None) -> Leaf:
    if bind is None:
        return Leaf(name, path)
    get = bind.get
    preload = get(f"{_JR}preload")
    if preload == "uid":
        return Leaf(name, path, preload="instanceID")
    if preload is not None:
        param = get(f"{_JR}preloadParams")
        if param not in PRELOADS:
            raise TemplateError(f"{path}: unknown preload {preload}/{param}")
        return Leaf(name, path, preload=PRELOADS[param])
    calculate = get("calculate")
    return Leaf(name, path, calculate=calculate) if calculate else Leaf(name, path)


# -- values ---------------------------------------------------------------------------------


def _numbers(values: np.ndarray) -> list[str]:
    if values.dtype.kind == "f":
        return ["" if v != v else repr(v) for v in values.tolist()]
    return ["" if v < 0 else str(v) for v in values.tolist()]


def _texts(values: np.ndarray, escaped: bool) -> list[str]:
    if escaped:
        return ["" if v is None else escape(v) for v in values.tolist()]
    return ["" if v is None else v for v in values.tolist()]


def format_column(kind: str, values: np.ndarray) -> list[str]:
    """Texts as ODK writes a column of one field kind (`''` for a missing value)."""
    if kind in ("integer", "decimal"):
        return _numbers(values)
    if kind == "date":
        return iso_dates(values)
    if kind == "dateTime":
        return local_timestamps(values)
    return _texts(values, escaped=kind == "text")


def leaf_texts(
    template: FormTemplate, table: Mapping[str, np.ndarray], rows: np.ndarray
) -> dict[str, list[str]]:
    """The text of every leaf ODK would fill, for the given rows of a submissions table.

    Contract fields and preloads come from the table's columns of the same name;
    calculations are evaluated here as the form defines them.
    """
    contract = CONTRACTS[template.form_id]
    kinds = {f.name: f.kind for f in contract}
    kinds.update(start="dateTime", end="dateTime", today="date", deviceid="select_one")
    texts: dict[str, list[str]] = {}
    for leaf in template.leaves:
        if leaf.calculate is None and leaf.name in table:
            kind = kinds.get(leaf.name, "select_one")
            texts[leaf.name] = format_column(kind, table[leaf.name][rows])
    for leaf in template.leaves:
        if leaf.calculate is not None:
            texts[leaf.name] = evaluate(leaf, template, table, rows, texts)
    return texts


def evaluate(
    leaf: Leaf,
    template: FormTemplate,
    table: Mapping[str, np.ndarray],
    rows: np.ndarray,
    texts: Mapping[str, list[str]],
) -> list[str]:
    """The value of a calculation: `concat()` of fields and literals, or the completed
    months between two dates (the forms' `age_months`)."""
    assert leaf.calculate is not None
    expression = leaf.calculate.strip()
    by_path = {f"/{_root(template)}/{lf.path}": lf.name for lf in template.leaves}
    refs = [by_path.get(p) for p in _PATH.findall(expression)]
    if any(r is None for r in refs):
        raise TemplateError(f"{leaf.path}: calculation refers to unknown nodes: {expression}")
    if expression.startswith("concat(") and expression.endswith(")"):
        return _concat(leaf, expression[len("concat(") : -1], by_path, texts, len(rows))
    if "format-date" in expression and len(set(refs)) == 2:
        later, earlier = dict.fromkeys(refs)
        return completed_month_texts(table[earlier][rows], table[later][rows])
    raise TemplateError(f"{leaf.path}: the generator cannot evaluate {expression!r}")


def completed_month_texts(dob: np.ndarray, on: np.ndarray) -> list[str]:
    """`age_months` as the form computes it, '' when a date is missing."""
    months = completed_months(dob, on)
    missing = np.isnat(dob) | np.isnat(on)
    return ["" if gap else str(m) for m, gap in zip(months.tolist(), missing.tolist(), strict=True)]


def _root(template: FormTemplate) -> str:
    return template.fragments[0][1:].split(">", 1)[0].split(" ", 1)[0]


def _concat(
    leaf: Leaf,
    arguments: str,
    by_path: Mapping[str, str],
    texts: Mapping[str, list[str]],
    n: int,
) -> list[str]:
    pieces: list[list[str] | str] = []
    for raw in (a.strip() for a in _split_arguments(arguments)):
        literal = _LITERAL.fullmatch(raw)
        if literal:
            value = literal.group(1) if literal.group(1) is not None else literal.group(2)
            pieces.append(escape(value))
        elif raw in by_path and by_path[raw] in texts:
            pieces.append(texts[by_path[raw]])
        else:
            raise TemplateError(f"{leaf.path}: cannot evaluate concat argument {raw!r}")
    columns = [p if isinstance(p, list) else [p] * n for p in pieces]
    return ["".join(row) for row in zip(*columns, strict=True)]


def _split_arguments(arguments: str) -> list[str]:
    out, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(arguments):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(arguments[start:i])
            start = i + 1
    out.append(arguments[start:])
    return out


def load_templates(forms_dir: Path, form_ids: tuple[str, ...]) -> dict[str, FormTemplate]:
    """The templates of the given forms from a build folder (`<form_id>.xml`)."""
    templates = {}
    for form_id in form_ids:
        path = forms_dir / f"{form_id}.xml"
        if not path.is_file():
            raise TemplateError(f"no built form {path}: run `cradle forms build`")
        template = FormTemplate.from_xform(path)
        if template.form_id != form_id:
            raise TemplateError(f"{path}: form id is {template.form_id!r}, not {form_id!r}")
        templates[form_id] = template
    return templates
