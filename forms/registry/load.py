"""Find and read a registry's files, then validate them; directory loads are cached."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors

from forms.registry.model import Registry, RegistryError
from forms.registry.validate import Sources, validate_registry

DEMO_DIR = Path(__file__).resolve().parent.parent / "registry_data"
ENV_VAR = "CRADLE_REGISTRY_DIR"
BOUNDARY_NAMES = ("boundaries.geojson", "boundaries.json", "boundaries.gpkg")
BOUNDARY_SUFFIXES = (".geojson", ".json", ".gpkg")
MANIFEST = "registry.json"


@dataclass(frozen=True)
class RegistryFiles:
    """The files of one registry; ``counties`` and ``manifest`` are optional."""

    townships: Path
    boundaries: Path
    targets: Path
    counties: Path | None = None
    manifest: Path | None = None

    @classmethod
    def in_directory(cls, directory: Path) -> RegistryFiles:
        """The standard file names in ``directory`` (see forms/registry_data/README.txt)."""
        if not directory.is_dir():
            raise RegistryError(f"{directory}: registry directory not found")
        missing = [n for n in ("townships.csv", "targets.csv") if not (directory / n).is_file()]
        if missing:
            raise RegistryError(f"{directory}: no {' or '.join(missing)}")
        boundaries = [directory / n for n in BOUNDARY_NAMES if (directory / n).is_file()]
        if len(boundaries) != 1:
            found = "none" if not boundaries else ", ".join(p.name for p in boundaries)
            raise RegistryError(
                f"{directory}: need exactly one of {', '.join(BOUNDARY_NAMES)} (found {found})"
            )
        optional = {n: directory / n for n in ("counties.csv", MANIFEST)}
        return cls(
            townships=directory / "townships.csv",
            boundaries=boundaries[0],
            targets=directory / "targets.csv",
            counties=optional["counties.csv"] if optional["counties.csv"].is_file() else None,
            manifest=optional[MANIFEST] if optional[MANIFEST].is_file() else None,
        )

    @classmethod
    def from_paths(cls, paths: Sequence[Path]) -> RegistryFiles:
        """One registry directory, or the registry's files in any order (told apart by content)."""
        if len(paths) == 1 and paths[0].is_dir():
            return cls.in_directory(paths[0])
        roles: dict[str, Path] = {}
        for path in paths:
            role = _role(path)
            if role in roles:
                raise RegistryError(f"{path}: a second {role} file (the first is {roles[role]})")
            roles[role] = path
        missing = [r for r in ("townships", "boundaries", "targets") if r not in roles]
        if missing:
            raise RegistryError(f"no {', '.join(missing)} file among {', '.join(map(str, paths))}")
        return cls(**roles)

    def paths(self) -> tuple[Path, ...]:
        """The files that exist, in field order."""
        return tuple(p for f in fields(self) if (p := getattr(self, f.name)) is not None)


def load_registry(directory: Path | str | None = None) -> Registry:
    """Load and validate the registry in ``directory``; cached until its files change.

    Without ``directory``: ``$CRADLE_REGISTRY_DIR`` if set, else the bundled synthetic
    demo (forms/registry_data). Raises RegistryError for a missing or bad registry.
    """
    if directory is None:
        directory = os.environ.get(ENV_VAR) or DEMO_DIR
    files = RegistryFiles.in_directory(Path(directory).expanduser().resolve())
    stamps = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in files.paths())
    return _read_cached(files, stamps)


@lru_cache(maxsize=8)
def _read_cached(files: RegistryFiles, stamps: tuple[tuple[int, int], ...]) -> Registry:
    return read_registry(files)


def read_registry(files: RegistryFiles) -> Registry:
    """Read the files (CSV as UTF-8 text, boundaries via GDAL) and validate them, uncached."""
    sources = Sources(
        townships=str(files.townships),
        boundaries=str(files.boundaries),
        targets=str(files.targets),
        counties=str(files.counties or "counties.csv"),
    )
    return validate_registry(
        _read_csv(files.townships),
        _read_boundaries(files.boundaries),
        _read_csv(files.targets),
        counties=_read_csv(files.counties) if files.counties else None,
        sources=sources,
        synthetic=_synthetic(files.manifest),
        source=files.townships.parent,
    )


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except OSError as e:
        raise RegistryError(f"{path}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise RegistryError(f"{path}: not UTF-8 text (save it as 'CSV UTF-8')") from e
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise RegistryError(f"{path}: not a readable CSV file: {' '.join(str(e).split())}") from e


def _read_boundaries(path: Path) -> gpd.GeoDataFrame:
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        layer = (
            layers[0]
            if len(layers) == 1
            else next((n for n in ("boundaries", "townships") if n in layers), None)
        )
        if layer is None:
            raise RegistryError(
                f"{path}: {len(layers)} layers ({', '.join(layers)}); name one 'boundaries'"
            )
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as e:
        raise RegistryError(f"{path}: cannot read boundaries: {' '.join(str(e).split())}") from e


def _synthetic(manifest: Path | None) -> bool:
    if manifest is None:
        return False
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RegistryError(f"{manifest}: not a readable JSON file: {e}") from e
    synthetic = data.get("synthetic", False) if isinstance(data, dict) else None
    if not isinstance(synthetic, bool):
        raise RegistryError(f"{manifest}: 'synthetic' must be true or false")
    return synthetic


def _role(path: Path) -> str:
    """Which registry file ``path`` is: by name, suffix, or the CSV's header."""
    if not path.is_file():
        raise RegistryError(f"{path}: no such file or directory")
    if path.name == MANIFEST:
        return "manifest"
    if path.suffix.lower() in BOUNDARY_SUFFIXES:
        return "boundaries"
    if path.suffix.lower() == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                header = {c.strip() for c in next(csv.reader(handle), [])}
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise RegistryError(f"{path}: cannot read the CSV header: {e}") from e
        if "year" in header:
            return "targets"
        if "township_code" in header:
            return "townships"
        if "county_code" in header:
            return "counties"
    raise RegistryError(
        f"{path}: not a registry file (a CSV with township_code, county_code or year columns, "
        "or GeoJSON/GeoPackage boundaries)"
    )
