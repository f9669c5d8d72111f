"""The shape of a submission instance: its node paths and the text format of each value.

ODK's engine is the reference for what a real submission looks like; anything else that writes
instances (the test helper `fill`, a synthetic generator) should give the same paths and formats
for the same answers:

>>> node_paths(b'<data id="f"><visit><d>2026-01-02</d><n/></visit><meta><id>x</id></meta></data>')
['visit/d', 'visit/n', 'meta/id']
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"

#: The text of an answered node, by bind type, as ODK's engine 0.22.0 writes it. Timestamps
#: carry the tablet's offset and milliseconds; the engine drops trailing zeros of the fraction
#: (".49" for 490 ms), where Collect always writes three digits, so both are accepted.
FORMATS: dict[str, re.Pattern[str]] = {
    "date": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "dateTime": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,3}\+08:00"),
    "int": re.compile(r"-?\d+"),
    "decimal": re.compile(r"-?\d+\.\d+"),
    "geopoint": re.compile(r"-?\d+(\.\d+)? -?\d+(\.\d+)? -?\d+\.\d+ \d+\.\d+"),
    "select_multiple": re.compile(r"[^\s]+( [^\s]+)*"),
    "string": re.compile(r"\S(.*\S)?", re.DOTALL),
}


def _parse(xml: bytes | str) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314 - instances made by the tests themselves


def node_paths(xml: bytes | str) -> list[str]:
    """Leaf paths below the instance root, in document order (`location/county`)."""
    out: list[str] = []

    def visit(node: ET.Element, prefix: str) -> None:
        for child in node:
            path = f"{prefix}{child.tag}"
            if len(child):
                visit(child, f"{path}/")
            else:
                out.append(path)

    visit(_parse(xml), "")
    return out


def leaf_values(xml: bytes | str) -> dict[str, str]:
    """`{path: text}` of every leaf, `""` when empty."""
    root = _parse(xml)
    return {path: (root.find(path).text or "") for path in node_paths(xml)}


def bind_types(xform: Path) -> dict[str, str]:
    """`{path: type}` from the XForm's binds; selects with `<select>` bodies are
    `select_multiple`."""
    root = ET.parse(xform).getroot()  # noqa: S314 - our own build output
    model = root.find(f"{H}head/{XF}model")
    primary = model.find(f"{XF}instance")[0]
    prefix = f"/{primary.tag.removeprefix(XF)}/"
    multiple = {el.get("ref") for el in root.iter(f"{XF}select")}
    types = {}
    for bind in model.iter(f"{XF}bind"):
        ref = bind.get("nodeset")
        kind = "select_multiple" if ref in multiple else bind.get("type", "string")
        types[ref.removeprefix(prefix)] = kind
    return types


def format_problems(xml: bytes | str, xform: Path) -> list[str]:
    """Every answered leaf whose text does not have the format of its bind type."""
    types = bind_types(xform)
    problems = []
    for path, text in leaf_values(xml).items():
        kind = types.get(path, "string")
        if text and not FORMATS[kind].fullmatch(text):
            problems.append(f"{path} ({kind}): {text!r}")
    return problems


def millis(timestamp: str) -> str:
    """A `dateTime` with exactly three digits of milliseconds, as Collect writes it and Cradle
    stores it: `2026-11-28T23:15:45.49+08:00` → `2026-11-28T23:15:45.490+08:00`."""
    return datetime.fromisoformat(timestamp).isoformat(timespec="milliseconds")
