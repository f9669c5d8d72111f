"""Renderings of a coverage report: CSV, JSON, GeoJSON, XLSX and PNG maps.

>>> sorted(FORMATS)
['csv', 'geojson', 'json', 'png', 'xlsx']
"""

from __future__ import annotations

import os
from pathlib import Path

from analytics.errors import AnalyticsError

FORMATS = ("csv", "json", "geojson", "xlsx", "png")


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)


def render(report: object, fmt: str) -> dict[str, bytes]:
    """File name → bytes for one format of a `analytics.service.CoverageReport`."""
    from analytics.service import CoverageReport

    if not isinstance(report, CoverageReport):
        raise TypeError("render() needs a CoverageReport")
    stem = _safe(report.period.label) + (f"-{report.county}" if report.county else "")
    if fmt == "csv":
        from analytics.outputs.tables import to_csv

        return {
            f"coverage-{stem}.csv": to_csv(report.table),
            f"quality-{stem}.csv": to_csv(report.quality),
        }
    if fmt == "json":
        from analytics.outputs.tables import to_json

        body = to_json(
            period=report.period,
            table=report.table,
            quality=report.quality,
            indicators=report.indicators,
        )
        return {f"coverage-{stem}.json": body}
    if fmt == "geojson":
        from analytics.outputs.geojson import to_geojson

        return {f"coverage-{stem}.geojson": to_geojson(report.table, report.registry.boundaries)}
    if fmt == "xlsx":
        from analytics.outputs.xlsx import to_xlsx

        body = to_xlsx(
            period=report.period,
            table=report.table,
            quality=report.quality,
            indicators=report.indicators,
            config=report.config,
        )
        return {f"coverage-{stem}.xlsx": body}
    if fmt == "png":
        from analytics.outputs.maps import render_maps

        maps = render_maps(
            table=report.table,
            indicators=report.indicators,
            period=report.period,
            boundaries=report.registry.boundaries,
            county_boundaries=report.registry.county_boundaries(),
            synthetic=report.registry.synthetic,
        )
        return {f"map-{stem}-{indicator}.png": body for indicator, body in maps.items()}
    raise AnalyticsError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def write(files: dict[str, bytes], directory: Path) -> list[Path]:
    """Write each file atomically (temporary file, then rename) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in files.items():
        final = directory / name
        temporary = directory / f".{name}.tmp"
        temporary.write_bytes(body)
        os.replace(temporary, final)
        written.append(final)
    return written
