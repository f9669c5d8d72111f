"""Form media: `counties.csv` and `townships.csv` from the township registry, and the
shape of `children.csv`, the children list the server makes per health worker.

The forms choose `county` and `township` from these files (`select_one_from_file`), so a
registry change needs new media, not a new form design. Columns: `name` (the code),
`label` ("中文 (English)", both languages in one, as pyxform reads the label from a plain
`label` column) and, for townships, `county` (the code the form filters on). There are
no per-language `label::Chinese (zh)` columns: ODK's web engine (@getodk/xforms-engine
0.22.0) refuses to load a form whose CSV has such a column, even beside a plain `label`
("Expression has syntax error: label::Chinese (zh)"; tried on these forms).
`children.csv` (immunization and nutrition pack) is built empty, header only: Collect
gets each health worker's own list from the manifest (`server/due/services.py`), and a
form without the file could not load. Columns: `name` (child ID), `label` ("ID name"),
`township`, `village` (the list filters on both), `child_name`, `child_sex`,
`child_dob` (copied into the form), `due`, `overdue` (dose codes) and `doses` (what
the form shows: dose names and codes, in Chinese and English).
Files are UTF-8 without BOM, LF line endings, rows sorted by code: the same registry
always gives byte-identical media (and so the same media hashes in the form manifest).

>>> import pandas as pd

from forms.schedule import Schedule
>>> media = registry_media_csv(pd.DataFrame([{
...     "township_code": "451024101", "township_name_zh": "德保镇",
...     "township_name_en": "Debao Zhen", "county_code": "451024",
...     "county_name_zh": "德保县", "county_name_en": "Debao County"}]))
>>> media["townships.csv"].decode().splitlines()
['name,label,county', '451024101,德保镇 (Debao Zhen),451024']
"""

from __future__ import annotations

import csv
import io
import re

import pandas as pd

from forms.schedule import Schedule

COUNTIES_CSV = "counties.csv"
TOWNSHIPS_CSV = "townships.csv"
CHILDREN_CSV = "children.csv"

REQUIRED_COLUMNS = (
    "township_code",
    "township_name_zh",
    "township_name_en",
    "county_code",
    "county_name_zh",
    "county_name_en",
)
COUNTIES_HEADER = ("name", "label")
TOWNSHIPS_HEADER = ("name", "label", "county")
CHILDREN_HEADER = (
    "name",
    "label",
    "township",
    "village",
    "child_name",
    "child_sex",
    "child_dob",
    "due",
    "overdue",
    "doses",
)

_COUNTY_CODE = re.compile(r"^[0-9]{6}$")
_TOWNSHIP_CODE = re.compile(r"^[0-9]{9}$")


def registry_media_csv(townships: pd.DataFrame) -> dict[str, bytes]:
    """Build `counties.csv` and `townships.csv` from a township registry table.

    `townships` needs the columns in `REQUIRED_COLUMNS` (others are ignored); it is not
    modified. Raises `ValueError` naming the problem for a missing column, an empty
    table, a malformed or duplicate code, a township outside its county's code, an empty
    Chinese name or a county named two ways.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in townships.columns]
    if missing:
        raise ValueError(f"township registry lacks columns {missing}")
    table = townships.loc[:, list(REQUIRED_COLUMNS)].astype("string").fillna("")
    table = table.apply(lambda column: column.str.strip())
    if table.empty:
        raise ValueError("township registry is empty")
    _check_codes(table)

    counties = table.drop_duplicates(["county_code", "county_name_zh", "county_name_en"])
    named_twice = counties.loc[counties["county_code"].duplicated(), "county_code"]
    if not named_twice.empty:
        raise ValueError(f"counties with conflicting names: {sorted(set(named_twice))}")

    county_rows = [
        (code, _label(zh, en))
        for code, zh, en in counties.sort_values("county_code")[
            ["county_code", "county_name_zh", "county_name_en"]
        ].itertuples(index=False)
    ]
    township_rows = [
        (code, _label(zh, en), county)
        for code, zh, en, county in table.sort_values("township_code")[
            ["township_code", "township_name_zh", "township_name_en", "county_code"]
        ].itertuples(index=False)
    ]
    return {
        COUNTIES_CSV: _csv(COUNTIES_HEADER, county_rows),
        TOWNSHIPS_CSV: _csv(TOWNSHIPS_HEADER, township_rows),
    }


def children_list_csv(rows: list[tuple[str, ...]]) -> bytes:
    """`children.csv` with these rows (each in `CHILDREN_HEADER` order); no rows: the
    empty default the forms are built with."""
    return _csv(CHILDREN_HEADER, rows)


def doses_text(schedule: Schedule, due: str, overdue: str, *, nutrition_overdue: bool) -> str:
    """What the form shows for a picked child: overdue and due doses by name and code,
    and a missed nutrition pack; Chinese with English, as the health worker reads it.

    >>> from forms.schedule import load_schedule
    >>> doses_text(load_schedule(), "bcg", "hepb2", nutrition_overdue=False)
    '逾期 overdue: 乙肝疫苗 第2剂 (hepb2)；应种 due: 卡介苗 (bcg)'
    """

    def names(codes: str) -> str:
        return "、".join(f"{schedule.dose(c).name_zh} ({c})" for c in codes.split())

    parts = []
    if overdue:
        parts.append(f"逾期 overdue: {names(overdue)}")
    if due:
        parts.append(f"应种 due: {names(due)}")
    if nutrition_overdue:
        gap = schedule.windows.nutrition_gap_days
        parts.append(f"营养包超过{gap}天未领 (no pack for {gap} days)")
    return "；".join(parts) or "无应种疫苗 (nothing due)"


def _check_codes(table: pd.DataFrame) -> None:
    for column, pattern in (("county_code", _COUNTY_CODE), ("township_code", _TOWNSHIP_CODE)):
        bad = sorted(set(table.loc[~table[column].str.fullmatch(pattern.pattern), column]))
        if bad:
            raise ValueError(f"malformed {column} values {bad[:5]}")
    duplicated = table.loc[table["township_code"].duplicated(), "township_code"]
    if not duplicated.empty:
        raise ValueError(f"duplicate township codes {sorted(set(duplicated))[:5]}")
    outside = table.loc[table["township_code"].str[:6] != table["county_code"], "township_code"]
    if not outside.empty:
        raise ValueError(f"township codes not within their county code {sorted(outside)[:5]}")
    for column in ("township_name_zh", "county_name_zh"):
        if (table[column] == "").any():
            raise ValueError(f"empty {column}")


def _label(zh: str, en: str) -> str:
    """ "中文 (English)", or the Chinese name alone when there is no English one."""
    return f"{zh} ({en})" if en else zh


def _csv(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
