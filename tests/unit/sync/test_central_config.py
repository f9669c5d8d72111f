"""The Central sources file: which counties a source serves is checked like the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.central.config import load_sources
from sync.errors import CentralError

PYODK = '[central]\nbase_url = "https://central.example"\nusername = "u@x"\npassword = "p"\n'


def write(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "pyodk.toml").write_text(PYODK)
    sources = tmp_path / "central.toml"
    sources.write_text(
        '[[source]]\nname = "gx"\npyodk_config = "pyodk.toml"\nproject_id = 5\n'
        f'{extra}[source.forms]\nimmunization = "immunization"\n'
    )
    return sources


def test_counties_are_read_and_default_to_the_whole_province(tmp_path: Path) -> None:
    (source,) = load_sources(write(tmp_path, 'counties = ["450123", "450124"]\n'))
    assert source.counties == frozenset({"450123", "450124"})
    assert source.describe()["counties"] == ["450123", "450124"]
    (province,) = load_sources(write(tmp_path, ""))
    assert province.counties == frozenset()


@pytest.mark.parametrize("value", ['"450123"', '["4501"]', "[450123]", '["450123x"]'])
def test_bad_counties_are_refused_in_one_line(tmp_path: Path, value: str) -> None:
    with pytest.raises(CentralError) as error:
        load_sources(write(tmp_path, f"counties = {value}\n"))
    assert str(error.value) == (
        f"{tmp_path / 'central.toml'}: source 'gx': "
        "`counties` must be a list of 6-digit county codes"
    )
