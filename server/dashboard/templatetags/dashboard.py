"""Template helpers: names in the page's language, percentages, intervals, targets."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from server.dashboard.places import counties_in_scope, township, townships_in_scope

register = template.Library()


def english() -> bool:
    return (get_language() or "zh-hans").startswith("en")


@register.filter
def local(obj: Any, attribute: str = "name") -> str:
    """`obj.name_en` when the page is in English, else `obj.name_zh`."""
    suffix = "en" if english() else "zh"
    value = getattr(obj, f"{attribute}_{suffix}", None)
    if value is None and isinstance(obj, dict):
        value = obj.get(f"{attribute}_{suffix}")
    return "" if value is None else str(value)


@register.filter
def svg(charted: Any) -> Any:
    """The chart titled in the page's language (already safe markup)."""
    return charted.svg_en if english() else charted.svg_zh


ROLE_NAMES = {
    "health_worker": _("村医"),
    "supervisor": _("督导"),
    "analyst": _("分析员"),
    "admin": _("管理员"),
}


@register.filter
def role_name(role: str | None) -> str:
    return str(ROLE_NAMES.get(role or "", role or ""))


@register.simple_tag
def scope_label(scope: Any) -> str:
    """Where the user works: the whole province, or their counties' names."""
    if scope is None:
        return ""
    if scope.townships is None:
        return str(_("全部地区"))
    names = [
        c.name_en if english() else c.name_zh
        for c in counties_in_scope(scope)
        if c.code in scope.counties
    ]
    names += [
        t.name_en if english() else t.name_zh
        for t in townships_in_scope(scope)
        if t.county_code not in scope.counties
    ]
    return ", ".join(names) if english() else "、".join(names)


@register.filter
def pct(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def interval(row: Any) -> str:
    if row.ci_low is None or row.ci_high is None:
        return "–"
    return f"{row.ci_low * 100:.1f}–{row.ci_high * 100:.1f}%"


@register.filter
def target(row: Any) -> str:
    value = row.target if hasattr(row, "target") else None
    if value is None:
        return "–"
    sign = "≤" if getattr(row, "direction", ">=") == "<=" else "≥"
    return f"{sign}{value * 100:.0f}%"


@register.filter
def sortnum(value: float | int | None) -> str:
    """A `data-sort` value: numbers as they are, missing values last."""
    return "" if value is None else repr(float(value))


@register.filter
def hours(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}"


@register.filter
def reason_message(reason: dict) -> str:
    """A stored refusal reason in the page's language."""
    if english():
        return reason.get("message") or reason.get("code", "")
    return reason.get("message_zh") or reason.get("message") or reason.get("code", "")


COUNT_LABELS = {
    "fetched": _("已获取"),
    "new": _("新增"),
    "updated": _("已更新"),
    "unchanged": _("未变化"),
    "quarantined": _("已隔离"),
    "deleted": _("已删除"),
    "review_changes": _("审核变化"),
}


@register.filter
def count_label(key: str) -> str:
    return str(COUNT_LABELS.get(key, key))


@register.filter
def township_name(code: str | None) -> str:
    """A township's name in the page's language; the code itself when unknown."""
    place = township(code) if code else None
    if place is None:
        return code or "–"
    return place.name_en if english() else place.name_zh
