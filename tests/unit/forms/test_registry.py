"""The township registry: the synthetic demo, the one validation path, the CLI."""

from __future__ import annotations

import csv
import json
import shutil
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from forms.registry import (
    DEFAULT_SEED,
    DEMO_DIR,
    TARGET_COLUMNS,
    Registry,
    RegistryError,
    demo_county_outlines,
    generate_demo_registry,
    load_registry,
    registry_group,
)

FILES = (
    "README.txt",
    "registry.json",
    "counties.csv",
    "townships.csv",
    "boundaries.geojson",
    "targets.csv",
)
FIRST = "450123101"  # the demo's first township (row 2 of townships.csv, feature 1)


@pytest.fixture(scope="module")
def demo() -> Registry:
    return load_registry(DEMO_DIR)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A private copy of the demo registry to break."""
    return Path(shutil.copytree(DEMO_DIR, tmp_path / "registry"))


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def edit_csv(path: Path, row: int, **values: str) -> None:
    """Set cells of a spreadsheet row (the header is row 1)."""
    rows = read_rows(path)
    for column, value in values.items():
        rows[row - 1][rows[0].index(column)] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def edit_feature(path: Path, index: int, geometry: dict | None) -> None:
    collection = json.loads(path.read_text(encoding="utf-8"))
    collection["features"][index]["geometry"] = geometry
    path.write_text(json.dumps(collection), encoding="utf-8")


def refused(directory: Path) -> RegistryError:
    with pytest.raises(RegistryError) as info:
        load_registry(directory)
    return info.value


# The demo registry


def test_demo_is_29_guangxi_counties_marked_synthetic(demo: Registry) -> None:
    counties = demo.counties()
    assert len(counties) == 29
    assert counties["county_code"].str.startswith("45").all()
    assert sorted(counties["prefecture_name_en"].unique()) == [
        "Baise", "Chongzuo", "Guilin", "Hechi", "Laibin", "Liuzhou", "Nanning",
    ]  # fmt: skip
    assert counties.loc[counties["county_code"] == "451024", "county_name_zh"].item() == "德保县"
    assert demo.synthetic is True
    assert json.loads((DEMO_DIR / "registry.json").read_text())["synthetic"] is True
    assert (DEMO_DIR / "README.txt").read_text().startswith("SYNTHETIC DEMO REGISTRY")


def test_demo_codes_and_names_follow_the_national_pattern(demo: Registry) -> None:
    t = demo.townships
    assert t["county_code"].str.fullmatch(r"45\d{4}").all()
    assert t["prefecture_code"].str.fullmatch(r"45\d{2}00").all()
    assert t["township_code"].str.fullmatch(r"45\d{4}[12]\d\d").all()
    assert (t["township_code"].str[:6] == t["county_code"]).all()
    assert t["township_code"].is_unique
    town = t["township_code"].str[6] == "1"
    assert t.loc[town, "township_name_zh"].str.endswith("镇").all()
    assert t.loc[~town, "township_name_zh"].str.endswith("乡").all()
    assert t.loc[town, "township_name_en"].str.endswith(" Town").all()
    assert t["township_name_en"].map(str.isascii).all()
    assert t.groupby("county_code").size().between(5, 12).all()


def test_demo_townships_tile_their_county_exactly(demo: Registry) -> None:
    outlines = demo_county_outlines(DEFAULT_SEED)
    counties = demo.county_boundaries().set_index("county_code").geometry
    assert set(outlines) == set(counties.index)
    for county, group in demo.townships.groupby("county_code"):
        parts = demo.boundaries.geometry[group.index].to_numpy()
        union = shapely.union_all(parts)
        area = outlines[county].area
        assert union.area == pytest.approx(area, rel=1e-9)
        assert shapely.area(parts).sum() == pytest.approx(area, rel=1e-9)
        assert shapely.symmetric_difference(union, outlines[county]).area < 1e-9 * area
        assert counties[county].area == pytest.approx(area, rel=1e-9)
        for a, b in combinations(parts, 2):
            assert shapely.intersection(a, b).area == 0


def test_demo_counties_do_not_overlap_and_lie_in_guangxi(demo: Registry) -> None:
    counties = demo.county_boundaries().geometry.to_numpy()
    for a, b in combinations(counties, 2):
        assert shapely.intersection(a, b).area == 0
    min_x, min_y, max_x, max_y = demo.boundaries.total_bounds
    assert 104.5 < min_x < max_x < 112 and 22 < min_y < max_y < 26.5
    assert demo.boundaries.crs == "EPSG:4326"
    assert set(demo.boundaries.geom_type) == {"Polygon"}
    assert shapely.is_valid(demo.boundaries.geometry.to_numpy()).all()


def test_demo_targets_cover_every_township_and_year_with_plausible_sizes(demo: Registry) -> None:
    targets = demo.targets
    assert len(targets) == len(demo.townships) * 7
    assert set(targets["year"]) == set(range(2024, 2031))
    births = targets["expected_births"]
    assert births.between(45, 600).all()  # 5k-40k people, ~1.2% births
    assert (targets["children_under_1"] <= births).all()
    assert (targets["children_under_1"] >= 0.95 * births).all()
    assert (targets["children_6_24m"] / births).between(1.4, 1.6).all()
    assert (targets["children_under_5"] / births).between(4.7, 5.4).all()


def test_registry_helpers(demo: Registry) -> None:
    first = dict(zip(*read_rows(DEMO_DIR / "targets.csv")[:2], strict=True))
    assert first["township_code"] == FIRST
    year = int(first["year"])
    for column in TARGET_COLUMNS:
        assert demo.target(FIRST, year, column) == int(first[column])
    assert demo.target(FIRST, 1999, "expected_births") is None
    assert demo.target("450123999", year, "expected_births") is None
    with pytest.raises(RegistryError, match="unknown target column 'births'"):
        demo.target(FIRST, year, "births")
    assert demo.county_of(FIRST) == "450123"
    assert demo.county_of("450123999") is None
    assert demo.has_township(FIRST) and not demo.has_township("450123999")
    assert demo.township_codes() == frozenset(demo.townships["township_code"])
    assert list(demo.boundaries["township_code"]) == list(demo.townships["township_code"])
    county = demo.county_boundaries()
    assert list(county.columns) == [*demo.counties().columns, "geometry"]
    assert county.crs == "EPSG:4326"


# Reproducible generation


def test_bundled_demo_is_what_the_default_seed_generates(tmp_path: Path) -> None:
    generate_demo_registry(seed=DEFAULT_SEED, out_dir=tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DEMO_DIR / name).read_bytes(), name
    assert sum(p.stat().st_size for p in DEMO_DIR.iterdir()) < 5_000_000


def test_same_seed_same_bytes_other_seed_other_registry(tmp_path: Path) -> None:
    one, two, other = (tmp_path / n for n in ("one", "two", "other"))
    generate_demo_registry(seed=7, out_dir=one)
    generate_demo_registry(seed=7, out_dir=two)
    generate_demo_registry(seed=8, out_dir=other)
    for name in FILES:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    for name in ("townships.csv", "boundaries.geojson", "targets.csv"):
        assert (one / name).read_bytes() != (other / name).read_bytes(), name
    assert load_registry(other).counties().equals(load_registry(one).counties())


# Loading


def test_load_defaults_to_demo_or_environment(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRADLE_REGISTRY_DIR", raising=False)
    assert load_registry().source == DEMO_DIR
    assert load_registry() is load_registry(DEMO_DIR)  # cached
    monkeypatch.setenv("CRADLE_REGISTRY_DIR", str(copy))
    assert load_registry().source == copy.resolve()


def test_cache_notices_changed_files(copy: Path) -> None:
    before = load_registry(copy)
    assert load_registry(copy) is before
    edit_csv(copy / "targets.csv", 2, expected_births="1")
    after = load_registry(copy)
    assert after is not before
    assert after.target(FIRST, 2024, "expected_births") == 1


def test_user_registry_without_optional_files_is_not_synthetic(copy: Path) -> None:
    (copy / "registry.json").unlink()
    (copy / "counties.csv").unlink()
    registry = load_registry(copy)
    assert registry.synthetic is False
    assert len(registry.counties()) == 29


def test_blank_and_integral_decimal_targets(copy: Path) -> None:
    edit_csv(copy / "targets.csv", 2, expected_births="", children_under_1="12.0")
    registry = load_registry(copy)
    assert registry.target(FIRST, 2024, "expected_births") is None
    assert registry.target(FIRST, 2024, "children_under_1") == 12


def test_projected_geopackage_is_reprojected(copy: Path, demo: Registry) -> None:
    (copy / "boundaries.geojson").unlink()
    demo.boundaries.to_crs("EPSG:4547").to_file(copy / "boundaries.gpkg", layer="boundaries")
    registry = load_registry(copy)
    assert registry.boundaries.crs == "EPSG:4326"
    a, b = registry.boundaries.geometry.to_numpy(), demo.boundaries.geometry.to_numpy()
    assert shapely.equals_exact(a, b, tolerance=1e-7).all()


# Bad registries: the exact message names file, row or feature, township and problem


def test_registry_error_is_a_value_error() -> None:
    assert issubclass(RegistryError, ValueError)


def test_duplicate_township_code(copy: Path) -> None:
    edit_csv(copy / "townships.csv", 3, township_code=FIRST)
    assert str(refused(copy)) == (
        f"{copy / 'townships.csv'}, row 3 (township {FIRST}): duplicate township_code "
        "(first on row 2)"
    )


def test_township_in_unknown_county(copy: Path) -> None:
    edit_csv(copy / "townships.csv", 2, township_code="450199101", county_code="450199")
    assert str(refused(copy)) == (
        f"{copy / 'townships.csv'}, row 2 (township 450199101): unknown county 450199 "
        f"(not in {copy / 'counties.csv'})"
    )


def test_township_in_unknown_county_without_counties_file(copy: Path) -> None:
    (copy / "counties.csv").unlink()
    edit_csv(copy / "townships.csv", 2, township_code="450199101", county_code="450199")
    edit_csv(copy / "townships.csv", 2, county_name_zh="")
    assert str(refused(copy)) == (
        f"{copy / 'townships.csv'}, row 2 (township 450199101): unknown county 450199 "
        "(county_name_zh is empty)"
    )


def test_county_with_two_names(copy: Path) -> None:
    (copy / "counties.csv").unlink()
    edit_csv(copy / "townships.csv", 3, county_name_zh="隆安")
    assert str(refused(copy)) == (
        f"{copy / 'townships.csv'}, row 3 (township 450123102): county 450123 has "
        "county_name_zh '隆安', but '隆安县' on row 2"
    )


def test_county_name_differs_from_counties_file(copy: Path) -> None:
    edit_csv(copy / "townships.csv", 2, county_name_en="Longan")
    assert str(refused(copy)) == (
        f"{copy / 'townships.csv'}, row 2 (township {FIRST}): county 450123 has "
        f"county_name_en 'Longan', but \"Long'an County\" on {copy / 'counties.csv'} row 2"
    )


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"township_code": "45012310"}, "row 2: township_code '45012310' is not 9 digits"),
        ({"township_code": "4501231O1"}, "row 2: township_code '4501231O1' is not 9 digits"),
        (
            {"county_code": "45012"},
            f"row 2 (township {FIRST}): county_code '45012' is not 6 digits",
        ),
        (
            {"township_code": "450124999"},
            "row 2 (township 450124999): township_code does not start with its county_code 450123",
        ),
        (
            {"prefecture_code": "451000"},
            f"row 2 (township {FIRST}): county_code 450123 is not in prefecture_code 451000 "
            "(first 4 digits differ)",
        ),
        ({"township_name_zh": " "}, f"row 2 (township {FIRST}): township_name_zh is empty"),
    ],
)
def test_wrong_code_or_name(copy: Path, values: dict[str, str], problem: str) -> None:
    edit_csv(copy / "townships.csv", 2, **values)
    assert str(refused(copy)) == f"{copy / 'townships.csv'}, {problem}"


def test_missing_column(copy: Path) -> None:
    rows = [row[1:] for row in read_rows(copy / "townships.csv")]
    with (copy / "townships.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    assert str(refused(copy)) == f"{copy / 'townships.csv'}: missing column township_code"


def test_invalid_geometry(copy: Path) -> None:
    bowtie = [[[107.0, 23.0], [108.0, 24.0], [108.0, 23.0], [107.0, 24.0], [107.0, 23.0]]]
    edit_feature(copy / "boundaries.geojson", 0, {"type": "Polygon", "coordinates": bowtie})
    assert str(refused(copy)) == (
        f"{copy / 'boundaries.geojson'}, feature 1 (township {FIRST}): "
        "invalid geometry: Self-intersection[107.5 23.5]"
    )


def test_null_geometry(copy: Path) -> None:
    edit_feature(copy / "boundaries.geojson", 0, None)
    assert str(refused(copy)) == (
        f"{copy / 'boundaries.geojson'}, feature 1 (township {FIRST}): missing geometry"
    )


def test_point_geometry(copy: Path) -> None:
    edit_feature(copy / "boundaries.geojson", 0, {"type": "Point", "coordinates": [107.5, 23.2]})
    assert str(refused(copy)) == (
        f"{copy / 'boundaries.geojson'}, feature 1 (township {FIRST}): "
        "geometry is a Point, not a Polygon or MultiPolygon"
    )


def test_township_without_feature(copy: Path) -> None:
    path = copy / "boundaries.geojson"
    collection = json.loads(path.read_text(encoding="utf-8"))
    del collection["features"][0]
    path.write_text(json.dumps(collection), encoding="utf-8")
    assert str(refused(copy)) == (
        f"{path}: no geometry for township {FIRST} ({copy / 'townships.csv'} row 2)"
    )


def test_two_features_for_one_township(copy: Path) -> None:
    path = copy / "boundaries.geojson"
    collection = json.loads(path.read_text(encoding="utf-8"))
    collection["features"][1]["properties"]["township_code"] = FIRST
    path.write_text(json.dumps(collection), encoding="utf-8")
    assert str(refused(copy)).startswith(
        f"{path}, feature 2 (township {FIRST}): a second geometry (the first is feature 1)"
    )


def test_projected_coordinates_in_geojson_without_crs(copy: Path, demo: Registry) -> None:
    (copy / "boundaries.geojson").unlink()
    projected = demo.boundaries.to_crs("EPSG:4547").set_crs("EPSG:4326", allow_override=True)
    projected.to_file(copy / "boundaries.geojson")
    x, y = projected.geometry[0].bounds[:2]
    assert str(refused(copy)) == (
        f"{copy / 'boundaries.geojson'}, feature 1 (township {FIRST}): coordinates "
        f"({x:.6g}, {y:.6g}) are not longitude/latitude; is the CRS right? (and 254 more problems)"
    )


def test_missing_crs(copy: Path, demo: Registry) -> None:
    (copy / "boundaries.geojson").unlink()
    no_crs = demo.boundaries.set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        no_crs.to_file(copy / "boundaries.gpkg", layer="boundaries")
    assert str(refused(copy)) == (
        f"{copy / 'boundaries.gpkg'}: no CRS recorded "
        "(GeoJSON means EPSG:4326; a GeoPackage layer needs its SRS)"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("-5", "expected_births is negative (-5)"),
        ("12.5", "expected_births is not a whole number (12.5)"),
        ("1,200", "expected_births is not a number ('1,200')"),
        ("many", "expected_births is not a number ('many')"),
    ],
)
def test_bad_target_value(copy: Path, value: str, problem: str) -> None:
    edit_csv(copy / "targets.csv", 2, expected_births=value)
    assert str(refused(copy)) == f"{copy / 'targets.csv'}, row 2 (township {FIRST}): {problem}"


def test_target_for_unknown_township(copy: Path) -> None:
    edit_csv(copy / "targets.csv", 2, township_code="450123999")
    assert str(refused(copy)) == (
        f"{copy / 'targets.csv'}, row 2 (township 450123999): township not in "
        f"{copy / 'townships.csv'}"
    )


def test_duplicate_target_year(copy: Path) -> None:
    edit_csv(copy / "targets.csv", 3, year="2024")
    assert str(refused(copy)) == (
        f"{copy / 'targets.csv'}, row 3 (township {FIRST}): a second row for 2024 (first on row 2)"
    )


def test_every_problem_of_the_file_is_listed(copy: Path) -> None:
    edit_csv(copy / "targets.csv", 2, expected_births="-1")
    edit_csv(copy / "targets.csv", 4, children_under_5="x")
    error = refused(copy)
    assert str(error).endswith("expected_births is negative (-1) (and 1 more problem)")
    assert error.problems == (
        f"{copy / 'targets.csv'}, row 2 (township {FIRST}): expected_births is negative (-1)",
        f"{copy / 'targets.csv'}, row 4 (township {FIRST}): children_under_5 is not a number ('x')",
    )


def test_missing_directory_and_file(tmp_path: Path, copy: Path) -> None:
    assert str(refused(tmp_path / "nowhere")) == (
        f"{tmp_path / 'nowhere'}: registry directory not found"
    )
    (copy / "targets.csv").unlink()
    assert str(refused(copy)) == f"{copy.resolve()}: no targets.csv"


# The `registry` command group


def test_cli_check_directory_and_files(copy: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(registry_group, ["check", str(copy)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"ok: {copy}: 29 counties, 255 townships, targets 2024-2030 (1785 rows), SYNTHETIC demo\n"
    )
    files = [str(copy / n) for n in ("targets.csv", "boundaries.geojson", "townships.csv")]
    result = runner.invoke(registry_group, ["check", *files])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("not marked synthetic\n")


def test_cli_check_bad_registry_prints_one_line(copy: Path) -> None:
    edit_csv(copy / "targets.csv", 2, expected_births="-5")
    result = CliRunner().invoke(registry_group, ["check", str(copy)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {copy / 'targets.csv'}, row 2 (township {FIRST}): "
        "expected_births is negative (-5)\n"
    )


def test_cli_generate(tmp_path: Path) -> None:
    result = CliRunner().invoke(registry_group, ["generate", "--seed", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    assert load_registry(tmp_path).synthetic is True
    assert np.array_equal(
        load_registry(tmp_path).counties()["county_code"], load_registry().counties()["county_code"]
    )
