"""Submission XML as ODK Collect sends it, from the built XForm's primary instance.

`FormTemplate.from_xform(path)` reads the instance (root attributes, groups and leaves in
form order), the binds that ODK fills by itself: preloads (`start`, `end`, `today`,
`deviceid`, `instanceID`) and calculations (`instanceName`, `age_months`), and the
`relevant` binds (skip logic). Rendering is string concatenation of precomputed fragments,
compact UTF-8 without an XML declaration. As in Collect (JavaRosa's serializer) and ODK's
web engine, a node that is not relevant is left out of the submission (a group with its
whole subtree), and a relevant leaf without a value is an empty element.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr, unescape

import numpy as np
from defusedxml.ElementTree import parse as parse_xml

from forms.contract import CONTRACTS
from forms.synthetic.dates import completed_months, iso_dates, local_timestamps
from forms.synthetic.xpath import Expression, ExpressionError, compile_expression, node_values

_XF = "{http://www.w3.org/2002/xforms}"
_H = "{http://www.w3.org/1999/xhtml}"
_JR = "{http://openrosa.org/javarosa}"
_PATH = re.compile(r"/[A-Za-z_][\w.-]*(?:/[A-Za-z_][\w.-]*)+")
_LIST_LOOKUP = re.compile(r"\binstance\('[\w-]+'\)/root/item\[")
_LITERAL = re.compile(r"'([^']*)'|\"([^\"]*)\"")
#: Preloads ODK fills, by `jr:preloadParams` (or `jr:preload` for `uid`).
PRELOADS = {
    "start": "start",
    "end": "end",
    "today": "today",
    "deviceid": "deviceid",
    "uid": "instanceID",
}
#: `_Part.leaf` of markup between leaves, and of the place of `deprecatedID` (end of meta).
_MARKUP, _DEPRECATED = -1, -2


class TemplateError(ValueError):
    """The built XForm has a node the generator does not know how to fill."""


@dataclass(frozen=True)
class Leaf:
    """One leaf of the primary instance: its name, path below the root, how ODK fills
    it by itself (`preload` name or `calculate` expression), if at all, and its bind type."""

    name: str
    path: str
    preload: str | None = None
    calculate: str | None = None
    kind: str = "string"


@dataclass(frozen=True)
class Relevance:
    """A `relevant` bind: the node (leaf or group) it decides on, and its expression."""

    name: str
    path: str  # absolute, as in the XForm
    expression: Expression


@dataclass(frozen=True)
class _Part:
    """`text` (markup), then leaf `leaf` (or `deprecatedID`, or nothing), written only where
    every relevance in `when` holds; unconditional markup comes first, always written."""

    text: str
    leaf: int
    when: tuple[int, ...]


@dataclass(frozen=True)
class FormTemplate:
    """The primary instance of one built XForm, as fragments ready for concatenation."""

    form_id: str
    version: str
    root: str
    leaves: tuple[Leaf, ...]
    relevances: tuple[Relevance, ...]
    #: Node names (groups and leaves) under a `relevant` bind, with the relevances that
    #: decide on them (their own and their groups').
    conditional: tuple[tuple[str, tuple[int, ...]], ...]
    parts: tuple[_Part, ...]

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
        relevances: list[Relevance] = []
        conditional: list[tuple[str, tuple[int, ...]]] = []
        tokens: list[tuple[str, int, tuple[int, ...]]] = [(f"<{tag}{attributes}>", _MARKUP, ())]
        has_meta = False

        def walk(node: ET.Element, path: str, when: tuple[int, ...]) -> None:
            nonlocal has_meta
            for child in node:
                name = _local(child.tag)
                child_path = f"{path}/{name}"
                bind = binds.get(child_path)
                own = when
                if bind is not None and bind.get("relevant"):
                    relevances.append(_relevance(name, child_path, bind.get("relevant", "")))
                    own = (*when, len(relevances) - 1)
                if own:
                    conditional.append((name, own))
                if len(child):
                    tokens.append((f"<{name}>", _MARKUP, own))
                    walk(child, child_path, own)
                    if name == "meta" and path == f"/{tag}":
                        tokens.append(("", _DEPRECATED, own))
                        has_meta = True
                    tokens.append((f"</{name}>", _MARKUP, own))
                    continue
                leaves.append(_leaf(name, child_path.removeprefix(f"/{tag}/"), bind))
                tokens.append(("", len(leaves) - 1, own))

        walk(primary, f"/{tag}", ())
        tokens.append((f"</{tag}>", _MARKUP, ()))
        if not has_meta:
            raise TemplateError(f"{xform_path}: no meta group (meta/instanceID)")
        known = {f"/{tag}/{leaf.path}" for leaf in leaves}
        for relevance in relevances:
            unknown = sorted(relevance.expression.paths - known)
            if unknown:
                raise TemplateError(f"{relevance.path}: relevant reads unknown leaves {unknown}")
        return cls(
            form_id=primary.get("id") or "",
            version=primary.get("version") or "",
            root=tag,
            leaves=tuple(leaves),
            relevances=tuple(relevances),
            conditional=tuple(conditional),
            parts=_parts(tokens),
        )

    @property
    def paths(self) -> tuple[str, ...]:
        """Leaf paths below the root, in form order."""
        return tuple(leaf.path for leaf in self.leaves)

    @property
    def reads(self) -> frozenset[str]:
        """Names of the leaves that the `relevant` binds read."""
        paths = frozenset().union(*(r.expression.paths for r in self.relevances))
        return frozenset(leaf.name for leaf in self.leaves if f"/{self.root}/{leaf.path}" in paths)

    def relevance(self, answers: Mapping[str, Sequence[str]], n: int) -> dict[str, np.ndarray]:
        """Whether each node under a `relevant` bind is relevant, by node name, for `n`
        submissions, from their (unescaped) answers by leaf name (`''` or missing:
        unanswered). A node in a group that is not relevant is not relevant either;
        nodes that are always relevant are not listed."""
        masks = self._masks(answers, n)
        return {name: masks[when] for name, when in self.conditional}

    def _masks(self, answers: Mapping[str, Sequence[str]], n: int) -> dict[tuple, np.ndarray]:
        """Relevance by the tuple of relevances that decide it (`conditional`'s values)."""
        by_path = {f"/{self.root}/{leaf.path}": leaf for leaf in self.leaves}
        nodes = {}
        for relevance in self.relevances:
            for path in relevance.expression.paths - nodes.keys():
                texts = answers.get(by_path[path].name)
                if texts is not None:
                    nodes[path] = node_values(texts, by_path[path].kind)
        own = [r.expression.boolean(nodes, n) for r in self.relevances]
        masks: dict[tuple, np.ndarray] = {}
        for _, when in self.conditional:
            if when not in masks:
                masks[when] = np.logical_and.reduce([own[i] for i in when])
        return masks

    def render(
        self, values: Mapping[str, list[str]], deprecated: list[str] | None = None
    ) -> list[str]:
        """One XML document per row from already formatted (and escaped) leaf values.

        `values[name]` holds the text of each leaf by name; a leaf missing from `values`
        or with an empty text is written as an empty element, unless the form's
        `relevant` binds, evaluated on these values, leave it (or its group) out.
        `deprecated` holds the `deprecatedID` of each row ('' for none), added at the end
        of `meta`.
        """
        n = len(next(iter(values.values())))
        relevant: dict[tuple, np.ndarray] = {}
        if self.relevances:
            answers = {
                name: [unescape(v) if "&" in v else v for v in values[name]]
                for name in self.reads
                if name in values
            }
            relevant = self._masks(answers, n)
        columns: list[list[str] | str] = []
        for part in self.parts:
            mask = relevant[part.when].tolist() if part.when else None
            if part.leaf == _MARKUP:
                text = part.text
                columns.append(text if mask is None else [text if r else "" for r in mask])
            elif part.leaf == _DEPRECATED:
                if deprecated is None:
                    columns.append(part.text)
                    continue
                tags = [f"<deprecatedID>{d}</deprecatedID>" if d else "" for d in deprecated]
                if mask is not None:
                    tags = [t if r else "" for t, r in zip(tags, mask, strict=True)]
                columns.append([part.text + t for t in tags])
            else:
                columns.append(self._leaf_column(part, values, mask))
        rows = [c if isinstance(c, list) else [c] * n for c in columns]
        return ["".join(parts) for parts in zip(*rows, strict=True)]

    def _leaf_column(
        self, part: _Part, values: Mapping[str, list[str]], mask: list[bool] | None
    ) -> list[str] | str:
        name = self.leaves[part.leaf].name
        empty = f"{part.text}<{name}/>"
        text = values.get(name)
        if text is None and mask is None:
            return empty
        if text is None:
            return [empty if r else part.text for r in mask or ()]
        opening, closing = f"{part.text}<{name}>", f"</{name}>"
        if mask is None:
            return [opening + v + closing if v else empty for v in text]
        return [
            (opening + v + closing if v else empty) if r else part.text
            for v, r in zip(text, mask, strict=True)
        ]


def _parts(tokens: list[tuple[str, int, tuple[int, ...]]]) -> tuple[_Part, ...]:
    """Fold the instance's tokens into parts: unconditional markup joins the next part."""
    parts: list[_Part] = []
    pending = ""
    for text, leaf, when in tokens:
        if leaf == _MARKUP and not when:
            pending += text
        elif leaf == _MARKUP:
            if parts and parts[-1].leaf == _MARKUP and parts[-1].when == when and not pending:
                parts[-1] = _Part(parts[-1].text + text, _MARKUP, when)
            else:
                if pending:
                    parts.append(_Part(pending, _MARKUP, ()))
                parts.append(_Part(text, _MARKUP, when))
            pending = ""
        else:
            parts.append(_Part(pending, leaf, when))
            pending = ""
    if pending:
        parts.append(_Part(pending, _MARKUP, ()))
    return tuple(parts)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _relevance(name: str, path: str, expression: str) -> Relevance:
    try:
        return Relevance(name, path, compile_expression(expression))
    except ExpressionError as e:
        raise TemplateError(f"{path}: the generator cannot evaluate relevant: {e}") from e


def _leaf(name: str, path: str, bind: ET.Element | None) -> Leaf:
    if bind is None:
        return Leaf(name, path)
    get = bind.get
    kind = get("type") or "string"
    preload = get(f"{_JR}preload")
    if preload == "uid":
        return Leaf(name, path, preload="instanceID", kind=kind)
    if preload is not None:
        param = get(f"{_JR}preloadParams")
        if param not in PRELOADS:
            raise TemplateError(f"{path}: unknown preload {preload}/{param}")
        return Leaf(name, path, preload=PRELOADS[param], kind=kind)
    calculate = get("calculate") or None
    return Leaf(name, path, calculate=calculate, kind=kind)


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
    template: FormTemplate,
    table: Mapping[str, np.ndarray],
    rows: np.ndarray,
    names: frozenset[str] | None = None,
) -> dict[str, list[str]]:
    """The text of every leaf ODK would fill (or of the leaves in `names`), for the given
    rows of a submissions table.

    Contract fields and preloads come from the table's columns of the same name;
    calculations are evaluated here as the form defines them.
    """
    contract = CONTRACTS[template.form_id]
    kinds = {f.name: f.kind for f in contract}
    kinds.update(start="dateTime", end="dateTime", today="date", deviceid="select_one")
    wanted = _with_inputs(template, names) if names is not None else None
    texts: dict[str, list[str]] = {}
    for leaf in template.leaves:
        if (
            leaf.calculate is None
            and leaf.name in table
            and (wanted is None or leaf.name in wanted)
        ):
            kind = kinds.get(leaf.name, "select_one")
            texts[leaf.name] = format_column(kind, table[leaf.name][rows])
    for leaf in template.leaves:
        if leaf.calculate is not None and (wanted is None or leaf.name in wanted):
            texts[leaf.name] = evaluate(leaf, template, table, rows, texts)
    return texts


def _with_inputs(template: FormTemplate, names: frozenset[str]) -> frozenset[str]:
    """`names` and the leaves their calculations read, and theirs, ..."""
    by_path = {f"/{template.root}/{leaf.path}": leaf for leaf in template.leaves}
    wanted, todo = set(names), list(names)
    calculations = {leaf.name: leaf.calculate for leaf in template.leaves if leaf.calculate}
    while todo:
        expression = calculations.get(todo.pop())
        for path in _PATH.findall(expression or ""):
            leaf = by_path.get(path)
            if leaf is not None and leaf.name not in wanted:
                wanted.add(leaf.name)
                todo.append(leaf.name)
    return frozenset(wanted)


def without_non_relevant(
    template: FormTemplate, table: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The submissions table with the answers that ODK leaves out of the submission (the
    question is not relevant for the submitted answers) set to missing: what is submitted,
    so what the truth holds. Columns that do not change are shared, not copied."""
    n = len(next(iter(table.values())))
    if not template.relevances or n == 0:
        return dict(table)
    texts = leaf_texts(template, table, np.arange(n), template.reads)
    answers = {
        name: [unescape(v) if "&" in v else v for v in column] for name, column in texts.items()
    }
    out = dict(table)
    for name, relevant in template.relevance(answers, n).items():
        if name in table and not relevant.all():
            out[name] = _missing(table[name], ~relevant)
    return out


def _missing(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """`values` with the elements at `where` replaced by the generator's missing value."""
    kind = values.dtype.kind
    if kind == "O":
        return np.where(where, None, values).astype(object)
    if kind == "M":
        return np.where(where, np.datetime64("NaT"), values).astype(values.dtype)
    if kind == "f":
        return np.where(where, np.nan, values)
    if kind in "iu":
        return np.where(where, -1, values).astype(values.dtype)
    raise TemplateError(f"no missing value for a {values.dtype} column")


def evaluate(
    leaf: Leaf,
    template: FormTemplate,
    table: Mapping[str, np.ndarray],
    rows: np.ndarray,
    texts: Mapping[str, list[str]],
) -> list[str]:
    """The value of a calculation: `concat()` of fields and literals, the completed
    months between two dates (the forms' `age_months`), or a value read from a list the
    form loads (`instance('children')`): in the generated world that list is the empty
    one the forms are built with, so the value is empty."""
    assert leaf.calculate is not None
    expression = leaf.calculate.strip()
    if _LIST_LOOKUP.search(expression):
        return [""] * len(rows)
    by_path = {f"/{template.root}/{lf.path}": lf.name for lf in template.leaves}
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
