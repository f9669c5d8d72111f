"""Build the three XForms and their media from the XLSForms in `forms/xlsform/`.

Each `<form_id>.xlsx` (the source of truth, edited in Excel) is converted with pyxform
into `<out_dir>/<form_id>.xml`, with its media in `<out_dir>/<form_id>-media/`. The
build fails with `FormBuildError` on any pyxform error or warning, and when a built
form breaks the data contract (`forms.contract`), lacks a translation, or when its
`doses` choice list differs from the vaccine schedule (`forms/schedule.toml`): the
xlsx keeps its own copy of the list, so the form stays a complete XLSForm, and the build
refuses any drift between the two. Output is byte-identical for the same input.

Example: ``python -m forms.build build --out build/forms``
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click
from pyxform.xls2xform import convert

from forms.checks import XFormInfo, check_xform
from forms.contract import FORM_IDS
from forms.media import CHILDREN_CSV, children_list_csv, registry_media_csv
from forms.schedule import Schedule, load_schedule

XLSFORM_DIR = Path(__file__).with_name("xlsform")
_ODK_VALIDATE_WARNINGS = "ODK Validate Warnings:\n"


class FormBuildError(Exception):
    """A form could not be built; the message names the form and, when it has one,
    carries pyxform's own message."""


@dataclass(frozen=True, slots=True)
class BuiltForm:
    """One built XForm and its media files."""

    form_id: str
    version: str
    title_zh: str
    title_en: str
    xml_path: Path
    media_paths: tuple[Path, ...]
    md5: str

    @property
    def title(self) -> str:
        """The form title as written in the form, "中文 (English)"."""
        return f"{self.title_zh} ({self.title_en})"

    @property
    def hash(self) -> str:
        """The OpenRosa form list hash, `md5:<hex>` of the XML file."""
        return f"md5:{self.md5}"


def build_forms(
    out_dir: Path,
    registry_media: dict[str, bytes] | None = None,
    *,
    xlsform_dir: Path = XLSFORM_DIR,
    schedule: Schedule | None = None,
    odk_validate: bool = True,
) -> list[BuiltForm]:
    """Convert every XLSForm, check it, and write the XForms and media into `out_dir`.

    `registry_media` maps media file names to their bytes (by default generated from the
    township registry by `forms.media.registry_media_csv`); forms that use the children
    list get it empty, as the server makes each health worker's own at download. Nothing
    is written unless all forms build. `odk_validate` runs pyxform's bundled ODK Validate
    (JavaRosa, needs Java), which catches XPath syntax errors that pyxform lets through.
    """
    schedule = load_schedule() if schedule is None else schedule
    media = _default_media() if registry_media is None else dict(registry_media)
    media.setdefault(CHILDREN_CSV, children_list_csv([]))
    xforms = {
        form_id: _convert(xlsform_dir / f"{form_id}.xlsx", form_id, odk_validate)
        for form_id in FORM_IDS
    }
    checked = {
        form_id: _check(form_id, xform, schedule, media) for form_id, xform in xforms.items()
    }
    used = {name for info in checked.values() for name in info.media_names}
    unused = sorted(set(media) - used - {CHILDREN_CSV})
    if unused:
        raise FormBuildError(f"media files that no form uses: {unused}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    for form_id, xform in xforms.items():
        info = checked[form_id]
        xml = xform.encode("utf-8")
        xml_path = out_dir / f"{form_id}.xml"
        xml_path.write_bytes(xml)
        media_dir = out_dir / f"{form_id}-media"
        if media_dir.exists():
            shutil.rmtree(media_dir)
        media_paths = []
        for name in info.media_names:
            media_dir.mkdir(exist_ok=True)
            path = media_dir / name
            path.write_bytes(media[name])
            media_paths.append(path)
        built.append(
            BuiltForm(
                form_id=form_id,
                version=info.version,
                title_zh=info.title_zh,
                title_en=info.title_en,
                xml_path=xml_path,
                media_paths=tuple(media_paths),
                md5=hashlib.md5(xml, usedforsecurity=False).hexdigest(),
            )
        )
    return built


def _default_media() -> dict[str, bytes]:
    """Media from the township registry (imported here: the registry is optional for tests)."""
    try:
        from forms.registry import load_registry

        registry = load_registry()
    except (ImportError, OSError, ValueError) as e:  # RegistryError is a ValueError
        raise FormBuildError(f"cannot load the township registry: {e}") from e
    try:
        return registry_media_csv(registry.townships)
    except ValueError as e:
        raise FormBuildError(f"cannot make form media from the township registry: {e}") from e


def _convert(xlsx: Path, form_id: str, odk_validate: bool) -> str:
    """Run pyxform; any error or warning becomes a `FormBuildError`."""
    if not xlsx.is_file():
        raise FormBuildError(f"{form_id}: no XLSForm at {xlsx}")
    warnings: list[str] = []
    try:
        result = convert(xlsform=xlsx, warnings=warnings, pretty_print=True, validate=odk_validate)
    except Exception as e:  # pyxform fails on bad input with many exception types
        raise FormBuildError(f"{form_id} ({xlsx.name}): {e}") from e
    warnings = [w for w in map(_without_jvm_notices, warnings) if w]
    if warnings:
        raise FormBuildError(f"{form_id} ({xlsx.name}): pyxform warnings: {' | '.join(warnings)}")
    return result.xform


def _without_jvm_notices(warning: str) -> str:
    """Drop the JVM's own stderr notices (JAVA_TOOL_OPTIONS) from ODK Validate's warnings."""
    if not warning.startswith(_ODK_VALIDATE_WARNINGS):
        return warning
    lines = warning.removeprefix(_ODK_VALIDATE_WARNINGS).splitlines()
    kept = [line for line in lines if line.strip() and not line.startswith("Picked up ")]
    return _ODK_VALIDATE_WARNINGS + "\n".join(kept) if kept else ""


def _check(form_id: str, xform: str, schedule: Schedule, media: Mapping[str, bytes]) -> XFormInfo:
    info, problems = check_xform(form_id, xform, schedule)
    problems += [f"media file {n} not provided" for n in info.media_names if n not in media]
    if problems:
        raise FormBuildError(f"{form_id}: " + "; ".join(problems))
    return info


@click.group("forms")
def forms_group() -> None:
    """ODK forms: build the XForms and their media."""


@forms_group.command("build")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/forms"),
    show_default=True,
    help="Folder for <form_id>.xml and <form_id>-media/.",
)
@click.option(
    "--odk-validate/--no-odk-validate",
    default=True,
    show_default=True,
    help="Check each XForm with ODK Validate (needs Java).",
)
def build_command(out_dir: Path, odk_validate: bool) -> None:
    """Build the three XForms from forms/xlsform/*.xlsx and media from the registry.

    Example: cradle forms build --out build/forms
    """
    try:
        built = build_forms(out_dir, odk_validate=odk_validate)
    except FormBuildError as e:
        raise click.ClickException(" ".join(str(e).split())) from e
    for form in built:
        click.echo(f"{form.form_id}\tversion {form.version}\t{form.hash}\t{form.xml_path}")


if __name__ == "__main__":
    forms_group()
