"""Shaping what selectors return for the templates: charts, links, quarantine items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from server.dashboard.charts import Point, trend_svg
from server.dashboard.selectors import ProgrammeTrends, Trend

COVERAGE_API = "/api/coverage/"
COVERAGE_MAP = "/api/coverage/map.png"
COVERAGE_GEOJSON = "/api/coverage/geojson"


def _query(params: dict[str, str | None], **extra: str) -> str:
    return urlencode({**{k: v for k, v in params.items() if v}, **extra})


def coverage_downloads(params: dict[str, str | None]) -> dict[str, str]:
    """The same view from the coverage API, as CSV, XLSX and GeoJSON."""
    return {
        "csv": f"{COVERAGE_API}?{_query(params, format='csv')}",
        "xlsx": f"{COVERAGE_API}?{_query(params, format='xlsx')}",
        "geojson": f"{COVERAGE_GEOJSON}?{_query(params)}",
    }


def coverage_map_url(params: dict[str, str | None]) -> str:
    return f"{COVERAGE_MAP}?{_query(params)}"


@dataclass(frozen=True)
class ChartedTrend:
    trend: Trend
    svg_zh: str
    svg_en: str


@dataclass(frozen=True)
class ChartedProgramme:
    programme: Any
    trends: list[ChartedTrend]


def with_charts(programme: ProgrammeTrends) -> ChartedProgramme:
    charted = []
    for trend in programme.trends:
        points = [Point(p.period, p.rate, p.numerator, p.denominator, p.met) for p in trend.points]
        target = trend.indicator.target
        charted.append(
            ChartedTrend(
                trend,
                trend_svg(points, target=target, title=trend.indicator.name_zh),
                trend_svg(points, target=target, title=trend.indicator.name_en),
            )
        )
    return ChartedProgramme(programme.programme, charted)


@dataclass(frozen=True)
class QuarantineItem:
    id: str
    status: str
    received_at: datetime | None
    source: str
    form_id: str
    township_code: str
    county_code: str
    submitter: str
    instance_id: str
    size: int
    reasons: list[dict[str, Any]]
    resolved_as: str
    attachments: list[str]


def quarantine_item(doc: dict[str, Any]) -> QuarantineItem:
    return QuarantineItem(
        id=doc["id"],
        status=doc.get("status") or "open",
        received_at=_instant(doc.get("received_at")),
        source=doc.get("source") or "",
        form_id=doc.get("form_id") or "",
        township_code=doc.get("township_code") or "",
        county_code=doc.get("county_code") or "",
        submitter=doc.get("submitter") or "",
        instance_id=doc.get("instance_id") or "",
        size=int(doc.get("size") or 0),
        reasons=list(doc.get("reasons") or []),
        resolved_as=doc.get("resolved_as") or "",
        attachments=list(doc.get("attachments") or []),
    )


def _instant(text: str | None) -> datetime | None:
    """An ISO 8601 instant as stored (`...Z`), aware; None when missing or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


COUNT_KEYS = ("fetched", "new", "updated", "unchanged", "quarantined", "deleted", "review_changes")


@dataclass(frozen=True)
class SyncRun:
    id: str
    source: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int]
    total: int | None
    written: int
    form: str
    error: str
    requested_by: str

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.written / self.total))

    @property
    def count_list(self) -> list[tuple[str, int]]:
        return [(k, self.counts.get(k, 0)) for k in COUNT_KEYS]


def sync_run(record: dict[str, Any]) -> SyncRun:
    return SyncRun(
        id=record["id"],
        source=record.get("source") or "",
        status=record.get("status") or "",
        started_at=_instant(record.get("started_at")),
        finished_at=_instant(record.get("finished_at")),
        counts={k: int(v or 0) for k, v in (record.get("counts") or {}).items()},
        total=record.get("total"),
        written=int(record.get("written") or 0),
        form=record.get("form") or "",
        error=record.get("error") or "",
        requested_by=record.get("requested_by") or "",
    )
