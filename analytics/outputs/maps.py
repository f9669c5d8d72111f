"""Choropleth maps: one PNG per indicator, townships coloured by rate.

The target is the class break between colours that miss it (reds) and the colour that
meets it (green); indicators without a target use a neutral blue scale. Townships without
data are hatched, rates over small denominators are marked with a dot, county borders are
drawn over the townships and labelled. The title says, in Chinese and English, which
indicator and period; a legend, scale bar and north arrow make it readable on paper.
"""

from __future__ import annotations

import io
import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib import font_manager, patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Patch, Rectangle

from analytics import columns as C
from analytics.config import Indicator
from analytics.outputs.labels import percent, target_text
from analytics.periods import Period

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Noto Sans CJK JP",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
MISS_COLOURS = ("#b2182b", "#ef8a62", "#fddbc7")  # far below → just below the target
MET_COLOUR = "#1a9850"
NEUTRAL = ("#deebf7", "#9ecae1", "#4292c6", "#08519c")
NO_DATA_EDGE = "#9a9a9a"
TOWNSHIP_LABELS = 40  # at most this many townships: each is named, with its rate
HALO = [patheffects.withStroke(linewidth=2.4, foreground="white")]


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """A font family that has Chinese glyphs, registering one from fontconfig if needed."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    try:
        listing = subprocess.run(
            ["fc-list", ":lang=zh", "file"],  # noqa: S607 - fontconfig's own tool
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        listing = ""
    paths = sorted(
        (line.split(":")[0].strip() for line in listing.splitlines() if line.strip()),
        key=lambda p: ("Sans" not in p, "Bold" in p, p),
    )
    if any("Sans" in p for p in paths):
        paths = [p for p in paths if "Sans" in p]
    family = None
    for path in paths:
        try:
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
        if family is None:
            family = name
    if family is not None:
        return family
    log.warning("no font with Chinese glyphs found: map titles will be in English only")
    return None


@dataclass(frozen=True)
class Classes:
    """Class edges (ascending), colours and labels of a map."""

    edges: tuple[float, ...]
    colours: tuple[str, ...]
    labels: tuple[str, ...]
    ceiling: bool = False  # for a ceiling, a rate equal to the target meets it

    def assign(self, rates: np.ndarray) -> np.ndarray:
        """Class index per rate (-1 for NaN)."""
        inner = np.asarray(self.edges[1:-1], dtype=float)
        out = np.searchsorted(inner, rates, side="left" if self.ceiling else "right")
        return np.where(np.isnan(rates), -1, out)


def classes_for(indicator: Indicator, rates: np.ndarray, *, chinese: bool = True) -> Classes:
    """Class breaks with the target as a break (or neutral quartiles without a target).

    >>> from analytics.config import load_config
    >>> classes_for(load_config().indicator("imm_bcg"), np.array([0.9])).edges
    (0.0, 0.75, 0.85, 0.95, 1.0)
    """
    met_word = "达标 met" if chinese else "met"
    t = indicator.target
    if t is not None and indicator.direction == ">=":
        edges = (0.0, max(t - 0.2, 0.0), max(t - 0.1, 0.0), t, 1.0)
        edges = tuple(sorted(set(edges)))
        colours = (*MISS_COLOURS[-(len(edges) - 2) :], MET_COLOUR)
        labels = (
            *(f"{percent(lo)}–{percent(hi)}" for lo, hi in pairwise(edges[:-1])),
            f"≥ {percent(t)} {met_word}",
        )
        return Classes(edges, colours, labels)
    if t is not None:
        edges = (0.0, t, 1.5 * t, 2 * t, 1.0)
        colours = (MET_COLOUR, *reversed(MISS_COLOURS))
        labels = (
            f"≤ {percent(t)} {met_word}",
            f"{percent(t)}–{percent(1.5 * t, 1)}",
            f"{percent(1.5 * t, 1)}–{percent(2 * t)}",
            f"> {percent(2 * t)}",
        )
        return Classes(edges, colours, labels, ceiling=True)
    finite = rates[np.isfinite(rates)]
    inner = np.array([0.25, 0.5, 0.75])
    if len(finite) >= 4 and finite.max() > finite.min():
        quartiles = np.unique(np.round(np.quantile(finite, [0.25, 0.5, 0.75]), 2))
        quartiles = quartiles[(quartiles > 0) & (quartiles < 1)]
        if len(quartiles):
            inner = quartiles
    edges = (0.0, *[float(x) for x in inner], 1.0)
    labels = tuple(f"{percent(lo)}–{percent(hi)}" for lo, hi in pairwise(edges))
    return Classes(edges, NEUTRAL[-len(labels) :], labels)


def _local_crs(frame: gpd.GeoDataFrame) -> str:
    lon = float(frame.to_crs("EPSG:4326").geometry.union_all().centroid.x)
    return f"+proj=tmerc +lon_0={lon:.3f} +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"


def _nice_length(span_m: float) -> float:
    target = span_m / 5
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if step * 1000 >= target:
            return step * 1000.0
    return 1_000_000.0


def _scale_bar(ax: Axes, font: dict) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    left, bottom = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    height = 0.012 * (y1 - y0)
    for k in range(2):
        ax.add_patch(
            Rectangle(
                (left + k * length / 2, bottom),
                length / 2,
                height,
                facecolor="black" if k == 0 else "white",
                edgecolor="black",
                linewidth=0.8,
                zorder=6,
            )
        )
    for k, text in ((0, "0"), (1, f"{length / 2000:g}"), (2, f"{length / 1000:g} km")):
        ax.text(
            left + k * length / 2,
            bottom + 2.2 * height,
            text,
            ha="center",
            va="bottom",
            fontsize=8,
            zorder=6,
            **font,
        )


def _north_arrow(fig: Figure, x: float, y: float, font: dict) -> None:
    fig.patches.append(
        FancyArrow(
            x,
            y,
            0,
            0.06,
            width=0.008,
            head_width=0.024,
            head_length=0.03,
            transform=fig.transFigure,
            color="black",
            figure=fig,
        )
    )
    fig.text(x, y - 0.01, "N 北", ha="center", va="top", fontsize=10, fontweight="bold", **font)


def render_map(
    *,
    table: pd.DataFrame,
    indicator: Indicator,
    period: Period,
    boundaries: gpd.GeoDataFrame,
    county_boundaries: gpd.GeoDataFrame | None = None,
    synthetic: bool = False,
    dpi: int = 150,
) -> bytes:
    """A PNG choropleth of one indicator's township rates (see the module docstring).

    Parameters
    ----------
    table
        The result table (`analytics.indicators.summarise`); township rows are drawn.
    boundaries
        Township polygons keyed by `township_code` (any CRS); only those in `table` drawn.
    county_boundaries
        County polygons keyed by `county_code`, drawn as borders and labelled.
    synthetic
        Say on the map that the registry is a synthetic demo.
    """
    C.require(table, (C.LEVEL, C.TOWNSHIP, C.INDICATOR, C.RATE, C.NO_DATA), "table")
    rows = table.loc[(table[C.INDICATOR] == indicator.id)]
    towns = rows.loc[rows[C.LEVEL] == "township"]
    shapes = boundaries[[C.TOWNSHIP, "geometry"]].merge(towns, on=C.TOWNSHIP, how="inner")
    if shapes.empty:
        raise ValueError(f"no township of the table has a boundary for {indicator.id}")
    shapes = gpd.GeoDataFrame(shapes, geometry="geometry", crs=boundaries.crs)
    crs = _local_crs(shapes)
    shapes = shapes.to_crs(crs)
    family = cjk_font()
    font = {"fontfamily": family} if family else {}
    chinese = family is not None

    rates = shapes[C.RATE].to_numpy(dtype=float)
    no_data = shapes[C.NO_DATA].to_numpy(dtype=bool) | np.isnan(rates)
    classes = classes_for(indicator, rates, chinese=chinese)
    which = classes.assign(np.where(no_data, np.nan, rates))

    # A figure of its own, not pyplot's: nothing global (several threads may draw at once),
    # and no canvas that redraws the whole figure after each layer geopandas adds.
    fig = Figure(figsize=(12.5, 8.6), dpi=dpi)
    ax = fig.add_axes((0.01, 0.07, 0.72, 0.78))
    colours = np.array(classes.colours, dtype=object)
    fill = np.where(which >= 0, colours[np.maximum(which, 0)], "white")
    if (~no_data).any():
        shapes.loc[~no_data].plot(
            ax=ax, color=list(fill[~no_data]), edgecolor="white", linewidth=0.4, zorder=2
        )
    if no_data.any():
        shapes.loc[no_data].plot(
            ax=ax,
            facecolor="white",
            edgecolor=NO_DATA_EDGE,
            hatch="////",
            linewidth=0.4,
            zorder=2,
        )
    labelled = len(shapes) <= TOWNSHIP_LABELS
    small = shapes[C.SMALL_DENOMINATOR].to_numpy(dtype=bool) & ~no_data & (not labelled)
    if small.any():
        points = shapes.loc[small].geometry.representative_point()
        ax.scatter(points.x, points.y, s=6, color="#333333", zorder=4, linewidths=0)
    if county_boundaries is not None and len(county_boundaries):
        counties = county_boundaries.loc[county_boundaries[C.COUNTY].isin(set(towns[C.COUNTY]))]
        counties = counties.to_crs(crs)
        counties.boundary.plot(ax=ax, color="#252525", linewidth=1.1, zorder=5)
        name_column = C.COUNTY_NAME_ZH if chinese else C.COUNTY_NAME_EN
        if name_column in counties and len(shapes) > TOWNSHIP_LABELS and len(counties) <= 40:
            for point, name in zip(
                counties.geometry.representative_point(), counties[name_column], strict=True
            ):
                ax.annotate(
                    str(name),
                    (point.x, point.y),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="#111111",
                    zorder=7,
                    path_effects=HALO,
                    **font,
                )
    name_column = C.TOWNSHIP_NAME_ZH if chinese else C.TOWNSHIP_NAME_EN
    if len(shapes) <= TOWNSHIP_LABELS and name_column in shapes:
        # Few townships: name each one and print its rate, so the map reads on its own.
        points = shapes.geometry.representative_point()
        denominators = shapes[C.DENOMINATOR].to_numpy()
        for point, name, rate, n in zip(
            points, shapes[name_column], rates, denominators, strict=True
        ):
            value = f"{percent(rate, 1)} (n={n})" if rate == rate else "—"
            ax.annotate(
                f"{name}\n{value}",
                (point.x, point.y),
                ha="center",
                va="center",
                fontsize=9.5 if len(shapes) <= 12 else 7.5,
                color="#111111",
                zorder=7,
                path_effects=HALO,
                linespacing=1.25,
                **font,
            )
    ax.set_axis_off()
    ax.set_aspect("equal")
    minx, miny, maxx, maxy = shapes.total_bounds
    pad = 0.04 * max(maxx - minx, maxy - miny)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad * 2.5, maxy + pad)
    _scale_bar(ax, font)
    _north_arrow(fig, 0.80, 0.74, font)

    counts = np.bincount(which[which >= 0], minlength=len(classes.labels))
    handles = [
        Patch(facecolor=c, edgecolor="#666666", label=f"{label}  ({n})")
        for c, label, n in zip(classes.colours, classes.labels, counts, strict=True)
    ]
    handles.append(
        Patch(
            facecolor="white",
            edgecolor=NO_DATA_EDGE,
            hatch="////",
            label=f"{'无数据 ' if chinese else ''}No data  ({int(no_data.sum())})",
        )
    )
    if small.any():
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                color="#333333",
                markersize=3,
                label=f"{'分母<20 ' if chinese else ''}denominator < 20",
            )
        )
    legend_title = "比率 Rate" if chinese else "Rate"
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.745, 0.68),
        title=legend_title,
        frameon=True,
        framealpha=0.92,
        prop={"family": family, "size": 10} if family else {"size": 10},
        title_fontproperties={"family": family, "size": 11, "weight": "bold"}
        if family
        else {"size": 11},
    )

    total = rows.loc[rows[C.LEVEL] == "programme"]
    when = f"{period.label}  ({period.start.isoformat()} – {period.end.isoformat()})"
    name = f"{indicator.name_zh} · {indicator.name_en}" if chinese else indicator.name_en
    target = target_text(indicator.target, indicator.direction)
    goal = (
        (f"目标 Target {target}" if chinese else f"Target {target}")
        if target
        else ("无固定目标 No fixed target" if chinese else "No fixed target")
    )
    fig.text(0.5, 0.955, name, ha="center", va="center", fontsize=15, fontweight="bold", **font)
    fig.text(0.5, 0.918, f"{when} · {goal}", ha="center", va="center", fontsize=10.5, **font)
    if len(total):
        t = total.iloc[0]
        met = towns[C.MET].astype("boolean")
        judged = int(met.notna().sum())
        summary = (
            f"{'合计 ' if chinese else ''}Overall {percent(t[C.RATE], 1) or '—'}"
            f" ({int(t[C.NUMERATOR])}/{int(t[C.DENOMINATOR])})"
        )
        if indicator.target is not None:
            summary += (
                f" · {'达标乡镇 ' if chinese else ''}townships meeting target "
                f"{int(met.fillna(False).sum())}/{judged}"
            )
        fig.text(
            0.5, 0.885, summary, ha="center", va="center", fontsize=10, color="#333333", **font
        )
    foot = (
        "分母：登记儿童（按评估日所在乡镇） Denominator: registered children, by township on the "
        "evaluation date"
        if chinese
        else "Denominator: registered children, by township on the evaluation date"
    )
    if synthetic:
        foot += "  ·  " + ("合成演示数据 " if chinese else "") + "SYNTHETIC DEMO REGISTRY"
    fig.text(0.5, 0.03, foot, ha="center", va="center", fontsize=8, color="#555555", **font)
    buffer = io.BytesIO()
    # The fastest zlib level: a tenth of the encoding time for a file about a tenth larger
    # (PNG is lossless: the image is the same).
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def render_maps(
    *,
    table: pd.DataFrame,
    indicators: Sequence[Indicator],
    period: Period,
    boundaries: gpd.GeoDataFrame,
    county_boundaries: gpd.GeoDataFrame | None = None,
    synthetic: bool = False,
) -> dict[str, bytes]:
    """One PNG per indicator, by indicator id."""
    return {
        i.id: render_map(
            table=table,
            indicator=i,
            period=period,
            boundaries=boundaries,
            county_boundaries=county_boundaries,
            synthetic=synthetic,
        )
        for i in indicators
    }
