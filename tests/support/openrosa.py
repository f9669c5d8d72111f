"""What ODK Collect does, for tests: fill a built XForm's instance and sign requests with
HTTP Digest."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"


def instance_template(xform_path: Path) -> ET.Element:
    root = ET.parse(xform_path).getroot()  # noqa: S314 - our own build output
    instance = root.find(f"{H}head/{XF}model/{XF}instance")
    primary = instance[0]
    for node in primary.iter():
        node.tag = node.tag.replace(XF, "")
    return primary


def fill(xform_path: Path, values: dict[str, str], instance_id: str | None = None) -> bytes:
    """The instance XML Collect would send: every node of the form, answered by name."""
    primary = instance_template(xform_path)
    values = {"instanceID": instance_id or f"uuid:{uuid.uuid4()}", **values}
    unknown = set(values) - {n.tag for n in primary.iter()}
    if unknown - {"deprecatedID"}:
        raise KeyError(f"not in the form: {sorted(unknown)}")
    for node in primary.iter():
        if node.tag in values and len(node) == 0:
            node.text = values[node.tag]
    if "deprecatedID" in values:
        meta = primary.find("meta")
        ET.SubElement(meta, "deprecatedID").text = values["deprecatedID"]
    return ET.tostring(primary, encoding="utf-8", xml_declaration=False)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_authorization(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.split(" ", 1)[1]))
    nc, cnonce = "00000001", os.urandom(8).hex()
    ha1 = _md5(f"{user}:{params['realm']}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    response = _md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
        f'uri="{uri}", qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", '
        f'opaque="{params.get("opaque", "")}", algorithm=MD5'
    )
