"""The validated township registry, its column names and its one error type."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import pandas as pd

CRS = "EPSG:4326"

COUNTY_COLUMNS: tuple[str, ...] = (
    "county_code",
    "county_name_zh",
    "county_name_en",
    "prefecture_code",
    "prefecture_name_zh",
    "prefecture_name_en",
)
TOWNSHIP_COLUMNS: tuple[str, ...] = (
    "township_code",
    "township_name_zh",
    "township_name_en",
    *COUNTY_COLUMNS,
)
TARGET_COLUMNS: tuple[str, ...] = (
    "expected_births",
    "children_under_1",
    "children_6_24m",
    "children_under_5",
)


class RegistryError(ValueError):
    """A registry that cannot be used; the message names file, row or township, and problem.

    ``problems`` lists every problem found in the file that failed (the message shows the
    first one and how many more there are).
    """

    def __init__(self, problems: str | list[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        super().__init__(self.problems[0] + suffix)


@dataclass(frozen=True, eq=False)
class Registry:
    """Townships with their county and prefecture, boundaries and yearly target populations.

    Built only by ``validate_registry``; treat the frames as read-only (the loaded registry
    is cached and shared).

    - ``townships``: one row per township, ``TOWNSHIP_COLUMNS`` (all ``str``), in file order.
    - ``boundaries``: ``township_code`` and ``geometry`` (Polygon/MultiPolygon), EPSG:4326,
      in the order of ``townships``.
    - ``targets``: ``township_code`` (str), ``year`` (int) and the ``TARGET_COLUMNS`` as
      nullable ``Int64`` (a blank cell in the file is ``<NA>``: no target).
    """

    townships: pd.DataFrame
    boundaries: gpd.GeoDataFrame
    targets: pd.DataFrame
    synthetic: bool = False
    source: Path | None = None

    def counties(self) -> pd.DataFrame:
        """One row per county (``COUNTY_COLUMNS``), sorted by ``county_code``."""
        counties = self.townships.loc[:, list(COUNTY_COLUMNS)].drop_duplicates("county_code")
        return counties.sort_values("county_code").reset_index(drop=True)

    def township_codes(self) -> frozenset[str]:
        """All township codes."""
        return frozenset(self._county_by_township)

    def has_township(self, township_code: str) -> bool:
        """Whether the registry knows this township code."""
        return township_code in self._county_by_township

    def county_of(self, township_code: str) -> str | None:
        """The county code of a township, or None for an unknown township."""
        return self._county_by_township.get(township_code)

    def target(self, township_code: str, year: int, column: str) -> int | None:
        """A township's target population for a year, or None where the registry has none.

        ``column`` is one of ``TARGET_COLUMNS``, e.g. ``target("451024101", 2025,
        "expected_births")``.
        """
        if column not in TARGET_COLUMNS:
            known = ", ".join(TARGET_COLUMNS)
            raise RegistryError(f"unknown target column {column!r}; known: {known}")
        value = self._targets_by_key.get((township_code, int(year)), {}).get(column)
        return None if value is None or pd.isna(value) else int(value)

    def county_boundaries(self) -> gpd.GeoDataFrame:
        """County polygons dissolved from their townships, with ``COUNTY_COLUMNS``."""
        return self._county_boundaries.copy()

    @cached_property
    def _county_by_township(self) -> dict[str, str]:
        return dict(
            zip(self.townships["township_code"], self.townships["county_code"], strict=True)
        )

    @cached_property
    def _targets_by_key(self) -> dict[tuple[str, int], dict[str, object]]:
        return {
            (row["township_code"], int(row["year"])): {c: row[c] for c in TARGET_COLUMNS}
            for row in self.targets.to_dict("records")
        }

    @cached_property
    def _county_boundaries(self) -> gpd.GeoDataFrame:
        with_county = self.boundaries.assign(
            county_code=self.boundaries["township_code"].map(self._county_by_township)
        )
        dissolved = with_county.dissolve(by="county_code", as_index=False)[
            ["county_code", "geometry"]
        ]
        counties = self.counties().merge(dissolved, on="county_code", how="left", validate="1:1")
        return gpd.GeoDataFrame(counties, geometry="geometry", crs=self.boundaries.crs)
