"""The one validation path of every registry: raw frames in, a ``Registry`` out.

Frames come in file order, so a problem can name its row: CSV rows are counted as a
spreadsheet shows them (the header is row 1), boundary features from 1. Each file's
problems are collected and raised together as one ``RegistryError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj.exceptions import ProjError

from forms.registry.model import (
    COUNTY_COLUMNS,
    CRS,
    TARGET_COLUMNS,
    TOWNSHIP_COLUMNS,
    Registry,
    RegistryError,
)

TOWNSHIP_CODE = re.compile(r"\d{9}")
AREA_CODE = re.compile(r"\d{6}")  # county and prefecture codes (GB/T 2260)
YEAR = re.compile(r"(19|20|21)\d\d")
NUMBER = re.compile(r"(-?)(\d+)(?:\.(\d+))?")
POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class Sources:
    """How problems name each file (a path, or a bare name for in-memory frames)."""

    townships: str = "townships.csv"
    boundaries: str = "boundaries.geojson"
    targets: str = "targets.csv"
    counties: str = "counties.csv"


def validate_registry(
    townships: pd.DataFrame,
    boundaries: gpd.GeoDataFrame,
    targets: pd.DataFrame,
    *,
    counties: pd.DataFrame | None = None,
    sources: Sources = Sources(),
    synthetic: bool = False,
    source: Path | None = None,
) -> Registry:
    """Check a registry's frames (in file order) and return it cleaned, or raise RegistryError.

    ``counties`` (optional) is the authoritative county list; without it the counties are
    those named in ``townships``. Text cells are stripped; codes stay strings; boundaries
    are reprojected to EPSG:4326.
    """
    township_table = _townships(townships, counties, sources)
    return Registry(
        townships=township_table,
        boundaries=_boundaries(boundaries, township_table, sources),
        targets=_targets(targets, township_table, sources),
        synthetic=synthetic,
        source=source,
    )


def _townships(frame: pd.DataFrame, counties: pd.DataFrame | None, src: Sources) -> pd.DataFrame:
    file = src.townships
    table = _text(frame, TOWNSHIP_COLUMNS, file)
    known = None if counties is None else _counties(counties, src)
    problems: list[str] = []
    first_row: dict[str, int] = {}
    county_row: dict[str, tuple[int, dict[str, str]]] = {}
    for row, rec in _rows(table):
        code, county = rec["township_code"], rec["county_code"]
        if not TOWNSHIP_CODE.fullmatch(code):
            problems.append(f"{file}, row {row}: township_code {code!r} is not 9 digits")
            continue
        where = f"{file}, row {row} (township {code})"
        if code in first_row:
            problems.append(f"{where}: duplicate township_code (first on row {first_row[code]})")
            continue
        first_row[code] = row
        if not rec["township_name_zh"]:
            problems.append(f"{where}: township_name_zh is empty")
        problem = _area_codes_problem(rec)
        if problem:
            problems.append(f"{where}: {problem}")
        elif not code.startswith(county):
            problems.append(f"{where}: township_code does not start with its county_code {county}")
        elif known is not None and county not in known:
            problems.append(f"{where}: unknown county {county} (not in {src.counties})")
        elif known is not None:
            problems += _county_mismatch(rec, *known[county], where, f"{src.counties} row")
        elif county not in county_row:
            county_row[county] = (row, rec)
            if not rec["county_name_zh"]:
                problems.append(f"{where}: unknown county {county} (county_name_zh is empty)")
        else:
            problems += _county_mismatch(rec, *county_row[county], where, "row")
    if known is not None and not problems:
        unused = sorted(set(known) - set(table["county_code"]))
        problems += [
            f"{src.counties}, row {known[c][0]} (county {c}): no township in {file}" for c in unused
        ]
    _raise(problems)
    return table


def _counties(frame: pd.DataFrame, src: Sources) -> dict[str, tuple[int, dict[str, str]]]:
    file = src.counties
    table = _text(frame, COUNTY_COLUMNS, file)
    problems: list[str] = []
    known: dict[str, tuple[int, dict[str, str]]] = {}
    for row, rec in _rows(table):
        county = rec["county_code"]
        problem = _area_codes_problem(rec)
        if problem:
            problems.append(f"{file}, row {row}: {problem}")
        elif county in known:
            problems.append(
                f"{file}, row {row} (county {county}): duplicate county_code "
                f"(first on row {known[county][0]})"
            )
        elif not rec["county_name_zh"]:
            problems.append(f"{file}, row {row} (county {county}): county_name_zh is empty")
        else:
            known[county] = (row, rec)
    _raise(problems)
    return known


def _area_codes_problem(rec: dict[str, str]) -> str | None:
    county, prefecture = rec["county_code"], rec["prefecture_code"]
    if not AREA_CODE.fullmatch(county):
        return f"county_code {county!r} is not 6 digits"
    if not AREA_CODE.fullmatch(prefecture):
        return f"prefecture_code {prefecture!r} is not 6 digits"
    if county[:4] != prefecture[:4]:
        return (
            f"county_code {county} is not in prefecture_code {prefecture} (first 4 digits differ)"
        )
    return None


def _county_mismatch(
    rec: dict[str, str], ref_row: int, ref_rec: dict[str, str], where: str, ref: str
) -> list[str]:
    """Problems where a township row disagrees with its county's reference row."""
    county = rec["county_code"]
    return [
        f"{where}: county {county} has {col} {rec[col]!r}, but {ref_rec[col]!r} on {ref} {ref_row}"
        for col in COUNTY_COLUMNS[1:]
        if rec[col] != ref_rec[col]
    ]


def _boundaries(frame: gpd.GeoDataFrame, townships: pd.DataFrame, src: Sources) -> gpd.GeoDataFrame:
    file = src.boundaries
    if "township_code" not in frame.columns:
        raise RegistryError(f"{file}: no township_code property")
    if frame.crs is None:
        raise RegistryError(
            f"{file}: no CRS recorded (GeoJSON means EPSG:4326; a GeoPackage layer needs its SRS)"
        )
    frame = _to_wgs84(frame, file)
    codes = _text(frame[["township_code"]], ("township_code",), file)["township_code"].tolist()
    geoms = frame.geometry.to_numpy()
    bounds = shapely.bounds(geoms)
    township_row = {code: i + 2 for i, code in enumerate(townships["township_code"])}
    first: dict[str, int] = {}
    problems: list[str] = []
    for i, (code, geom) in enumerate(zip(codes, geoms, strict=True)):
        where = f"{file}, feature {i + 1} (township {code})"
        if not code:
            problems.append(f"{file}, feature {i + 1}: township_code is empty")
        elif code not in township_row:
            problems.append(f"{where}: township not in {src.townships}")
        elif code in first:
            problems.append(f"{where}: a second geometry (the first is feature {first[code]})")
        else:
            first[code] = i + 1
            problem = _geometry_problem(geom, bounds[i])
            if problem:
                problems.append(f"{where}: {problem}")
    problems += [
        f"{file}: no geometry for township {code} ({src.townships} row {row})"
        for code, row in township_row.items()
        if code not in first
    ]
    _raise(problems)
    table = gpd.GeoDataFrame({"township_code": codes, "geometry": geoms}, crs=CRS)
    table = table.set_index("township_code").loc[townships["township_code"]].reset_index()
    return gpd.GeoDataFrame(table, geometry="geometry", crs=CRS)


def _to_wgs84(frame: gpd.GeoDataFrame, file: str) -> gpd.GeoDataFrame:
    if frame.crs.equals(CRS, ignore_axis_order=True):  # also OGC:CRS84
        return frame.set_crs(CRS, allow_override=True)
    try:
        return frame.to_crs(CRS)
    except ProjError as e:
        raise RegistryError(f"{file}: cannot reproject from {frame.crs.name} to {CRS}: {e}") from e


def _geometry_problem(geom: shapely.Geometry | None, bounds: np.ndarray) -> str | None:
    if geom is None:
        return "missing geometry"
    if geom.is_empty:
        return "empty geometry"
    if geom.geom_type not in POLYGONAL:
        return f"geometry is a {geom.geom_type}, not a Polygon or MultiPolygon"
    min_x, min_y, max_x, max_y = bounds
    if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
        return (
            f"coordinates ({min_x:.6g}, {min_y:.6g}) are not longitude/latitude; is the CRS right?"
        )
    if not geom.is_valid:
        return f"invalid geometry: {shapely.is_valid_reason(geom)}"
    return None


def _targets(frame: pd.DataFrame, townships: pd.DataFrame, src: Sources) -> pd.DataFrame:
    file = src.targets
    table = _text(frame, ("township_code", "year", *TARGET_COLUMNS), file)
    known = set(townships["township_code"])
    values: dict[str, list[int | None]] = {c: [] for c in TARGET_COLUMNS}
    first: dict[tuple[str, str], int] = {}
    problems: list[str] = []
    for row, rec in _rows(table):
        code, year = rec["township_code"], rec["year"]
        where = f"{file}, row {row} (township {code})"
        if code not in known:
            problems.append(f"{where}: township not in {src.townships}")
        elif not YEAR.fullmatch(year):
            problems.append(f"{where}: year {year!r} is not a year")
        elif (code, year) in first:
            problems.append(f"{where}: a second row for {year} (first on row {first[code, year]})")
        else:
            first[code, year] = row
        for column in TARGET_COLUMNS:
            number, problem = _whole_number(rec[column])
            values[column].append(number)
            if problem:
                problems.append(f"{where}: {column} {problem}")
    _raise(problems)
    return pd.DataFrame(
        {
            "township_code": table["township_code"],
            "year": table["year"].astype("int64"),
            **{c: pd.array(values[c], dtype="Int64") for c in TARGET_COLUMNS},
        }
    )


def _whole_number(text: str) -> tuple[int | None, str | None]:
    """Parse a target cell: blank is None; '12' and '12.0' are 12; anything else a problem."""
    if not text:
        return None, None
    match = NUMBER.fullmatch(text)
    if not match:
        return None, f"is not a number ({text!r})"
    sign, whole, fraction = match.groups()
    if fraction and fraction.strip("0"):
        return None, f"is not a whole number ({text})"
    if sign and int(whole):
        return None, f"is negative ({text})"
    return int(whole), None


def _text(frame: pd.DataFrame, required: tuple[str, ...], file: str) -> pd.DataFrame:
    """The required columns as stripped strings ('' for blanks), or RegistryError."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise RegistryError(
            f"{file}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    columns = {c: _strings(frame[c]) for c in required}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)), dtype=object)


def _strings(column: pd.Series) -> list[str]:
    if pd.api.types.is_float_dtype(column) and column.dropna().mod(1).eq(0).all():
        column = column.astype("Int64")  # codes read as numbers: 451024201.0 -> '451024201'
    return ["" if pd.isna(v) else str(v).strip() for v in column]


def _rows(table: pd.DataFrame) -> list[tuple[int, dict[str, str]]]:
    return [(i + 2, rec) for i, rec in enumerate(table.to_dict("records"))]


def _raise(problems: list[str]) -> None:
    if problems:
        raise RegistryError(problems)
