"""The catalog of built forms: which versions of each form Cradle takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.build import build_forms
from forms.catalog import ACCEPTED_VERSIONS, CatalogError, FormCatalog
from forms.media import registry_media_csv
from tests.unit.forms.test_build import TOWNSHIPS


@pytest.fixture(scope="module")
def forms_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built")
    build_forms(out, registry_media_csv(TOWNSHIPS), odk_validate=False)
    return out


def test_current_and_listed_earlier_versions_are_accepted(forms_dir: Path) -> None:
    catalog = FormCatalog.from_dir(forms_dir)
    immunization = catalog.get("immunization")
    assert immunization is not None
    assert (immunization.version, immunization.earlier_versions) == ("2026112802", ("2026112801",))
    assert immunization.accepts("2026112802") and immunization.accepts("2026112801")
    assert not immunization.accepts("2025010101") and not immunization.accepts("")
    newborn = catalog.get("newborn_visit")
    assert newborn is not None
    assert (newborn.version, newborn.earlier_versions) == ("2026112801", ())
    assert [m.name for m in immunization.media] == ["children.csv", "counties.csv", "townships.csv"]


def test_the_shipped_list_names_only_earlier_versions(forms_dir: Path) -> None:
    for form in FormCatalog.from_dir(forms_dir, ACCEPTED_VERSIONS).forms.values():
        assert form.version not in form.earlier_versions
        assert all(v < form.version for v in form.earlier_versions)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('measles = ["2026010101"]', "'measles' is not one of"),
        ('immunization = "2026112801"', "immunization must be a list of version strings"),
        ("immunization = [2026112801]", "immunization must be a list of version strings"),
        ("immunization = [", "accepted.toml"),
    ],
)
def test_a_broken_list_is_a_clear_error(
    forms_dir: Path, tmp_path: Path, text: str, message: str
) -> None:
    accepted = tmp_path / "accepted.toml"
    accepted.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        FormCatalog.from_dir(forms_dir, accepted)
