"""A workbook made for people: one sheet per programme, data quality, detail, definitions.

Programme sheets show one row per area (all, each county, then its townships) and, per
indicator, numerator, denominator and rate; rates are formatted as percentages, rates that
miss their target are filled red, rates over small denominators are italic and grey, and
areas without data are left blank on grey. Headers are Chinese and English; header rows and
area columns stay frozen while scrolling.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from analytics import columns as C
from analytics import quality as Q
from analytics.config import AnalyticsConfig, Indicator
from analytics.outputs.labels import LEVELS, bilingual, target_text
from analytics.periods import Period

PERCENT = "0.0%"
MISSED_FILL = PatternFill("solid", fgColor="FFC7CE")
MISSED_FONT = Font(color="9C0006", bold=True)
MET_FONT = Font(color="006100")
NO_DATA_FILL = PatternFill("solid", fgColor="EDEDED")
SMALL_FONT = Font(italic=True, color="7F7F7F")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
COUNTY_FILL = PatternFill("solid", fgColor="F2F2F2")
TOTAL_FILL = PatternFill("solid", fgColor="FFF2CC")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
WRAP = Alignment(wrap_text=True, vertical="center", horizontal="center")
THIN = Side(style="thin", color="BFBFBF")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)

AREA_HEADERS = (
    ("层级", "Level"),
    ("县", "County"),
    ("乡镇", "Township"),
    ("乡镇代码", "Code"),
)
SHEET_NAMES = {
    "quality": "数据质量 Data quality",
    "detail": "明细 Detail",
    "definitions": "定义 Definitions",
}


def _sheet_name(text: str) -> str:
    for bad in "[]:*?/\\":
        text = text.replace(bad, " ")
    return text[:31]


def _area_cells(row: pd.Series) -> list[object]:
    level = row[C.LEVEL]
    zh, en = LEVELS[level]
    county = (
        f"{row[C.COUNTY_NAME_ZH]} {row[C.COUNTY_NAME_EN]}"
        if level != "programme" and isinstance(row.get(C.COUNTY_NAME_ZH), str)
        else ""
    )
    township = f"{row[C.TOWNSHIP_NAME_ZH]} {row[C.TOWNSHIP_NAME_EN]}" if level == "township" else ""
    code = row[C.TOWNSHIP] if level == "township" else (row[C.COUNTY] if level == "county" else "")
    return [f"{zh} {en}", county, township, code]


def _key(value: object) -> object:
    return None if value is None or (isinstance(value, float) and value != value) else value


def _programme_sheet(
    ws: Worksheet, table: pd.DataFrame, indicators: Sequence[Indicator], title: str
) -> None:
    ws.cell(row=1, column=1, value=title).font = TITLE
    for i, (zh, en) in enumerate(AREA_HEADERS, start=1):
        ws.merge_cells(start_row=2, start_column=i, end_row=3, end_column=i)
        cell = ws.cell(row=2, column=i, value=f"{zh}\n{en}")
        cell.font, cell.alignment, cell.fill, cell.border = BOLD, WRAP, HEADER_FILL, BOX
    first = len(AREA_HEADERS) + 1
    for k, indicator in enumerate(indicators):
        col = first + 3 * k
        ws.merge_cells(start_row=2, start_column=col, end_row=2, end_column=col + 2)
        target = target_text(indicator.target, indicator.direction)
        goal = f"\n目标 Target {target}" if target else "\n无目标 No target"
        head = ws.cell(row=2, column=col, value=f"{indicator.name_zh}\n{indicator.name_en}{goal}")
        head.font, head.alignment, head.fill, head.border = BOLD, WRAP, HEADER_FILL, BOX
        for j, label in enumerate(("分子\nNum.", "分母\nDenom.", "比率\nRate")):
            cell = ws.cell(row=3, column=col + j, value=label)
            cell.font, cell.alignment, cell.fill, cell.border = BOLD, WRAP, HEADER_FILL, BOX
            ws.column_dimensions[get_column_letter(col + j)].width = 10 if j < 2 else 11
    ws.row_dimensions[2].height = 62
    ws.row_dimensions[3].height = 30
    for letter, width in zip("ABCD", (14, 24, 26, 12), strict=True):
        ws.column_dimensions[letter].width = width

    ids = [i.id for i in indicators]
    rows = table.loc[table[C.INDICATOR].isin(ids)]
    keyed = {
        (r[C.LEVEL], r[C.COUNTY], r[C.TOWNSHIP], r[C.INDICATOR]): r
        for r in rows.astype(object).where(rows.notna(), None).to_dict("records")
    }
    areas = rows.loc[rows[C.INDICATOR] == ids[0]]
    # Programme, then each county followed by its townships.
    order = [areas.loc[areas[C.LEVEL] == "programme"]]
    for _, group in areas.loc[areas[C.LEVEL] != "programme"].groupby(C.COUNTY, sort=True):
        order.append(group.loc[group[C.LEVEL] == "county"])
        order.append(group.loc[group[C.LEVEL] == "township"].sort_values(C.TOWNSHIP))
    ordered = pd.concat(order)
    r = 4
    for _, area in ordered.iterrows():
        level = area[C.LEVEL]
        for i, value in enumerate(_area_cells(area), start=1):
            cell = ws.cell(row=r, column=i, value=value)
            if level != "township":
                cell.font = BOLD
                cell.fill = TOTAL_FILL if level == "programme" else COUNTY_FILL
        for k, indicator in enumerate(indicators):
            col = first + 3 * k
            item = keyed[(level, _key(area[C.COUNTY]), _key(area[C.TOWNSHIP]), indicator.id)]
            num = ws.cell(row=r, column=col, value=int(item[C.NUMERATOR]))
            den = ws.cell(row=r, column=col + 1, value=int(item[C.DENOMINATOR]))
            rate_value = item[C.RATE]
            rate = ws.cell(
                row=r, column=col + 2, value=None if rate_value is None else float(rate_value)
            )
            rate.number_format = PERCENT
            no_data = bool(item[C.NO_DATA])
            met = item[C.MET]
            area_fill = {"programme": TOTAL_FILL, "county": COUNTY_FILL}.get(level)
            if area_fill is not None:
                num.font = den.font = BOLD
                num.fill = den.fill = area_fill
            if no_data:
                num.fill = den.fill = rate.fill = NO_DATA_FILL
            elif met is not None and not bool(met):
                rate.fill, rate.font = MISSED_FILL, MISSED_FONT
            elif met is not None:
                rate.font = MET_FONT
            elif area_fill is not None:
                rate.fill = area_fill
            if bool(item[C.SMALL_DENOMINATOR]) and not no_data:
                colour = "9C0006" if met is not None and not bool(met) else "7F7F7F"
                rate.font = Font(italic=True, color=colour, bold=rate.font.bold)
        r += 1
    ws.freeze_panes = ws.cell(row=4, column=first)
    last = get_column_letter(first + 3 * len(indicators) - 1)
    ws.auto_filter.ref = f"A3:{last}{max(r - 1, 3)}"
    note = (
        "红底：未达目标 Red: target missed · 斜体：分母<20 Italic: denominator under 20 · "
        "灰底：无数据 Grey: no data · 分母为登记儿童 Denominators are registered children"
    )
    ws.cell(row=r + 1, column=1, value=note).font = Font(italic=True, color="595959")


def _long_sheet(
    ws: Worksheet, frame: pd.DataFrame, title: str, *, percent_columns: Sequence[str] = ()
) -> None:
    ws.cell(row=1, column=1, value=title).font = TITLE
    columns = list(frame.columns)
    for j, column in enumerate(columns, start=1):
        cell = ws.cell(row=2, column=j, value=bilingual(column))
        cell.font, cell.alignment, cell.fill, cell.border = BOLD, WRAP, HEADER_FILL, BOX
        ws.column_dimensions[get_column_letter(j)].width = max(
            10, min(28, len(bilingual(column, " ")) * 0.7)
        )
    ws.row_dimensions[2].height = 45
    met_at = columns.index(C.MET) if C.MET in columns else None
    rate_at = columns.index(C.RATE) if C.RATE in columns else None
    for i, row in enumerate(frame.itertuples(index=False), start=3):
        for j, value in enumerate(row, start=1):
            if value is pd.NA or (isinstance(value, float) and value != value):
                value = None
            elif hasattr(value, "item"):
                value = value.item()
            if columns[j - 1] == C.LEVEL and value in LEVELS:
                value = " ".join(LEVELS[value])
            cell = ws.cell(row=i, column=j, value=value)
            if columns[j - 1] in percent_columns:
                cell.number_format = PERCENT
            elif isinstance(value, float):
                cell.number_format = "0.0"
        if met_at is not None and rate_at is not None and row[met_at] is False:
            cell = ws.cell(row=i, column=rate_at + 1)
            cell.fill, cell.font = MISSED_FILL, MISSED_FONT
    ws.freeze_panes = "A3"
    if len(frame):
        ws.auto_filter.ref = f"A2:{get_column_letter(len(columns))}{len(frame) + 2}"


def _definitions_sheet(
    ws: Worksheet, indicators: Sequence[Indicator], config: AnalyticsConfig
) -> None:
    headers = [
        ("指标代码", "Indicator"),
        ("项目", "Programme"),
        ("指标", "Name"),
        ("Indicator", "Name (English)"),
        ("定义", "Definition (zh)"),
        ("Definition", "Definition (English)"),
        ("目标", "Target"),
        ("目标人群分母", "Target population"),
        ("按期折算", "Pro-rated to the period"),
    ]
    ws.cell(row=1, column=1, value="指标定义 Indicator definitions").font = TITLE
    for j, (zh, en) in enumerate(headers, start=1):
        cell = ws.cell(row=2, column=j, value=f"{zh}\n{en}")
        cell.font, cell.alignment, cell.fill, cell.border = BOLD, WRAP, HEADER_FILL, BOX
    widths = (24, 18, 28, 34, 60, 70, 10, 20, 12)
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    top = Alignment(wrap_text=True, vertical="top")
    for i, indicator in enumerate(indicators, start=3):
        programme = config.programme(indicator.programme)
        values = [
            indicator.id,
            f"{programme.name_zh} {programme.name_en}",
            indicator.name_zh,
            indicator.name_en,
            indicator.definition_zh,
            indicator.definition_en,
            target_text(indicator.target, indicator.direction) or "—",
            indicator.target_population or "—",
            "是 yes" if indicator.prorate else "否 no",
        ]
        for j, value in enumerate(values, start=1):
            ws.cell(row=i, column=j, value=value).alignment = top
    notes = [
        "分母（登记）：已受理表单中符合条件的儿童；分母（目标人群）：乡镇登记册的目标人口，出生类指标按期长度折算。",
        "Denominator (registered): children known from accepted submissions who meet the "
        "rule; denominator (target population): the registry's target population, pro-rated "
        "to the period for birth-based indicators.",
        "儿童按评估日（期末）所在乡镇计算；县和全部的比率由分子分母分别加总后相除。",
        "Children count in their township on the evaluation date (last day of the period); "
        "county and overall rates divide summed counts, never average rates.",
        "95%置信区间为Wilson区间；分母<20的结果应谨慎解读。",
        "95% confidence intervals are Wilson intervals; interpret denominators under "
        f"{config.settings.small_denominator} with care.",
    ]
    start = len(indicators) + 4
    for k, text in enumerate(notes):
        ws.cell(row=start + k, column=1, value=text).font = Font(italic=True, color="595959")
    ws.freeze_panes = "B3"


def to_xlsx(
    *,
    period: Period,
    table: pd.DataFrame,
    quality: pd.DataFrame | None,
    indicators: Sequence[Indicator],
    config: AnalyticsConfig,
) -> bytes:
    """The workbook as bytes (see the module docstring)."""
    wb = Workbook()
    wb.remove(wb.active)
    when = f"{period.label} ({period.start.isoformat()} – {period.end.isoformat()})"
    for programme in config.programmes:
        chosen = [i for i in indicators if i.programme == programme.id]
        if not chosen:
            continue
        ws = wb.create_sheet(_sheet_name(programme.sheet or programme.name_en))
        _programme_sheet(ws, table, chosen, f"{programme.name_zh} {programme.name_en} · {when}")
    if quality is not None:
        ws = wb.create_sheet(SHEET_NAMES["quality"])
        _long_sheet(
            ws,
            quality,
            f"数据质量 Data quality · 按接收日期 by date received · {when}",
            percent_columns=(Q.ACCEPTANCE_RATE,),
        )
    ws = wb.create_sheet(SHEET_NAMES["detail"])
    _long_sheet(
        ws,
        table,
        f"全部结果 All results · {when}",
        percent_columns=(C.RATE, C.CI_LOW, C.CI_HIGH, C.TARGET_RATE, C.TARGET),
    )
    _definitions_sheet(wb.create_sheet(SHEET_NAMES["definitions"]), indicators, config)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
