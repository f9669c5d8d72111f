"""Chinese and English labels of the result columns, levels and flags, for people."""

from __future__ import annotations

from analytics import columns as C
from analytics import quality as Q

#: Column → (Chinese, English).
HEADERS: dict[str, tuple[str, str]] = {
    C.LEVEL: ("层级", "Level"),
    C.COUNTY: ("县代码", "County code"),
    C.COUNTY_NAME_ZH: ("县", "County (zh)"),
    C.COUNTY_NAME_EN: ("县（英文）", "County"),
    C.TOWNSHIP: ("乡镇代码", "Township code"),
    C.TOWNSHIP_NAME_ZH: ("乡镇", "Township (zh)"),
    C.TOWNSHIP_NAME_EN: ("乡镇（英文）", "Township"),
    C.PERIOD: ("期间", "Period"),
    C.PERIOD_START: ("开始日期", "Start"),
    C.PERIOD_END: ("评估日期", "Evaluation date"),
    C.PROGRAMME: ("项目", "Programme"),
    C.INDICATOR: ("指标代码", "Indicator"),
    C.NUMERATOR: ("分子", "Numerator"),
    C.DENOMINATOR: ("分母（登记）", "Denominator (registered)"),
    C.RATE: ("比率", "Rate"),
    C.CI_LOW: ("95%置信区间下限", "95% CI low"),
    C.CI_HIGH: ("95%置信区间上限", "95% CI high"),
    C.TARGET_DENOMINATOR: ("分母（目标人群）", "Denominator (target population)"),
    C.TARGET_RATE: ("比率（目标人群）", "Rate (target population)"),
    C.TARGET: ("目标", "Target"),
    C.DIRECTION: ("方向", "Direction"),
    C.MET: ("达标", "Met"),
    C.SMALL_DENOMINATOR: ("分母<20", "Small denominator"),
    C.NUMERATOR_EXCEEDS_DENOMINATOR: ("分子超过分母", "Numerator exceeds denominator"),
    C.NO_DATA: ("无数据", "No data"),
    C.OVERDUE_CHILDREN: ("逾期儿童", "Overdue children"),
    Q.ACCEPTED: ("接收", "Accepted"),
    Q.REJECTED: ("拒收", "Rejected"),
    Q.ACCEPTANCE_RATE: ("接收率", "Acceptance rate"),
    Q.DELETED_COUNT: ("已删除", "Deleted"),
    Q.DUPLICATES: ("重复", "Duplicates"),
    Q.EDITED: ("被修改的表单", "Edited submissions"),
    Q.EDIT_COUNT: ("修改次数", "Edits"),
    Q.LAG_MEDIAN: ("上报延迟中位数（小时）", "Median lag (hours)"),
    Q.LAG_P90: ("上报延迟P90（小时）", "90th percentile lag (hours)"),
    Q.CHILDREN: ("儿童数", "Children"),
    Q.CHILDREN_SEX_CONFLICT: ("性别不一致儿童", "Children with conflicting sex"),
    Q.CHILDREN_DOB_CONFLICT: ("出生日期不一致儿童", "Children with conflicting date of birth"),
}

LEVELS: dict[str, tuple[str, str]] = {
    "programme": ("全部", "All"),
    "county": ("县", "County"),
    "township": ("乡镇", "Township"),
}

#: Reject reason codes → short bilingual labels (codes of sync.ingest.problems).
REASONS: dict[str, tuple[str, str]] = {
    "unknown_version": ("表单版本过期", "outdated form version"),
    "unknown_form": ("未知表单", "unknown form"),
    "required": ("缺少必填项", "required field missing"),
    "out_of_range": ("超出范围", "out of range"),
    "invalid_date": ("日期无效", "invalid date"),
    "future_date": ("将来日期", "future date"),
    "before_birth": ("早于出生", "before birth"),
    "invalid_choice": ("选项无效", "invalid choice"),
    "invalid_pattern": ("格式错误", "wrong format"),
    "unknown_township": ("未知乡镇", "unknown township"),
    "unknown_county": ("未知县", "unknown county"),
    "township_not_in_county": ("乡镇不属于该县", "township not in county"),
    "age_out_of_window": ("年龄不符", "age out of window"),
    "outside_scope": ("超出权限", "outside scope"),
    "conflict": ("编号冲突", "conflicting instanceID"),
    "stale_edit": ("过期修改", "stale edit"),
    "malformed_xml": ("XML格式错误", "malformed XML"),
    "too_large": ("数据过大", "too large"),
}


def header(column: str) -> tuple[str, str]:
    """(Chinese, English) label of a column; `rejected_<code>` columns by their reason."""
    if column in HEADERS:
        return HEADERS[column]
    if column.startswith(Q.REJECTED_PREFIX):
        code = column[len(Q.REJECTED_PREFIX) :]
        zh, en = REASONS.get(code, (code, code.replace("_", " ")))
        return f"拒收：{zh}", f"Rejected: {en}"
    return column, column


def bilingual(column: str, sep: str = "\n") -> str:
    """`中文<sep>English` header of a column."""
    zh, en = header(column)
    return f"{zh}{sep}{en}"


def percent(value: float | None, digits: int = 0) -> str:
    """0.95 → '95%' (blank for a missing value)."""
    if value is None or value != value:
        return ""
    return f"{value * 100:.{digits}f}%"


def target_text(target: float | None, direction: str, *, digits: int = 0) -> str:
    """'≥ 95%', '≤ 7%', or '' without a target."""
    if target is None or target != target:
        return ""
    sign = "≥" if direction == ">=" else "≤"
    return f"{sign} {percent(target, digits)}"
