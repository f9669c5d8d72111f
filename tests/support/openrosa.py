"""What ODK Collect does, for tests: fill a built XForm's instance and sign requests with
HTTP Digest."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Collection
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


def fill(
    xform_path: Path,
    values: dict[str, str],
    instance_id: str | None = None,
    omit: Collection[str] = (),
) -> bytes:
    """The instance XML Collect would send: the form's nodes, answered by name.

    As Collect (JavaRosa's serializer) does, a node whose `relevant` is false for these
    answers is left out, a group with its whole subtree, and so is a node named in
    `omit`; a relevant question without an answer is an empty element. An answer to a
    question that is not relevant is dropped, as ODK drops it.
    """
    from forms.synthetic.instances import FormTemplate  # numpy and the XPath it evaluates

    primary = instance_template(xform_path)
    values = {"instanceID": instance_id or f"uuid:{uuid.uuid4()}", **values}
    unknown = (set(values) | set(omit)) - {n.tag for n in primary.iter()}
    if unknown - {"deprecatedID"}:
        raise KeyError(f"not in the form: {sorted(unknown)}")
    for node in primary.iter():
        if node.tag in values and len(node) == 0:
            node.text = values[node.tag]
    answers = {name: [text] for name, text in values.items()}
    relevant = FormTemplate.from_xform(xform_path).relevance(answers, 1)
    left_out = set(omit) | {name for name, asked in relevant.items() if not asked[0]}
    for parent in list(primary.iter()):
        for node in list(parent):
            if node.tag in left_out:
                parent.remove(node)
    if "deprecatedID" in values:
        meta = primary.find("meta")
        ET.SubElement(meta, "deprecatedID").text = values["deprecatedID"]
    return ET.tostring(primary, encoding="utf-8", xml_declaration=False)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_authorization(
    challenge: str, method: str, uri: str, user: str, password: str, nc: int = 1
) -> str:
    """An RFC 7616 `Authorization` header answering `challenge`; `nc` counts the uses of
    its nonce (Cradle refuses a count it has seen)."""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.split(" ", 1)[1]))
    nc_text, cnonce = f"{nc:08x}", os.urandom(8).hex()
    ha1 = _md5(f"{user}:{params['realm']}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    response = _md5(f"{ha1}:{params['nonce']}:{nc_text}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
        f'uri="{uri}", qop=auth, nc={nc_text}, cnonce="{cnonce}", response="{response}", '
        f'opaque="{params.get("opaque", "")}", algorithm=MD5'
    )
