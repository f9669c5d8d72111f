"""Write the first versions of the three XLSForms (`python -m forms.xlsform._author`).

The `.xlsx` files are the source of truth and are edited in Excel from then on; running
this again OVERWRITES them, losing any edit made in Excel. It exists so that the first
design is reviewable as text. The dose choice list is written from `forms/schedule.toml`
(the build checks that the two agree). Output bytes are reproducible (fixed document
dates and zip timestamps), so re-running it without changes leaves git clean.
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from forms.contract import CHILD_ID_PATTERN, FEEDING_UNDER_MONTHS, NUTRITION_AGE_DAYS
from forms.schedule import load_schedule

HERE = Path(__file__).parent
#: Bump a form's version (yyyymmddNN) on every change, or Collect keeps the old form.
VERSIONS = {
    "newborn_visit": "2026112801",
    "nutrition_pack": "2026112802",  # the children list
    "immunization": "2026112802",  # the children list
}
ZH = "Chinese (zh)"
EN = "English (en)"

SURVEY_COLUMNS = (
    "type",
    "name",
    f"label::{ZH}",
    f"label::{EN}",
    f"hint::{ZH}",
    f"hint::{EN}",
    "required",
    f"required_message::{ZH}",
    f"required_message::{EN}",
    "constraint",
    f"constraint_message::{ZH}",
    f"constraint_message::{EN}",
    "relevant",
    "calculation",
    "choice_filter",
    "appearance",
    "parameters",
    "trigger",
)
CHOICES_COLUMNS = ("list_name", "name", f"label::{ZH}", f"label::{EN}")
SETTINGS_COLUMNS = (
    "form_id",
    "form_title",
    "version",
    "default_language",
    "instance_name",
    "style",
)

Row = dict[str, str]
Text = tuple[str, str]  # (Chinese, English)

REQUIRED_MSG: Text = ("此项必填。", "This question is required.")


def q(
    type_: str,
    name: str,
    label: Text | None = None,
    *,
    hint: Text | None = None,
    required: bool = True,
    required_msg: Text = REQUIRED_MSG,
    constraint: str | None = None,
    msg: Text | None = None,
    **extra: str,
) -> Row:
    """One survey row; `extra` holds relevant, calculation, choice_filter, appearance, ..."""
    row: Row = {"type": type_, "name": name}
    if label:
        row[f"label::{ZH}"], row[f"label::{EN}"] = label
    if hint:
        row[f"hint::{ZH}"], row[f"hint::{EN}"] = hint
    if required and label:
        row["required"] = "yes"
        row[f"required_message::{ZH}"], row[f"required_message::{EN}"] = required_msg
    if constraint:
        assert msg, f"{name}: a constraint needs a message"
        row["constraint"] = constraint
        row[f"constraint_message::{ZH}"], row[f"constraint_message::{EN}"] = msg
    row.update(extra)
    return row


def group(name: str, label: Text, rows: Iterable[Row], *, field_list: bool = True) -> list[Row]:
    """A group of rows; field-list groups show as one screen in Collect."""
    begin = q("begin_group", name, label, required=False)
    if field_list:
        begin["appearance"] = "field-list"
    return [begin, *rows, {"type": "end_group", "name": name}]


def between(low: float, high: float) -> str:
    return f". >= {low} and . <= {high}"


def completed_months(later: str, earlier: str) -> str:
    """XPath: completed calendar months from date `earlier` to date `later`."""

    def part(ref: str, fmt: str) -> str:
        return f"int(format-date({ref}, '{fmt}'))"

    return (
        f"({part(later, '%Y')} - {part(earlier, '%Y')}) * 12"
        f" + {part(later, '%m')} - {part(earlier, '%m')}"
        f" - if({part(later, '%d')} < {part(earlier, '%d')}, 1, 0)"
    )


def age_days(on: str) -> str:
    """XPath: whole days from the child's birth to date `on`."""
    return f"round(decimal-date-time({on}) - decimal-date-time(${{child_dob}}))"


NOT_FUTURE = ". <= today()"
VISIT_DATE = ". >= ${child_dob} and . <= today()"
VISIT_DATE_MSG: Text = (
    "日期不能早于出生日期，也不能晚于今天。",
    "The date cannot be before the date of birth or in the future.",
)

METADATA = [q(t, t, required=False) for t in ("start", "end", "today", "deviceid")]

LOCATION = group(
    "location",
    ("地点", "Location"),
    [
        q(
            "select_one_from_file counties.csv",
            "county",
            ("县（区）", "County"),
            hint=("儿童现住址所在的县。", "The county where the child lives now."),
            appearance="minimal",
        ),
        q(
            "select_one_from_file townships.csv",
            "township",
            ("乡镇", "Township"),
            hint=(
                "先选县；列表只显示该县的乡镇。",
                "Choose the county first; the list shows only its townships.",
            ),
            choice_filter="county=${county}",
            appearance="minimal",
        ),
        q(
            "text",
            "village",
            ("村（社区）", "Village"),
            hint=("村或社区名称。", "Name of the village or community."),
            constraint="string-length(.) <= 60",
            msg=("村名过长，最多60个字。", "Too long: at most 60 characters."),
        ),
    ],
)


def _listed(column: str) -> str:
    """XPath: `column` of the child picked from the children list ('' when none is)."""
    return f"instance('children')/root/item[name=${{child_pick}}]/{column}"


def _from_list(column: str) -> dict[str, str]:
    """Fill a question from the picked child, when the pick changes; still editable."""
    return {"calculation": _listed(column), "trigger": "${child_pick}"}


#: The children list (`children.csv`, made per health worker when Collect fetches the
#: manifest): find a child by ID or name, among the children of the chosen township (and
#: of the typed village, when the list knows that village), to fill the identity
#: questions; a child not on the list is entered by hand as before.
CHILD_LOOKUP = [
    q(
        "calculate",
        "pick_village_listed",
        required=False,
        calculation=(
            "if(count(instance('children')/root/item[village=${village}]) > 0, 'yes', '')"
        ),
    ),
    q(
        "select_one_from_file children.csv",
        "child_pick",
        ("从名单中查找儿童（可不选）", "Find the child in the list (optional)"),
        hint=(
            "输入编号或姓名搜索，选中后自动填写下面各项。不在名单上的儿童不用选，直接填写。",
            "Type the ID or name to search; choosing a child fills in the questions below. "
            "For a child not on the list, skip this and fill them in.",
        ),
        required=False,
        choice_filter=(
            "township=${township} and (${pick_village_listed} = '' or village=${village})"
        ),
        appearance="minimal autocomplete",
    ),
    q("calculate", "pick_doses", required=False, calculation=_listed("doses")),
    q(
        "note",
        "pick_note",
        ("名单显示：${pick_doses}", "The list shows: ${pick_doses}"),
        required=False,
        relevant="${child_pick} != ''",
    ),
]


def child(*extra: Row, lookup: bool = False) -> list[Row]:
    """The child identity group, shared by the three forms; `lookup` adds the children
    list before the identity questions, which it then fills."""

    def filled(column: str) -> dict[str, str]:
        return _from_list(column) if lookup else {}

    return group(
        "child",
        ("儿童信息", "Child"),
        [
            *(CHILD_LOOKUP if lookup else []),
            q(
                "text",
                "child_id",
                ("儿童编号（保健手册/接种证号）", "Child ID (health or vaccination card number)"),
                hint=(
                    "儿童保健手册或预防接种证上的编号：6–20位数字或字母，不含空格。",
                    "The number on the child's health handbook or vaccination card: "
                    "6–20 digits or letters, no spaces.",
                ),
                constraint=f"regex(., '{CHILD_ID_PATTERN}')",
                msg=(
                    "编号应为6–20位数字或字母，不含空格或符号。",
                    "The ID must be 6–20 digits or letters, with no spaces or symbols.",
                ),
                **filled("name"),
            ),
            q(
                "text",
                "child_name",
                ("儿童姓名", "Child's name"),
                constraint="string-length(.) <= 30",
                msg=("姓名过长，最多30个字。", "Too long: at most 30 characters."),
                **filled("child_name"),
            ),
            q("select_one sex", "child_sex", ("性别", "Sex"), **filled("child_sex")),
            q(
                "date",
                "child_dob",
                ("出生日期", "Date of birth"),
                hint=(
                    "以保健手册或出生医学证明为准。",
                    "As on the health handbook or birth certificate.",
                ),
                constraint=". >= date('2010-01-01') and . <= today()",
                msg=(
                    "出生日期不能晚于今天，也不能早于2010年1月1日。",
                    "The date of birth cannot be in the future or before 1 January 2010.",
                ),
                **filled("child_dob"),
            ),
            *extra,
        ],
    )


def gps() -> Row:
    return q(
        "geopoint",
        "gps",
        ("位置坐标（可不采集）", "GPS location (optional)"),
        hint=(
            "可不采集。在室外等精度达到10米以内再保存；没有信号可跳过。",
            "Optional. Outdoors, wait for accuracy within 10 m before saving; "
            "skip if there is no signal.",
        ),
        required=False,
        parameters="capture-accuracy=10 warning-accuracy=50",
    )


FEEDING_24H_LABEL: Text = ("过去24小时喂养方式", "Feeding in the last 24 hours")
FEEDING_24H_HINT: Text = (
    "按过去24小时（昨天白天和夜里）孩子吃过的所有食物判断。",
    "Based on everything the baby had in the last 24 hours (yesterday, day and night).",
)


def newborn_visit() -> list[Row]:
    return [
        *METADATA,
        *LOCATION,
        *child(
            q(
                "text",
                "mother_name",
                ("母亲姓名（可不填）", "Mother's name (optional)"),
                required=False,
                constraint="string-length(.) <= 30",
                msg=("姓名过长，最多30个字。", "Too long: at most 30 characters."),
            )
        ),
        *group(
            "birth",
            ("出生情况", "Birth"),
            [
                q(
                    "select_one delivery_place",
                    "place_of_delivery",
                    ("分娩地点", "Place of delivery"),
                ),
                q(
                    "integer",
                    "birth_weight_g",
                    ("出生体重（克）", "Birth weight (g)"),
                    hint=(
                        "以出生记录为准，单位为克，例如 3200。",
                        "From the birth record, in grams, e.g. 3200.",
                    ),
                    constraint=between(500, 6000),
                    msg=(
                        "出生体重应在500–6000克之间；请核对单位是克，不是千克。",
                        "Birth weight must be 500–6000 g. Check the unit: grams, not kilograms.",
                    ),
                ),
                q(
                    "integer",
                    "gestational_weeks",
                    ("出生孕周（可不填）", "Weeks of pregnancy at birth (optional)"),
                    hint=(
                        "满37周为足月；不清楚可不填。",
                        "37 weeks or more is full term. Leave blank if unknown.",
                    ),
                    required=False,
                    constraint=between(22, 45),
                    msg=("孕周应在22–45周之间。", "Must be 22–45 weeks."),
                ),
                q(
                    "select_one yes_no_unknown",
                    "disease_screening",
                    (
                        "是否做了新生儿疾病筛查（甲低、苯丙酮尿症）？",
                        "Newborn metabolic screening (CH, PKU) done?",
                    ),
                ),
                q(
                    "select_one hearing",
                    "hearing_screening",
                    ("新生儿听力筛查结果", "Newborn hearing screening result"),
                ),
            ],
        ),
        *group(
            "visit",
            ("本次访视", "This visit"),
            [
                q(
                    "date",
                    "visit_date",
                    ("访视日期", "Visit date"),
                    constraint=VISIT_DATE,
                    msg=VISIT_DATE_MSG,
                ),
                q(
                    "integer",
                    "visit_number",
                    ("第几次访视", "Visit number"),
                    hint=("首次访视填1，最多4次。", "1 for the first visit; at most 4."),
                    constraint=between(1, 4),
                    msg=("访视次数应为1–4。", "The visit number must be 1 to 4."),
                ),
                q(
                    "decimal",
                    "weight_kg",
                    ("本次体重（千克）", "Weight today (kg)"),
                    hint=("单位为千克，例如 3.6。", "In kilograms, e.g. 3.6."),
                    constraint=between(0.5, 10),
                    msg=(
                        "体重应在0.5–10千克之间；请核对单位是千克，不是克。",
                        "Weight must be 0.5–10 kg. Check the unit: kilograms, not grams.",
                    ),
                ),
                q("select_one feeding", "feeding_24h", FEEDING_24H_LABEL, hint=FEEDING_24H_HINT),
                q(
                    "select_multiple danger_signs",
                    "danger_signs",
                    ("危险征象（可多选）", "Danger signs (select all that apply)"),
                    hint=(
                        "没有任何危险征象时只选“无”。",
                        "Choose “None” only when there is no danger sign.",
                    ),
                    constraint="not(selected(., 'none') and count-selected(.) > 1)",
                    msg=(
                        "“无”不能与其他危险征象同时选择。",
                        "“None” cannot be chosen together with a danger sign.",
                    ),
                ),
                q(
                    "select_one yes_no",
                    "referred",
                    ("是否转诊？", "Referred to a health facility?"),
                    hint=(
                        "有任何危险征象应立即转诊。",
                        "Any danger sign needs immediate referral.",
                    ),
                ),
                gps(),
            ],
        ),
    ]


def nutrition_pack() -> list[Row]:
    low, high = NUTRITION_AGE_DAYS
    date_ref = "${distribution_date}"
    return [
        *METADATA,
        *LOCATION,
        *child(lookup=True),
        *group(
            "visit",
            ("本次发放", "This distribution"),
            [
                q(
                    "date",
                    "distribution_date",
                    ("发放日期", "Distribution date"),
                    hint=(
                        "营养包发放给6–24月龄的儿童。",
                        "Packs are for children aged 6 to 24 months.",
                    ),
                    constraint=(
                        f". <= today() and {age_days('.')} >= {low} and {age_days('.')} <= {high}"
                    ),
                    msg=(
                        "日期不能晚于今天，且发放当天儿童须满6月龄、不超过24月龄；请核对出生日期。",
                        "The date cannot be in the future, and the child must be 6 to 24 months "
                        "old on that day. Check the date of birth.",
                    ),
                ),
                q(
                    "calculate",
                    "age_months",
                    required=False,
                    calculation=(
                        f"if({date_ref} != '' and ${{child_dob}} != '', "
                        f"{completed_months(date_ref, '${child_dob}')}, '')"
                    ),
                ),
                q(
                    "integer",
                    "packs_given",
                    ("本次发放营养包（袋）", "Packs given today"),
                    hint=(
                        "儿童 ${age_months} 月龄。一般每天1袋，每月30袋。",
                        "The child is ${age_months} months old. Usually 1 pack a day, 30 a month.",
                    ),
                    constraint=between(0, 120),
                    msg=("发放数量应为0–120袋。", "Packs given must be 0 to 120."),
                ),
                q(
                    "integer",
                    "packs_eaten_7d",
                    (
                        "过去7天中，孩子有几天吃了营养包？",
                        "On how many of the last 7 days did the child eat a pack?",
                    ),
                    hint=("0–7天；首次领取填0。", "0 to 7 days; 0 at the first distribution."),
                    constraint=between(0, 7),
                    msg=("应为0–7天。", "Must be 0 to 7 days."),
                ),
                q(
                    "select_one yes_no",
                    "counselling",
                    ("是否进行了喂养咨询？", "Feeding counselling given?"),
                ),
                gps(),
            ],
        ),
        *group(
            "growth",
            ("体格测量", "Measurements"),
            [
                q(
                    "decimal",
                    "weight_kg",
                    ("体重（千克）", "Weight (kg)"),
                    hint=(
                        "脱去外衣和鞋，精确到0.1千克。",
                        "Without outer clothes or shoes, to 0.1 kg.",
                    ),
                    constraint=between(2, 25),
                    msg=(
                        "体重应在2–25千克之间；请核对单位是千克。",
                        "Weight must be 2–25 kg. Check the unit: kilograms.",
                    ),
                ),
                q(
                    "select_one yes_no",
                    "measured_lying",
                    ("是否卧位测量身长？", "Length measured lying down?"),
                    hint=("24月龄以下应卧位测量。", "Under 24 months, measure lying down."),
                ),
                q(
                    "decimal",
                    "length_cm",
                    ("身长（厘米）", "Length (cm)"),
                    hint=("精确到0.1厘米。", "To 0.1 cm."),
                    constraint=between(40, 120),
                    msg=(
                        "身长应在40–120厘米之间；请核对单位是厘米。",
                        "Length must be 40–120 cm. Check the unit: centimetres.",
                    ),
                ),
                q(
                    "select_one yes_no",
                    "oedema",
                    ("双足是否有凹陷性水肿？", "Pitting oedema of both feet?"),
                    hint=(
                        "用拇指按压双足背3秒，松开后留下凹陷为“是”。",
                        "Press the top of both feet with your thumbs for 3 seconds: "
                        "a dent that stays means “Yes”.",
                    ),
                ),
                q(
                    "integer",
                    "hemoglobin_g_l",
                    ("血红蛋白（克/升，可不填）", "Haemoglobin (g/L, optional)"),
                    hint=(
                        "未检测可不填。单位为克/升，例如 115。",
                        "Leave blank if not tested. In g/L, e.g. 115 (not g/dL).",
                    ),
                    required=False,
                    constraint=between(40, 200),
                    msg=(
                        "血红蛋白应在40–200克/升之间；请核对单位是克/升，不是克/分升。",
                        "Haemoglobin must be 40–200 g/L. Check the unit: g/L, not g/dL.",
                    ),
                ),
            ],
        ),
    ]


def immunization() -> list[Row]:
    age = completed_months("${vaccination_date}", "${child_dob}")
    return [
        *METADATA,
        *LOCATION,
        *child(lookup=True),
        *group(
            "visit",
            ("本次接种", "This vaccination"),
            [
                q(
                    "date",
                    "vaccination_date",
                    ("接种日期", "Vaccination date"),
                    constraint=VISIT_DATE,
                    msg=VISIT_DATE_MSG,
                ),
                q(
                    "select_multiple doses",
                    "doses_given",
                    ("本次接种的疫苗（可多选）", "Doses given today (select all that apply)"),
                    hint=("至少选择一种。", "Choose at least one."),
                    required_msg=(
                        "请至少选择一种本次接种的疫苗。",
                        "Choose at least one dose given today.",
                    ),
                ),
                q(
                    "select_one yes_no",
                    "hepb1_within_24h",
                    (
                        "乙肝疫苗第1剂是否在出生后24小时内接种？",
                        "Was hepatitis B dose 1 given within 24 hours of birth?",
                    ),
                    relevant="selected(${doses_given}, 'hepb1')",
                    constraint=f". = 'no' or {age_days('${vaccination_date}')} <= 1",
                    msg=(
                        "接种日期比出生日期晚1天以上，不可能在24小时内接种；请选“否”或核对日期。",
                        "The vaccination date is more than 1 day after birth, so not within "
                        "24 hours. Choose “No” or check the dates.",
                    ),
                ),
                q(
                    "select_one yes_no",
                    "aefi",
                    (
                        "接种后是否出现疑似预防接种异常反应？",
                        "Any adverse event following immunization (AEFI)?",
                    ),
                    hint=(
                        "包括留观30分钟内出现的和家长报告的反应。",
                        "Include reactions during the 30-minute observation and those "
                        "reported by the family.",
                    ),
                ),
                q(
                    "select_one feeding",
                    "feeding_24h",
                    FEEDING_24H_LABEL,
                    hint=(
                        f"仅{FEEDING_UNDER_MONTHS}月龄以下婴儿填写。{FEEDING_24H_HINT[0]}",
                        f"Asked for infants under {FEEDING_UNDER_MONTHS} months only. "
                        f"{FEEDING_24H_HINT[1]}",
                    ),
                    relevant=f"{age} < {FEEDING_UNDER_MONTHS}",
                ),
                q(
                    "date",
                    "next_visit_date",
                    ("下次接种预约日期（可不填）", "Next appointment (optional)"),
                    required=False,
                    constraint=". > ${vaccination_date}",
                    msg=(
                        "下次预约日期必须晚于本次接种日期。",
                        "The next appointment must be after this vaccination date.",
                    ),
                ),
                gps(),
            ],
            field_list=False,
        ),
    ]


YES_NO = [("yes", "是", "Yes"), ("no", "否", "No")]
CHOICES: dict[str, list[tuple[str, str, str]]] = {
    "sex": [("male", "男", "Male"), ("female", "女", "Female")],
    "yes_no": YES_NO,
    "yes_no_unknown": [
        ("yes", "已做", "Yes, done"),
        ("no", "未做", "No"),
        ("unknown", "不清楚", "Don't know"),
    ],
    "hearing": [
        ("pass", "通过", "Passed"),
        ("refer", "未通过（需复筛）", "Refer (did not pass)"),
        ("not_done", "未做", "Not done"),
    ],
    "delivery_place": [
        ("county_hospital", "县级及以上医院", "County or higher-level hospital"),
        ("township_hospital", "乡镇卫生院", "Township health centre"),
        ("other_facility", "其他医疗机构", "Other health facility"),
        ("home", "家中", "At home"),
        ("other", "其他（如途中）", "Other (e.g. on the way)"),
    ],
    "feeding": [
        (
            "exclusive",
            "纯母乳喂养（只吃母乳，可有药物、维生素）",
            "Exclusive breastfeeding (breast milk only; medicines and vitamins allowed)",
        ),
        (
            "predominant",
            "基本纯母乳（母乳加水或果汁等）",
            "Predominant breastfeeding (breast milk plus water or juice)",
        ),
        (
            "mixed",
            "混合喂养（母乳加配方奶、其他奶或食物）",
            "Mixed (breast milk plus formula, other milk or food)",
        ),
        ("formula", "人工喂养（没有母乳）", "Formula or other milk, no breast milk"),
        ("none", "过去24小时没有喂奶", "No milk feeds in the last 24 hours"),
    ],
    "danger_signs": [
        ("none", "无", "None"),
        ("fever", "发热", "Fever"),
        ("jaundice", "黄疸（皮肤或眼睛发黄）", "Jaundice (yellow skin or eyes)"),
        ("poor_feeding", "吃奶差或不吃奶", "Poor feeding or not feeding"),
        ("breathing", "呼吸快或呼吸困难", "Fast or difficult breathing"),
        ("convulsions", "抽搐", "Convulsions"),
        ("umbilical_infection", "脐部红肿或有脓", "Umbilical redness or pus"),
        ("other", "其他", "Other"),
    ],
}

FORMS: dict[str, tuple[str, list[str]]] = {
    # form_id: (form_title, choice lists used), the title as "中文 (English)"
    "newborn_visit": (
        "新生儿访视 (Newborn home visit)",
        ["sex", "delivery_place", "yes_no_unknown", "hearing", "feeding", "danger_signs", "yes_no"],
    ),
    "nutrition_pack": ("营养包发放 (Nutrition pack distribution)", ["sex", "yes_no"]),
    "immunization": ("预防接种 (Vaccination visit)", ["sex", "doses", "yes_no", "feeding"]),
}
SURVEYS = {
    "newborn_visit": (newborn_visit, "${visit_date}"),
    "nutrition_pack": (nutrition_pack, "${distribution_date}"),
    "immunization": (immunization, "${vaccination_date}"),
}


def choices(lists: list[str]) -> list[Row]:
    schedule = load_schedule()
    doses = [(d.code, d.name_zh, d.name_en) for d in schedule.doses]
    rows = []
    for list_name in lists:
        for name, zh, en in doses if list_name == "doses" else CHOICES[list_name]:
            rows.append(
                {"list_name": list_name, "name": name, f"label::{ZH}": zh, f"label::{EN}": en}
            )
    return rows


def write_sheet(wb: Workbook, title: str, columns: tuple[str, ...], rows: list[Row]) -> None:
    ws = wb.create_sheet(title)
    ws.append(list(columns))
    for row in rows:
        unknown = set(row) - set(columns)
        assert not unknown, f"{title}: unknown columns {unknown}"
        ws.append([row.get(c) for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "C2" if title == "survey" else "A2"
    for i, column in enumerate(columns, start=1):
        width = 14 if column in {"type", "list_name", "required", "parameters"} else 28
        if column in {"constraint", "calculation", "relevant"}:
            width = 40
        ws.column_dimensions[ws.cell(1, i).column_letter].width = width
    for line in ws.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def workbook(form_id: str) -> bytes:
    title, lists = FORMS[form_id]
    survey, date_ref = SURVEYS[form_id]
    wb = Workbook()
    wb.remove(wb.active)
    write_sheet(wb, "survey", SURVEY_COLUMNS, survey())
    write_sheet(wb, "choices", CHOICES_COLUMNS, choices(lists))
    settings = {
        "form_id": form_id,
        "form_title": title,
        "version": VERSIONS[form_id],
        "default_language": ZH,
        "instance_name": f"concat(${{child_id}}, ' ', {date_ref})",
        "style": "pages",
    }
    write_sheet(wb, "settings", SETTINGS_COLUMNS, [settings])
    buffer = io.BytesIO()
    wb.save(buffer)
    return _reproducible(buffer.getvalue())


def _reproducible(xlsx: bytes) -> bytes:
    """Fix the document dates and zip timestamps that openpyxl sets to 'now'."""
    fixed = "2026-11-28T00:00:00Z"
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode()
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rf"\g<1>{fixed}", text)
                data = text.encode()
            entry = zipfile.ZipInfo(info.filename, date_time=(2026, 11, 28, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)
    return out.getvalue()


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else HERE
    for form_id in FORMS:
        path = out_dir / f"{form_id}.xlsx"
        path.write_bytes(workbook(form_id))
        sys.stderr.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
