"""The synthetic demo registry: the programme's 29 counties, invented townships and targets.

Only the county list, county codes and rough positions follow reality. Township names,
codes, polygons and target populations are drawn from one seed, so the same seed writes
the same bytes (with the same GEOS version). Townships are the faces of their county's
outline and Voronoi edges noded together, so neighbours share their edges exactly and
tile the county.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon

from forms.registry.load import DEMO_DIR
from forms.registry.model import COUNTY_COLUMNS, CRS, TARGET_COLUMNS, TOWNSHIP_COLUMNS, Registry
from forms.registry.validate import validate_registry

DEFAULT_SEED = 2015
YEARS = range(2024, 2031)
GRID = 1_000_000  # outlines and seeds are built in 1e-6 degree units, on whole numbers
COUNTY_GAP = 0.004  # degrees between neighbouring counties, so snapping can never overlap them
NAME = "Cradle demo township registry (SYNTHETIC: invented townships, boundaries and targets)"


class County(NamedTuple):
    """A programme county: code, names and an approximate centre."""

    code: str
    name_zh: str
    name_en: str
    lon: float
    lat: float


PREFECTURES = {
    "450100": ("南宁市", "Nanning"),
    "450200": ("柳州市", "Liuzhou"),
    "450300": ("桂林市", "Guilin"),
    "451000": ("百色市", "Baise"),
    "451200": ("河池市", "Hechi"),
    "451300": ("来宾市", "Laibin"),
    "451400": ("崇左市", "Chongzuo"),
}

# Guangxi's counties of the Yunnan-Guangxi-Guizhou rocky-desertification contiguous
# poverty area (滇桂黔石漠化片区), 29 of them; codes as of 2020.
COUNTIES = (
    County("450123", "隆安县", "Long'an County", 107.70, 23.17),
    County("450124", "马山县", "Mashan County", 108.18, 23.71),
    County("450125", "上林县", "Shanglin County", 108.62, 23.42),
    County("450224", "融安县", "Rong'an County", 109.42, 25.22),
    County("450225", "融水苗族自治县", "Rongshui Miao Autonomous County", 108.95, 25.32),
    County("450226", "三江侗族自治县", "Sanjiang Dong Autonomous County", 109.45, 25.80),
    County(
        "450328",
        "龙胜各族自治县",
        "Longsheng Various Nationalities Autonomous County",
        110.00,
        25.85,
    ),
    County("450329", "资源县", "Ziyuan County", 110.55, 26.05),
    County("451003", "田阳区", "Tianyang District", 106.85, 23.85),
    County("451022", "田东县", "Tiandong County", 107.15, 23.60),
    County("451024", "德保县", "Debao County", 106.60, 23.35),
    County("451026", "那坡县", "Napo County", 105.85, 23.30),
    County("451027", "凌云县", "Lingyun County", 106.55, 24.35),
    County("451028", "乐业县", "Leye County", 106.55, 24.80),
    County("451029", "田林县", "Tianlin County", 106.10, 24.30),
    County("451030", "西林县", "Xilin County", 105.10, 24.45),
    County(
        "451031",
        "隆林各族自治县",
        "Longlin Various Nationalities Autonomous County",
        105.40,
        24.75,
    ),
    County("451081", "靖西市", "Jingxi City", 106.30, 23.10),
    County("451222", "天峨县", "Tian'e County", 107.15, 25.05),
    County("451223", "凤山县", "Fengshan County", 107.00, 24.55),
    County("451224", "东兰县", "Donglan County", 107.40, 24.50),
    County("451225", "罗城仫佬族自治县", "Luocheng Mulao Autonomous County", 108.85, 24.85),
    County("451226", "环江毛南族自治县", "Huanjiang Maonan Autonomous County", 108.30, 25.00),
    County("451227", "巴马瑶族自治县", "Bama Yao Autonomous County", 107.25, 24.12),
    County("451228", "都安瑶族自治县", "Du'an Yao Autonomous County", 108.10, 24.00),
    County("451229", "大化瑶族自治县", "Dahua Yao Autonomous County", 107.70, 23.75),
    County("451321", "忻城县", "Xincheng County", 108.65, 24.05),
    County("451424", "大新县", "Daxin County", 107.25, 22.80),
    County("451425", "天等县", "Tiandeng County", 107.05, 23.12),
)

# Place-name syllables and their pinyin; township names are two of them plus 镇 or 乡.
SYLLABLES = tuple(
    tuple(pair.split(":"))
    for pair in (
        "龙:long 安:an 平:ping 山:shan 石:shi 江:jiang 河:he 水:shui 田:tian 林:lin 桥:qiao "
        "坡:po 岭:ling 洞:dong 那:na 板:ban 百:bai 都:du 德:de 东:dong 西:xi 南:nan 北:bei "
        "新:xin 永:yong 和:he 乐:le 福:fu 兴:xing 隆:long 坪:ping 头:tou 口:kou 六:liu 甘:gan "
        "雅:ya 弄:nong 果:guo 化:hua 古:gu 寨:zhai 思:si 城:cheng 怀:huai 良:liang 朝:chao "
        "阳:yang 明:ming 清:qing 民:min 合:he 大:da 上:shang 下:xia 中:zhong 高:gao 马:ma "
        "金:jin 玉:yu 元:yuan 宁:ning 昌:chang 凤:feng 云:yun 峒:dong 桐:tong 榜:bang 坤:kun "
        "驮:tuo 巴:ba 燕:yan 英:ying 鹤:he 松:song 梅:mei 竹:zhu 溪:xi 塘:tang 圩:xu 桂:gui "
        "文:wen 武:wu 华:hua 丰:feng 仁:ren 义:yi 瑶:yao 苗:miao 红:hong 青:qing 白:bai 花:hua"
    ).split()
)


def generate_demo_registry(seed: int = DEFAULT_SEED, out_dir: Path | None = None) -> list[Path]:
    """Write the demo registry for ``seed`` into ``out_dir`` (default: the bundled one).

    Returns the written paths. Example: ``generate_demo_registry(seed=7, out_dir=Path("/tmp/r"))``.
    """
    out = Path(out_dir) if out_dir is not None else DEMO_DIR
    out.mkdir(parents=True, exist_ok=True)
    registry = build_demo_registry(seed)
    return [
        _write_text(out / "README.txt", _readme(seed)),
        _write_text(out / "registry.json", _manifest(seed)),
        _write_csv(out / "counties.csv", registry.counties()),
        _write_csv(out / "townships.csv", registry.townships),
        _write_text(out / "boundaries.geojson", _geojson(registry.boundaries, seed)),
        _write_csv(out / "targets.csv", registry.targets),
    ]


def build_demo_registry(seed: int = DEFAULT_SEED) -> Registry:
    """The demo registry for ``seed``, in memory, through the same validation as any registry."""
    outlines = _county_outlines(seed)
    townships: list[dict[str, str]] = []
    geometries: list[Polygon | MultiPolygon] = []
    for index, county in enumerate(COUNTIES):
        rng = np.random.default_rng([seed, 1, index])
        cells = _tile(outlines[county.code], int(rng.integers(5, 13)), rng)
        for (code, name_zh, name_en), cell in zip(
            _names(county, len(cells), rng), cells, strict=True
        ):
            townships.append(
                {"township_code": code, "township_name_zh": name_zh, "township_name_en": name_en}
                | _county_record(county)
            )
            geometries.append(shapely.transform(cell, lambda xy: xy / GRID))
    table = pd.DataFrame(townships, columns=list(TOWNSHIP_COLUMNS))
    order = table["township_code"].argsort(kind="stable").to_numpy()
    table = table.iloc[order].reset_index(drop=True)
    boundaries = gpd.GeoDataFrame(
        {"township_code": table["township_code"]},
        geometry=[shapely.orient_polygons(geometries[i]) for i in order],
        crs=CRS,
    )
    counties = pd.DataFrame([_county_record(c) for c in COUNTIES], columns=list(COUNTY_COLUMNS))
    return validate_registry(
        table, boundaries, _targets(table["township_code"], seed), counties=counties, synthetic=True
    )


def demo_county_outlines(seed: int = DEFAULT_SEED) -> dict[str, Polygon]:
    """The county polygons (degrees) that the demo's townships tile, by county code."""
    return {
        code: shapely.transform(outline, lambda xy: xy / GRID)
        for code, outline in _county_outlines(seed).items()
    }


def _county_record(county: County) -> dict[str, str]:
    prefecture = county.code[:4] + "00"
    name_zh, name_en = PREFECTURES[prefecture]
    return {
        "county_code": county.code,
        "county_name_zh": county.name_zh,
        "county_name_en": county.name_en,
        "prefecture_code": prefecture,
        "prefecture_name_zh": name_zh,
        "prefecture_name_en": name_en,
    }


def _county_outlines(seed: int) -> dict[str, Polygon]:
    """Wobbly discs around each county centre, cut by the Voronoi cells of the centres."""
    rng = np.random.default_rng([seed, 0])
    centres = np.array([[c.lon, c.lat] for c in COUNTIES]) * GRID
    extent = shapely.box(103 * GRID, 20 * GRID, 114 * GRID, 28 * GRID)
    cells = shapely.voronoi_polygons(shapely.multipoints(centres), extend_to=extent, ordered=True)
    outlines = {}
    for county, centre, cell in zip(COUNTIES, centres, cells.geoms, strict=True):
        disc = _wobbly_disc(centre, rng.uniform(0.24, 0.34) * GRID, rng)
        room = cell.buffer(-COUNTY_GAP / 2 * GRID, join_style="mitre")
        outline = shapely.intersection(disc, room, grid_size=1)
        if not isinstance(outline, Polygon) or not outline.is_valid:
            raise AssertionError(f"county {county.code}: outline is not one valid polygon")
        outlines[county.code] = outline
    return outlines


def _wobbly_disc(centre: np.ndarray, radius: float, rng: np.random.Generator) -> Polygon:
    angles = np.linspace(0, 2 * math.pi, 36, endpoint=False) + rng.uniform(-0.05, 0.05, 36)
    wobble = sum(
        rng.uniform(0, 0.11) * np.sin(k * angles + rng.uniform(0, 2 * math.pi)) for k in range(2, 6)
    )
    r = radius * (1 + wobble)
    return Polygon(
        np.column_stack([centre[0] + r * np.cos(angles), centre[1] + r * np.sin(angles)])
    )


def _tile(outline: Polygon, n: int, rng: np.random.Generator) -> list[Polygon | MultiPolygon]:
    """Split ``outline`` into ``n`` Voronoi cells that share their edges exactly.

    The outline and the Voronoi edges (extended past it) are noded together and
    polygonized; each face inside goes to its nearest seed. Cells come north to south.
    """
    seeds = _spread_points(outline, n, rng)
    seeds = seeds[np.lexsort((seeds[:, 0], -seeds[:, 1]))]
    extent = outline.envelope.buffer(0.05 * GRID)
    edges = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=extent, only_edges=True)
    lines = shapely.union_all([outline.boundary, edges])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    faces = faces[shapely.contains(outline, shapely.point_on_surface(faces))]
    points = shapely.get_coordinates(shapely.point_on_surface(faces))
    owner = np.argmin(((points[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2), axis=1)
    cells = [shapely.coverage_union_all(faces[owner == i]) for i in range(len(seeds))]
    total = sum(cell.area for cell in cells)
    if any(cell.is_empty for cell in cells) or abs(total - outline.area) > 1e-12 * outline.area:
        raise AssertionError("township cells do not tile their county")
    return cells


def _spread_points(outline: Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` grid points inside ``outline``, kept apart so that no township is tiny."""
    min_x, min_y, max_x, max_y = outline.bounds
    spacing = 0.7 * math.sqrt(outline.area / n)
    shapely.prepare(outline)
    points: list[tuple[float, float]] = []
    while len(points) < n:
        for _ in range(200):
            x, y = np.rint(rng.uniform((min_x, min_y), (max_x, max_y)))
            far = all(math.hypot(x - px, y - py) >= spacing for px, py in points)
            if far and shapely.contains_xy(outline, x, y):
                points.append((x, y))
                break
        else:
            spacing *= 0.9
    return np.array(points)


def _names(county: County, n: int, rng: np.random.Generator) -> list[tuple[str, str, str]]:
    """Codes and names for ``n`` townships: towns (镇, codes x101..) and 乡 (x201..) mixed.

    Names are unique within the county in Chinese and in pinyin.
    """
    towns = int(rng.integers(max(1, n // 2), n + 1))
    is_town = rng.permutation([True] * towns + [False] * (n - towns))
    used: set[str] = set()
    names = []
    counters = {True: 100, False: 200}
    for town in map(bool, is_town):
        zh, pinyin = _two_syllables(rng)
        while zh in used or pinyin in used:
            zh, pinyin = _two_syllables(rng)
        used |= {zh, pinyin}
        counters[town] += 1
        suffix_zh, suffix_en = ("镇", "Town") if town else ("乡", "Township")
        names.append((f"{county.code}{counters[town]}", zh + suffix_zh, f"{pinyin} {suffix_en}"))
    return names


def _two_syllables(rng: np.random.Generator) -> tuple[str, str]:
    """A random place name and its pinyin, e.g. ('龙安', "Long'an")."""
    (a_zh, a_py), (b_zh, b_py) = (SYLLABLES[i] for i in rng.choice(len(SYLLABLES), 2, False))
    joint = "'" if b_py[0] in "aeo" else ""
    return a_zh + b_zh, a_py.capitalize() + joint + b_py


def _targets(township_codes: Iterable[str], seed: int) -> pd.DataFrame:
    """Yearly targets: 5k-40k people, ~1.2% births a year, slowly falling."""
    rows = []
    for code in township_codes:
        rng = np.random.default_rng([seed, 2, int(code)])
        population = math.exp(rng.uniform(math.log(5_000), math.log(40_000)))
        growth, birth_rate, decline = rng.uniform(-0.01, 0.005), rng.uniform(0.010, 0.014), 0.0
        fall = rng.uniform(0.01, 0.04)
        for year in YEARS:
            births = round(population * birth_rate * (1 - decline))
            rows.append(
                {
                    "township_code": code,
                    "year": str(year),
                    "expected_births": str(births),
                    "children_under_1": str(round(births * rng.uniform(0.96, 0.995))),
                    "children_6_24m": str(round(births * 1.5 * rng.uniform(0.97, 1.03))),
                    "children_under_5": str(round(births * 5 * rng.uniform(0.97, 1.05))),
                }
            )
            population *= 1 + growth
            decline = 1 - (1 - decline) * (1 - fall)
    return pd.DataFrame(rows, columns=["township_code", "year", *TARGET_COLUMNS])


def _geojson(boundaries: gpd.GeoDataFrame, seed: int) -> str:
    """A GeoJSON FeatureCollection, one feature a line, with a CRS84 ``crs`` member."""
    header = {
        "type": "FeatureCollection",
        "name": NAME,
        "synthetic": True,
        "seed": seed,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    }
    features = [
        json.dumps(
            {
                "type": "Feature",
                "properties": {"township_code": code},
                "geometry": shapely.geometry.mapping(geom),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for code, geom in zip(boundaries["township_code"], boundaries.geometry, strict=True)
    ]
    opening = json.dumps(header, ensure_ascii=False, separators=(",", ":"))[:-1]
    return opening + ',"features":[\n' + ",\n".join(features) + "\n]}\n"


def _manifest(seed: int) -> str:
    manifest = {
        "name": NAME,
        "synthetic": True,
        "seed": seed,
        "crs": CRS,
        "years": [YEARS.start, YEARS.stop - 1],
        "generator": f"python -m forms.registry generate --seed {seed}",
    }
    return json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"


def _readme(seed: int) -> str:
    return f"""SYNTHETIC DEMO REGISTRY - NOT REAL DATA
{NAME}

Generated by `python -m forms.registry generate --seed {seed}` (do not edit by hand).
The 29 counties, their codes and prefectures follow Guangxi's counties of the
Yunnan-Guangxi-Guizhou rocky-desertification poverty area; their polygons are rough
synthetic shapes near the real places. Every township (name, code, boundary) and every
target population is invented. Replace this directory with the official registry
(set CRADLE_REGISTRY_DIR) before real use; check it with `cradle registry check DIR`.

Files (UTF-8, codes are text):
  registry.json       name, synthetic flag, seed, CRS
  counties.csv        county_code, county_name_zh, county_name_en, prefecture_code,
                      prefecture_name_zh, prefecture_name_en
  townships.csv       township_code, township_name_zh, township_name_en + county columns
  boundaries.geojson  township polygons keyed by township_code, EPSG:4326 (lon/lat)
  targets.csv         township_code, year, expected_births, children_under_1,
                      children_6_24m, children_under_5
Codes: county 6 digits (GB/T 2260), township 9 digits = county code + 1xx (镇, town)
or 2xx (乡, township).
"""


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


def _write_csv(path: Path, frame: pd.DataFrame) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(frame.columns)
        writer.writerows(frame.astype(str).itertuples(index=False))
    return path
