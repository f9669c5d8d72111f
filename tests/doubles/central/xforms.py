"""XForm and submission XML as Central reads them.

`parse_xform` takes the schema Central derives from a form (the primary instance tree,
typed by its `<bind>`s, repeats from the body); `parse_instance` reads the metadata
Central takes from a submission; `form_values` types a submission's values the way
Central's OData feed does (central-backend `lib/data/odata.js`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any
from urllib.parse import quote
from xml.etree.ElementTree import Element

import orjson
from defusedxml import ElementTree as SafeET

from tests.doubles.central import problems

_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>", re.S)
_UNKNOWN_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
_INT_PREFIX = re.compile(r"^\s*([+-]?\d+)")
_FLOAT_PREFIX = re.compile(r"^\s*([+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))")


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def parse_xml(raw: bytes, fmt: str = "xml") -> Element:
    """Parse without ever expanding a DTD: like Central, declarations and unknown entity
    references are kept as literal text instead of being refused or expanded."""
    cleaned = _UNKNOWN_ENTITY.sub(b"&amp;", _DOCTYPE.sub(b"", raw))
    try:
        return SafeET.fromstring(cleaned)
    except SafeET.ParseError as e:
        raise problems.unparseable(fmt, len(raw.decode("utf-8", errors="replace"))) from e


def sanitize_identifier(name: str) -> str:
    """Central's `sanitizeOdataIdentifier`."""
    name = re.sub(r"^([^a-zA-Z_])", r"_\1", name)
    return re.sub(r"[^a-zA-Z0-9_]+", "_", name)


def uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent."""
    return quote(text, safe="-_.!~*'()")


def js_number(value: float) -> int | float | None:
    """A float as JavaScript's JSON.stringify would print it: 5.0 -> 5, NaN -> null."""
    if value != value or value in (float("inf"), float("-inf")):
        return None
    if value.is_integer() and abs(value) < 1e21:
        return int(Decimal(repr(value)))
    return value


def js_number_text(value: float) -> str:
    shown = js_number(value)
    if shown is None:
        return "NaN"
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", repr(shown))


def js_parse_int(text: str) -> int | None:
    match = _INT_PREFIX.match(text)
    if match is None:
        return None
    number = int(match.group(1))
    return number if abs(number) <= 2**53 else int(Decimal(repr(float(number))))


def js_parse_float(text: str) -> float:
    match = _FLOAT_PREFIX.match(text)
    if match is None:
        return float("nan")
    token = match.group(1).replace("Infinity", "inf")
    return float(token)


@dataclass(frozen=True)
class Field:
    name: str
    path: str  # "/group/field", without the root element
    type: str  # bind type without prefix ("int", "geopoint", ...), "structure" or "repeat"
    children: tuple[Field, ...] = ()
    key: str = field(init=False, compare=False)  # the OData property name
    index: dict[str, Field] = field(init=False, compare=False, repr=False)  # children by name

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", sanitize_identifier(self.name))
        object.__setattr__(self, "index", {child.name: child for child in self.children})

    @property
    def structural(self) -> bool:
        return self.type in ("structure", "repeat")


@dataclass(frozen=True)
class FormInfo:
    xml_form_id: str
    version: str
    name: str | None
    fields: tuple[Field, ...]

    @cached_property
    def index(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def walk(self) -> list[Field]:
        out: list[Field] = []
        stack = list(reversed(self.fields))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


def parse_xform(raw: bytes) -> FormInfo:
    doc = parse_xml(raw)
    model = next((el for el in doc.iter() if local(el.tag) == "model"), None)
    if model is None:
        raise problems.missing_parameter("model")
    instances = [el for el in model if local(el.tag) == "instance"]
    primary = next((el for el in instances if "id" not in el.attrib), None)
    if primary is None or len(primary) == 0:
        raise problems.missing_parameter("primary instance")
    root = primary[0]
    xml_form_id = root.get("id")
    if not xml_form_id:
        raise problems.missing_parameter("formId")
    binds = {}
    for bind in model.iter():
        if local(bind.tag) == "bind" and bind.get("nodeset"):
            binds[bind.get("nodeset")] = (bind.get("type") or "string").rsplit(":", 1)[-1]
    repeats = {el.get("nodeset") for el in doc.iter() if local(el.tag) == "repeat"}
    title = next((el.text for el in doc.iter() if local(el.tag) == "title"), None)
    prefix = "/" + local(root.tag)

    def build(element: Element, path: str) -> tuple[Field, ...]:
        fields: list[Field] = []
        seen: set[str] = set()
        for child in element:
            name = local(child.tag)
            if name in seen:  # a repeat's template and its first instance
                continue
            seen.add(name)
            child_path = f"{path}/{name}"
            if prefix + child_path in repeats:
                fields.append(Field(name, child_path, "repeat", build(child, child_path)))
            elif len(child):
                fields.append(Field(name, child_path, "structure", build(child, child_path)))
            else:
                fields.append(Field(name, child_path, binds.get(prefix + child_path, "string")))
        return tuple(fields)

    return FormInfo(xml_form_id, root.get("version") or "", title or None, build(root, ""))


@dataclass(frozen=True)
class Instance:
    """What Central reads from a submission's XML (`Submission.fromXml`)."""

    xml_form_id: str
    version: str
    instance_id: str | None
    deprecated_id: str | None
    instance_name: str | None
    root: Element


def _meta_text(root: Element, name: str) -> str | None:
    for meta in root:
        if local(meta.tag) == "meta":
            for child in meta:
                if local(child.tag) == name:
                    return child.text if child.text else None
            return None
    return None


def parse_instance(raw: bytes) -> Instance:
    root = parse_xml(raw)
    xml_form_id = root.get("id")
    if not xml_form_id or not xml_form_id.strip():
        raise problems.missing_parameter("form ID xml attribute")
    instance_id = _meta_text(root, "instanceID") or root.get("instanceID")
    return Instance(
        xml_form_id=xml_form_id,
        version=root.get("version") or "",
        instance_id=instance_id,
        deprecated_id=_meta_text(root, "deprecatedID"),
        instance_name=_meta_text(root, "instanceName"),
        root=root,
    )


def binary_names(index: dict[str, Field], root: Element) -> list[str]:
    """File names a submission refers to in its binary fields, in document order."""
    names: list[str] = []
    for child in root:
        node = index.get(local(child.tag))
        if node is None:
            continue
        if node.structural:
            names.extend(n for n in binary_names(node.index, child) if n not in names)
        elif node.type == "binary" and child.text and child.text.strip():
            name = child.text.strip()
            if name not in names:
                names.append(name)
    return names


def _frame(fields: tuple[Field, ...]) -> dict[str, Any]:
    frame: dict[str, Any] = {}
    for node in fields:
        if node.type == "structure":
            frame[node.key] = _frame(node.children)
        elif node.type != "repeat":
            frame[node.key] = None
    return frame


def _geo(text: str, kind: str, wkt: bool) -> Any:
    points = []
    for chunk in re.split(r"; ?", text) if kind != "geopoint" else [text]:
        parts = [js_parse_float(p) for p in re.split(r"\s+", chunk)]
        lat = parts[0] if parts else float("nan")
        lon = parts[1] if len(parts) > 1 else float("nan")
        if lat != lat or lon != lon:
            continue
        point: list[Any] = [js_number(lon), js_number(lat)]
        if len(parts) > 2 and parts[2] == parts[2]:
            point.append(js_number(parts[2]))
        accuracy = parts[3] if len(parts) > 3 and parts[3] == parts[3] else None
        points.append((point, accuracy))
    if not points:
        return None
    if wkt:
        texts = [" ".join(js_number_text(float(c)) for c in point) for point, _ in points]
        if kind == "geopoint":
            return f"POINT ({texts[0]})"
        if kind == "geotrace":
            return f"LINESTRING ({','.join(texts)})"
        return f"POLYGON (({','.join(texts)}))"
    if kind == "geopoint":
        point, accuracy = points[0]
        value: dict[str, Any] = {"type": "Point", "coordinates": point}
        if accuracy is not None:
            value["properties"] = {"accuracy": js_number(accuracy)}
        return value
    coordinates = [point for point, _ in points]
    accuracies = [js_number(acc) if acc else None for _, acc in points]
    value = (
        {"type": "LineString", "coordinates": coordinates}
        if kind == "geotrace"
        else {"type": "Polygon", "coordinates": [coordinates]}
    )
    if any(acc is not None for acc in accuracies):
        value["properties"] = {"accuracies": accuracies}
    return value


def _typed(node: Field, text: str, wkt: bool) -> Any:
    if node.type == "int":
        return js_parse_int(text)
    if node.type == "decimal":
        return js_number(js_parse_float(text))
    if node.type in ("geopoint", "geotrace", "geoshape"):
        return _geo(text, node.type, wkt)
    if node.type == "dateTime":
        trimmed = text.strip()
        return f"{trimmed}:00" if re.search(r"[+-]\d\d$", trimmed) else trimmed
    return text


def _fill(target: dict[str, Any], index: dict[str, Field], element: Element, ctx: dict) -> None:
    for child in element:
        node = index.get(local(child.tag))
        if node is None:
            continue
        if node.type == "structure":
            _fill(target[node.key], node.index, child, ctx)
        elif node.type == "repeat":
            target[f"{node.key}@odata.navigationLink"] = "/".join(
                [f"Submissions('{uri_component(ctx['instance_id'])}')"]
                + [sanitize_identifier(part) for part in node.path.strip("/").split("/")]
            )
        elif child.text:
            target[node.key] = _typed(node, child.text, ctx["wkt"])


def form_values(
    fields: tuple[Field, ...],
    root: Element,
    instance_id: str,
    system: dict[str, Any] | None,
    *,
    wkt: bool = False,
) -> dict[str, Any]:
    """One OData row: every schema field (null when unanswered, groups nested), then
    `__id` and `__system`, then navigation links of repeats found in the XML."""
    row = _frame(fields)
    row["__id"] = instance_id
    if system is not None:
        row["__system"] = system
    _fill(row, {f.name: f for f in fields}, root, {"instance_id": instance_id, "wkt": wkt})
    return row


def values_json(fields: tuple[Field, ...], root: Element, instance_id: str) -> tuple[bytes, bytes]:
    """A row's form values serialized once, as (`{...,` before `__id`, `,...` after
    `__system`): only `__system` has to be written again when review or deletion change."""
    row = form_values(fields, root, instance_id, None)
    del row["__id"]
    links = {k: row.pop(k) for k in [k for k in row if k.endswith("@odata.navigationLink")]}
    inner = orjson.dumps(row)[1:-1]
    head = b"{" + inner + b"," if inner else b"{"
    tail = b"," + orjson.dumps(links)[1:-1] if links else b""
    return head, tail
