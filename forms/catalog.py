"""The built forms on disk, as the server offers them: id, version, title, hash, media.

Read from the build folder (`make forms`), never from the .xlsx sources, so what the
server lists is exactly what tablets download.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from defusedxml.ElementTree import parse as parse_xml

from forms.contract import CONTRACTS, FormContract

ACCEPTED_VERSIONS = Path(__file__).with_name("accepted_versions.toml")
_XFORMS = "{http://www.w3.org/2002/xforms}"
_HTML = "{http://www.w3.org/1999/xhtml}"


class CatalogError(ValueError):
    """The build folder is missing or holds a form Cradle cannot serve."""


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class MediaFile:
    name: str
    path: Path
    md5: str


@dataclass(frozen=True)
class CatalogForm:
    form_id: str
    version: str
    title: str
    xml_path: Path
    md5: str
    media: tuple[MediaFile, ...]
    earlier_versions: tuple[str, ...] = ()

    def accepts(self, version: str) -> bool:
        """Whether a submission of this form `version` is taken: the current one, or an
        earlier one listed in `accepted_versions.toml`."""
        return version == self.version or version in self.earlier_versions

    @property
    def contract(self) -> FormContract:
        return CONTRACTS[self.form_id]

    def media_file(self, name: str) -> MediaFile | None:
        return next((m for m in self.media if m.name == name), None)


def _read_form(xml_path: Path) -> CatalogForm:
    data = xml_path.read_bytes()
    tree = parse_xml(xml_path, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    root = tree.getroot()
    title_node = root.find(f"{_HTML}head/{_HTML}title")
    instance = root.find(f"{_HTML}head/{_XFORMS}model/{_XFORMS}instance")
    if instance is None or len(instance) == 0:
        raise CatalogError(f"{xml_path}: no primary instance")
    primary = instance[0]
    form_id = primary.get("id") or ""
    if form_id not in CONTRACTS:
        raise CatalogError(f"{xml_path}: form id {form_id!r} is not one of {sorted(CONTRACTS)}")
    media_dir = xml_path.with_name(f"{xml_path.stem}-media")
    media = tuple(
        MediaFile(p.name, p, md5_hex(p.read_bytes()))
        for p in sorted(media_dir.iterdir() if media_dir.is_dir() else [])
        if p.is_file()
    )
    return CatalogForm(
        form_id=form_id,
        version=primary.get("version") or "",
        title=(title_node.text or form_id) if title_node is not None else form_id,
        xml_path=xml_path,
        md5=md5_hex(data),
        media=media,
    )


@dataclass(frozen=True)
class FormCatalog:
    forms: dict[str, CatalogForm]

    @classmethod
    def from_dir(cls, directory: Path, accepted: Path = ACCEPTED_VERSIONS) -> FormCatalog:
        if not directory.is_dir():
            raise CatalogError(f"no built forms in {directory}: run `make forms`")
        earlier = _earlier_versions(accepted)
        forms = {}
        for xml_path in sorted(directory.glob("*.xml")):
            form = _read_form(xml_path)
            forms[form.form_id] = replace(form, earlier_versions=earlier.get(form.form_id, ()))
        if not forms:
            raise CatalogError(f"no built forms in {directory}: run `make forms`")
        return cls(forms)

    def get(self, form_id: str) -> CatalogForm | None:
        return self.forms.get(form_id)


def _earlier_versions(path: Path) -> dict[str, tuple[str, ...]]:
    """Form id -> earlier versions still accepted, from `accepted_versions.toml`."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CatalogError(f"{path}: {e}") from e
    out = {}
    for form_id, versions in raw.items():
        if form_id not in CONTRACTS:
            raise CatalogError(f"{path}: {form_id!r} is not one of {sorted(CONTRACTS)}")
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            raise CatalogError(f"{path}: {form_id} must be a list of version strings")
        out[form_id] = tuple(versions)
    return out
