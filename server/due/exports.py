"""A due list as JSON, CSV and a printable workbook (one sheet per village).

>>> from datetime import date
>>> import pandas as pd
>>> safe_sheet_title("那桐村/上屯[2]", set())
'那桐村_上屯_2_'
"""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import pandas as pd
from django.utils.safestring import SafeString, mark_safe
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from analytics import columns as C
from analytics import due as D
from server.due import selectors
from server.due.services import DueList, iso_days

#: (column of the list, bilingual header) for CSV and XLSX, in print order.
HEADERS = (
    (C.CHILD_ID, "儿童编号 Child ID"),
    (selectors.NAME, "姓名 Name"),
    (C.SEX, "性别 Sex"),
    (C.DOB, "出生日期 Date of birth"),
    (selectors.VILLAGE, "村 Village"),
    (D.DOSES_OVERDUE, "逾期疫苗 Doses overdue"),
    (D.DOSES_DUE, "应种疫苗 Doses due"),
    (D.LAST_VISIT, "最近随访 Last visit"),
    (D.NUTRITION_OVERDUE, "营养包逾期 Nutrition pack overdue"),
)
COUNT_HEADERS = (("dose", "疫苗 Dose"), ("due", "应种 Due"), ("overdue", "逾期 Overdue"))
NO_VILLAGE = "未填村 No village"
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


DATES = (C.DOB, D.LAST_VISIT, D.NEXT_DUE_DATE)


def _records(children: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a list, with its dates already written as text."""
    return children.assign(**{c: iso_days(children[c]) for c in DATES}).to_dict("records")


def _cell(column: str, value: Any) -> Any:
    if column == D.NUTRITION_OVERDUE:
        return "是 yes" if bool(value) else ""
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _rows(children: pd.DataFrame) -> list[list[Any]]:
    return [
        [_cell(column, record[column]) for column, _ in HEADERS] for record in _records(children)
    ]


def to_json(due: DueList) -> dict[str, Any]:
    body: dict[str, Any] = {
        "township_code": due.township,
        "on": due.on.isoformat(),
        "counts": due.counts,
        "doses": due.doses.to_dict("records"),
    }
    if due.children is not None:
        body["children"] = [
            {
                "child_id": r[C.CHILD_ID],
                "name": r[selectors.NAME] or "",
                "sex": r[C.SEX],
                "dob": r[C.DOB],
                "village": r[selectors.VILLAGE] or "",
                "doses_overdue": r[D.DOSES_OVERDUE].split(),
                "doses_due": r[D.DOSES_DUE].split(),
                "last_visit": r[D.LAST_VISIT] or None,
                "nutrition_overdue": bool(r[D.NUTRITION_OVERDUE]),
                "next_dose": r[D.NEXT_DOSE] if isinstance(r[D.NEXT_DOSE], str) else None,
                "next_due_date": r[D.NEXT_DUE_DATE] or None,
            }
            for r in _records(due.children)
        ]
    return body


def html_rows(children: list[dict[str, Any]]) -> SafeString:
    """The rows of the page's table (from `to_json`'s children), escaped as Django escapes:
    one Python pass instead of a template loop, which took most of a 3,000-child page."""
    rows = (
        (
            c["child_id"],
            c["name"],
            c["sex"] or "",
            c["dob"],
            c["village"],
            " ".join(c["doses_overdue"]),
            " ".join(c["doses_due"]),
            c["last_visit"] or "",
            "逾期 overdue" if c["nutrition_overdue"] else "",
        )
        for c in children
    )
    return mark_safe(  # noqa: S308 - every value is escaped here
        "\n  ".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in rows
        )
    )


def to_csv(due: DueList) -> bytes:
    """The list (or, without names, the counts per dose) as UTF-8 CSV with a BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if due.children is None:
        writer.writerow([h for _, h in COUNT_HEADERS])
        writer.writerows(due.doses[[c for c, _ in COUNT_HEADERS]].values.tolist())
    else:
        writer.writerow([h for _, h in HEADERS])
        writer.writerows(_rows(due.children))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def safe_sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique worksheet title (31 characters, none of []:*?/\\)."""
    base = _BAD_TITLE.sub("_", name).strip("'") or NO_VILLAGE
    title, n = base[:31], 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def _printable(sheet: Worksheet, title: str, widths: list[int]) -> None:
    sheet.print_title_rows = "1:2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.oddHeader.center.text = title
    sheet.freeze_panes = "A3"
    for i, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + i)].width = width


def to_xlsx(due: DueList) -> bytes:
    """One sheet per village (sorted by village, then date of birth), ready to print."""
    book = Workbook()
    book.remove(book.active)
    caption = f"{due.township} · {due.on.isoformat()}"
    if due.children is None:
        sheet = book.create_sheet("counts")
        sheet.append([f"应种/逾期儿童数 Children due / overdue · {caption}"])
        sheet.append([h for _, h in COUNT_HEADERS])
        for row in due.doses[[c for c, _ in COUNT_HEADERS]].values.tolist():
            sheet.append(row)
        _printable(sheet, caption, [16, 12, 12])
    else:
        taken: set[str] = set()
        villages = due.children[selectors.VILLAGE].fillna("")
        for village in sorted(villages.unique(), key=lambda v: (v == "", v)):
            part = due.children.loc[(villages == village).to_numpy()]
            label = village or NO_VILLAGE
            sheet = book.create_sheet(safe_sheet_title(label, taken))
            sheet.append([f"{label} · {caption}"])
            sheet.append([h for _, h in HEADERS])
            for cell in sheet[2]:
                cell.font = Font(bold=True)
            for row in _rows(part):
                sheet.append(row)
            _printable(sheet, f"{label} · {caption}", [22, 10, 8, 12, 14, 36, 24, 12, 10])
        if not taken:
            sheet = book.create_sheet("无 None")
            sheet.append([f"没有应种或逾期的儿童 No child due or overdue · {caption}"])
            sheet.append([h for _, h in HEADERS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
