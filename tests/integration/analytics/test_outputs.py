"""Outputs of a report read from the real server: the workbook, the maps, GeoJSON, CSV, JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image
from openpyxl import load_workbook

from analytics import columns as C
from analytics.outputs import render
from analytics.service import CoverageReport, coverage_report
from analytics.source import CouchSource
from server.accounts.scope import Scope
from sync.couch import CouchClient

COUNTIES = ("450123", "450124", "450125")


@pytest.fixture
def report(
    couch: CouchClient, loaded: tuple[str, list[dict], list[dict]], cache_root: Path
) -> CoverageReport:
    prefix, _, _ = loaded
    full = coverage_report(
        period="2026-Q3",
        scope=Scope("analyst", None),
        source=CouchSource(couch, prefix, cache_root),
    )
    # Keep the outputs small: the three counties of the dataset.
    keep = full.table[C.COUNTY].isin(COUNTIES) | (full.table[C.LEVEL] == "programme")
    quality = full.quality[
        full.quality[C.COUNTY].isin(COUNTIES) | (full.quality[C.LEVEL] == "programme")
    ]
    return CoverageReport(
        full.period,
        full.table[keep].reset_index(drop=True),
        quality.reset_index(drop=True),
        full.indicators,
        full.config,
        full.registry,
        full.townships,
        None,
    )


def test_workbook_is_made_for_people(report: CoverageReport) -> None:
    ((name, body),) = render(report, "xlsx").items()
    assert name == "coverage-2026-Q3.xlsx"
    wb = load_workbook(io.BytesIO(body))
    assert wb.sheetnames == [
        "免疫接种 Immunization",
        "营养包 Nutrition",
        "新生儿 Newborn",
        "生长与贫血 Growth",
        "数据质量 Data quality",
        "明细 Detail",
        "定义 Definitions",
    ]
    ws = wb["免疫接种 Immunization"]
    assert ws.freeze_panes == "E4"
    assert ws["A2"].value == "层级\nLevel"
    assert ws["E2"].value.startswith(
        "乙肝疫苗 第1剂接种率\nHepatitis B, dose 1 coverage\n目标 Target ≥ 95%"
    )
    assert (ws["E3"].value, ws["F3"].value, ws["G3"].value) == (
        "分子\nNum.",
        "分母\nDenom.",
        "比率\nRate",
    )
    assert ws["A4"].value == "全部 All"
    rates = [
        ws.cell(row=r, column=7) for r in range(4, ws.max_row) if ws.cell(row=r, column=1).value
    ]
    assert all(c.number_format == "0.0%" for c in rates)
    missed = [c for c in rates if isinstance(c.value, float) and c.value < 0.95]
    assert missed and all(c.fill.fgColor.rgb.endswith("FFC7CE") for c in missed)
    met = [c for c in rates if isinstance(c.value, float) and c.value >= 0.95]
    assert all(not c.fill.fgColor.rgb.endswith("FFC7CE") for c in met)
    empty = [
        r
        for r in range(4, ws.max_row)
        if ws.cell(row=r, column=5).value == 0 and ws.cell(row=r, column=6).value == 0
    ]
    assert empty  # the township without data is listed, blank and grey
    assert ws.cell(row=empty[0], column=7).value is None

    quality = wb["数据质量 Data quality"]
    headers = [c.value for c in quality[2]]
    assert "接收\nAccepted" in headers and "拒收\nRejected" in headers
    assert quality.freeze_panes == "A3"
    definitions = wb["定义 Definitions"]
    ids = [definitions.cell(row=r, column=1).value for r in range(3, 3 + len(report.indicators))]
    assert ids == [i.id for i in report.indicators]
    assert definitions.cell(row=3, column=5).value  # the Chinese definition
    detail = wb["明细 Detail"]
    assert detail.max_row == len(report.table) + 2


def test_maps_render_and_are_not_blank(report: CoverageReport, tmp_path: Path) -> None:
    chosen = [i for i in report.indicators if i.id in ("imm_hepb3", "stunting", "low_birth_weight")]
    small = CoverageReport(
        report.period,
        report.table,
        report.quality,
        tuple(chosen),
        report.config,
        report.registry,
        report.townships,
        None,
    )
    files = render(small, "png")
    assert sorted(files) == [
        "map-2026-Q3-imm_hepb3.png",
        "map-2026-Q3-low_birth_weight.png",
        "map-2026-Q3-stunting.png",
    ]
    for body in files.values():
        assert body[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = image.imread(io.BytesIO(body), format="png")
        height, width = pixels.shape[:2]
        assert width >= 1500 and height >= 1000
        rgb = (pixels[::3, ::3, :3] * 255).astype(np.int64)
        colours = np.unique(rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2])
        assert len(colours) > 50  # fills, hatching, text: not blank
        white = (pixels[..., :3] > 0.98).all(axis=-1).mean()
        assert white < 0.9
    (tmp_path / "map.png").write_bytes(files["map-2026-Q3-imm_hepb3.png"])


def test_geojson_csv_and_json(report: CoverageReport) -> None:
    ((_, body),) = render(report, "geojson").items()
    features = json.loads(body)["features"]
    towns = report.table.loc[report.table[C.LEVEL] == "township"]
    assert len(features) == towns[C.TOWNSHIP].nunique()
    props = features[0]["properties"]
    assert {"township_code", "township_name_zh", "imm_hepb3_rate", "stunting_denominator"} <= set(
        props
    )
    assert features[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")

    files = render(report, "csv")
    table = pd.read_csv(
        io.BytesIO(files["coverage-2026-Q3.csv"]),
        encoding="utf-8-sig",
        dtype={C.TOWNSHIP: str, C.COUNTY: str},
    )
    assert list(table.columns) == list(C.RESULT_COLUMNS) and len(table) == len(report.table)
    assert "quality-2026-Q3.csv" in files

    ((_, body),) = render(report, "json").items()
    data = json.loads(body)
    assert data["period"] == {"label": "2026-Q3", "start": "2026-07-01", "end": "2026-09-30"}
    assert len(data["results"]) == len(report.table)
    assert {"indicator", "name_zh", "definition_en", "target"} <= set(data["indicators"][0])
