"""GeoJSON of the townships with their rates, for GIS users (one feature per township).

Properties: township and county codes and names, the period, and for each indicator
`<id>_numerator`, `<id>_denominator`, `<id>_rate`, `<id>_target_denominator`, `<id>_met`
and `<id>_no_data`. Coordinates in EPSG:4326 (longitude, latitude).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from analytics import columns as C

PER_INDICATOR = (
    C.NUMERATOR,
    C.DENOMINATOR,
    C.RATE,
    C.TARGET_DENOMINATOR,
    C.MET,
    C.NO_DATA,
)

_TYPES = {
    C.NUMERATOR: "Int64",
    C.DENOMINATOR: "Int64",
    C.RATE: "float64",
    C.TARGET_DENOMINATOR: "float64",
    C.MET: "boolean",
    C.NO_DATA: "boolean",
}


def townships_with_rates(table: pd.DataFrame, boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Township polygons joined with the township rows of `table`, wide by indicator.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> shapes = gpd.GeoDataFrame({"township_code": ["450123101"]},
    ...                           geometry=[box(107, 23, 107.1, 23.1)], crs="EPSG:4326")
    >>> rows = pd.DataFrame({"level": ["township"], "township_code": ["450123101"],
    ...     "township_name_zh": ["甲"], "township_name_en": ["A"], "county_code": ["450123"],
    ...     "county_name_zh": ["县"], "county_name_en": ["C"], "period": ["2026-Q3"],
    ...     "indicator": ["stunting"], "numerator": [1], "denominator": [10], "rate": [0.1],
    ...     "target_denominator": [None], "met": [False], "no_data": [False]})
    >>> float(townships_with_rates(rows, shapes).loc[0, "stunting_rate"])
    0.1
    """
    C.require(table, (C.LEVEL, C.TOWNSHIP, C.INDICATOR, *PER_INDICATOR), "table")
    towns = table.loc[table[C.LEVEL] == "township"]
    wide = towns.pivot(index=C.TOWNSHIP, columns=C.INDICATOR, values=list(PER_INDICATOR))
    order = list(dict.fromkeys(towns[C.INDICATOR]))
    columns = {}
    for indicator in order:
        for field in PER_INDICATOR:
            values = wide[(field, indicator)].astype(_TYPES[field])
            columns[f"{indicator}_{field}"] = values
    wide_frame = pd.DataFrame(columns)
    names = [
        c
        for c in (
            C.TOWNSHIP,
            C.TOWNSHIP_NAME_ZH,
            C.TOWNSHIP_NAME_EN,
            C.COUNTY,
            C.COUNTY_NAME_ZH,
            C.COUNTY_NAME_EN,
            C.PERIOD,
        )
        if c in towns
    ]
    info = towns[names].drop_duplicates(C.TOWNSHIP).set_index(C.TOWNSHIP)
    joined = info.join(wide_frame).reset_index()
    shapes = boundaries[[C.TOWNSHIP, "geometry"]].merge(joined, on=C.TOWNSHIP, how="inner")
    return gpd.GeoDataFrame(shapes, geometry="geometry", crs=boundaries.crs).to_crs("EPSG:4326")


def to_geojson(table: pd.DataFrame, boundaries: gpd.GeoDataFrame) -> bytes:
    """The FeatureCollection as UTF-8 bytes."""
    frame = townships_with_rates(table, boundaries)
    return frame.to_json(na="null", drop_id=True, ensure_ascii=False).encode("utf-8")
