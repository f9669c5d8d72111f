"""The dashboard's pure parts: periods offered, the SVG trend chart, template filters."""

from __future__ import annotations

from datetime import date

from django.utils import translation

from server.dashboard.charts import Point, trend_svg
from server.dashboard.periods import default_period, period_groups, previous_quarters
from server.dashboard.selectors import reason_messages
from server.dashboard.templatetags.dashboard import pct, role_name


def test_periods_offered_around_today() -> None:
    groups = {g.kind: g.labels for g in period_groups(date(2026, 2, 10))}
    assert groups["quarter"][:3] == ("2026-Q1", "2025-Q4", "2025-Q3")
    assert len(groups["quarter"]) == 8
    assert groups["month"][:3] == ("2026-02", "2026-01", "2025-12")
    assert groups["year"] == ("2026", "2025", "2024")
    assert default_period(date(2026, 11, 28)) == "2026-Q4"
    assert previous_quarters("2026-Q1", 3) == ["2025-Q3", "2025-Q4", "2026-Q1"]


def test_trend_chart_draws_points_target_and_gaps() -> None:
    points = [
        Point("2026-Q1", 0.5, 1, 2, False),
        Point("2026-Q2", None, 0, 0, None),
        Point("2026-Q3", 1.0, 3, 3, True),
    ]
    svg = trend_svg(points, target=0.95, title="卡介苗")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2  # the period without data breaks the line
    assert 'class="target"' in svg
    assert "2026-Q1: 50.0% (1/2)" in svg and "2026-Q3: 100.0% (3/3)" in svg
    assert 'class="point below"' in svg and 'class="point ok"' in svg
    assert "<title>卡介苗</title>" in svg


def test_trend_chart_escapes_its_texts() -> None:
    svg = trend_svg([Point("<b>", 0.2, 1, 5, None)], target=None, title='"><script>x</script>')
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and 'class="target"' not in svg


def test_filters_follow_the_language() -> None:
    assert pct(0.6667) == "66.7%" and pct(None) == "–"
    with translation.override("en"):
        assert role_name("supervisor") == "Supervisor"
    with translation.override("zh-hans"):
        assert role_name("supervisor") == "督导"


def test_reason_messages_fill_placeholders() -> None:
    assert reason_messages("unknown_township") == ("未知的乡镇：…。", "Unknown township ….")
    assert reason_messages("no_such_code") == ("no_such_code", "no_such_code")
