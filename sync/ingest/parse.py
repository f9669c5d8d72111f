"""Parse a submission instance safely: no DTD, no entities, no external references, bounded size.

The instance is flattened once, here, into `{field name: text}`: field names are unique
within a form (FORMS.md), so a name identifies its node whatever the grouping.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from sync.ingest.problems import Problem, SubmissionRejected

DEFAULT_MAX_XML_BYTES = 2 * 1024 * 1024  # a filled form is a few KB; 2 MB is generous
MAX_FIELDS = 2000
MAX_VALUE_CHARS = 10_000

# XML 1.0 forbids C0 controls other than tab, LF and CR.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ENCODING_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_INSTANCE_ID = re.compile(r"^(uuid:)?[0-9A-Za-z][0-9A-Za-z_.:-]{7,127}$")


@dataclass(frozen=True)
class ParsedInstance:
    """What the XML says, as text; typing and validation come later."""

    form_id: str
    form_version: str
    instance_id: str
    deprecated_id: str | None
    fields: dict[str, str]
    paths: dict[str, str] = field(default_factory=dict)

    @property
    def original_hint(self) -> str:
        return self.deprecated_id or self.instance_id


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def check_instance_id(value: str | None, *, code: str = "malformed_instance_id") -> str:
    """The instanceID, stripped, or a rejection (`uuid:` plus a UUID, or any safe id)."""
    if not value or not value.strip():
        raise SubmissionRejected([Problem("missing_instance_id")])
    value = value.strip()
    if not _INSTANCE_ID.match(value):
        raise SubmissionRejected([Problem(code, detail=value[:80])])
    return value


def parse_instance(xml: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> ParsedInstance:
    """Parse one OpenRosa instance, or raise `SubmissionRejected` with the reasons.

    >>> xml = b'<d id="f"><a>x</a><meta><instanceID>uuid:1234abcd</instanceID></meta></d>'
    >>> parse_instance(xml).fields
    {'a': 'x', 'instanceID': 'uuid:1234abcd'}
    """
    if not xml or not xml.strip():
        raise SubmissionRejected([Problem("empty_body")])
    if len(xml) > max_bytes:
        raise SubmissionRejected([Problem("too_large", detail=f"{len(xml)} > {max_bytes} bytes")])
    declared = _ENCODING_DECL.match(xml)
    if declared is None or declared.group(1).lower().replace("_", "-") in ("utf-8", "utf8"):
        try:
            xml.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SubmissionRejected([Problem("invalid_encoding")]) from exc
    if _CONTROL.search(xml):
        raise SubmissionRejected([Problem("control_characters")])
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden as exc:
        raise SubmissionRejected([Problem("dtd_forbidden")]) from exc
    except EntitiesForbidden as exc:
        raise SubmissionRejected([Problem("entity_forbidden")]) from exc
    except ExternalReferenceForbidden as exc:
        raise SubmissionRejected([Problem("external_reference")]) from exc
    except (ET.ParseError, ValueError) as exc:
        raise SubmissionRejected([Problem("malformed_xml", detail=str(exc)[:120])]) from exc
    return _flatten(root)


def _flatten(root: ET.Element) -> ParsedInstance:
    form_id = (root.get("id") or "").strip()
    if not form_id:
        raise SubmissionRejected([Problem("missing_form_id")])
    version = (root.get("version") or "").strip()
    fields: dict[str, str] = {}
    paths: dict[str, str] = {}
    duplicates: list[Problem] = []
    stack: list[tuple[ET.Element, str]] = [(child, "") for child in reversed(list(root))]
    while stack:
        node, parent = stack.pop()
        name = _local(node.tag)
        path = f"{parent}/{name}" if parent else name
        children = list(node)
        if children:
            stack.extend((child, path) for child in reversed(children))
            continue
        if name in fields:
            duplicates.append(Problem("duplicate_field", field=name))
            continue
        if len(fields) >= MAX_FIELDS:
            raise SubmissionRejected(
                [Problem("too_large", detail=f"more than {MAX_FIELDS} fields")]
            )
        text = (node.text or "").strip()
        if len(text) > MAX_VALUE_CHARS:
            raise SubmissionRejected([Problem("too_long", field=name, detail=f"{len(text)} chars")])
        fields[name] = text
        paths[name] = path
    if duplicates:
        raise SubmissionRejected(duplicates)
    instance_id = check_instance_id(fields.get("instanceID"))
    deprecated = fields.get("deprecatedID") or None
    if deprecated is not None:
        deprecated = check_instance_id(deprecated)
    return ParsedInstance(form_id, version, instance_id, deprecated, fields, paths)
