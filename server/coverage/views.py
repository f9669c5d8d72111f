"""Coverage API: the table (JSON, CSV, XLSX), a PNG map per indicator, GeoJSON for GIS.

Thin: validate the query, ask `analytics.service` within the caller's scope, render.
Supervisors see their townships, analysts and admins everything, health workers nothing;
no personal data can come out (the analytics hold aggregates only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.config import Indicator
from analytics.errors import AnalyticsError
from analytics.periods import Period
from analytics.service import CoverageReport, check_query, coverage_report, coverage_table
from forms.registry import load_registry
from server.accounts.scope import Scope, scope_for
from server.core.errors import ApplicationError
from server.core.renderers import CSVRenderer, GeoJSONRenderer, PNGRenderer, XLSXRenderer


class GeoJSONAsJSONRenderer(GeoJSONRenderer):
    media_type = "application/json"
    format = "json"


class CoverageQuery(serializers.Serializer):
    period = serializers.CharField(max_length=40, help_text="2026-07, 2026-Q3, 2026 or a..b")
    county = serializers.RegexField(r"^\d{6}$", required=False)
    indicator = serializers.ListField(
        child=serializers.RegexField(r"^[a-z0-9_]{1,60}$"), required=False, max_length=100
    )


class MapQuery(CoverageQuery):
    indicator = serializers.RegexField(r"^[a-z0-9_]{1,60}$")


PARAMS = [
    OpenApiParameter("period", str, required=True, description="2026-07, 2026-Q3, 2026, a..b"),
    OpenApiParameter("county", str),
    OpenApiParameter("indicator", str, many=True),
]


def _query(request: Request, kind: type[serializers.Serializer]) -> dict[str, Any]:
    data: dict[str, Any] = {k: v for k, v in request.query_params.items() if k != "indicator"}
    indicators = [
        part
        for value in request.query_params.getlist("indicator")
        for part in value.split(",")
        if part
    ]
    if indicators:
        data["indicator"] = indicators if kind is CoverageQuery else indicators[0]
    query = kind(data=data)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _scope(request: Request) -> Scope:
    scope = scope_for(request.user)
    if not scope.can_see_coverage:
        raise PermissionDenied("Your role does not allow coverage analytics.")
    return scope


@dataclass(frozen=True)
class _Asked:
    """A checked query: who asks, for which period, indicators and county."""

    scope: Scope
    period: Period
    indicators: tuple[Indicator, ...]
    county: str | None

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.indicators]


def _asked(request: Request, params: dict[str, Any]) -> _Asked:
    """A bad period, indicator or county is a 400 `invalid_query`; any later failure
    (CouchDB out of reach: 503) is the server's, and answered as such."""
    scope = _scope(request)
    indicators = params.get("indicator")
    if isinstance(indicators, str):
        indicators = [indicators]
    try:
        period, chosen = check_query(
            period=params["period"], indicators=indicators, county=params.get("county")
        )
    except AnalyticsError as exc:
        raise ApplicationError(str(exc), code="invalid_query") from exc
    return _Asked(scope, period, chosen, params.get("county"))


def _report(request: Request, params: dict[str, Any]) -> CoverageReport:
    asked = _asked(request, params)
    try:
        return coverage_report(
            period=asked.period, indicators=asked.ids, county=asked.county, scope=asked.scope
        )
    except PermissionError as exc:
        raise PermissionDenied(str(exc) or "Outside your area.") from exc


def _table(request: Request, params: dict[str, Any]) -> tuple[pd.DataFrame, _Asked]:
    """The coverage table alone, for the map and GeoJSON: no data-quality table and no
    overdue children, which neither shows (the costliest parts of a first request)."""
    asked = _asked(request, params)
    try:
        table = coverage_table(
            period=asked.period,
            indicators=asked.ids,
            county=asked.county,
            scope=asked.scope,
            overdue=False,
        )
    except PermissionError as exc:
        raise PermissionDenied(str(exc) or "Outside your area.") from exc
    return table, asked


def _attachment(response: Response, name: str) -> Response:
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class _CoverageBase(APIView):
    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON whatever format was asked for.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class CoverageView(_CoverageBase):
    """`GET /api/coverage/?period=2026-Q3[&county=450123][&indicator=imm_bcg...]`:
    the coverage table with data quality, as JSON (default), CSV or XLSX (`format` or
    `Accept`)."""

    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]

    @extend_schema(
        parameters=[*PARAMS, OpenApiParameter("format", str, enum=["json", "csv", "xlsx"])],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        report = _report(request, _query(request, CoverageQuery))
        fmt = request.accepted_renderer.format
        stem = f"coverage-{report.period.label}".replace("..", "_")
        if fmt == "csv":
            from analytics.outputs.tables import to_csv

            return _attachment(Response(to_csv(report.table)), f"{stem}.csv")
        if fmt == "xlsx":
            from analytics.outputs import render

            [body] = render(report, "xlsx").values()
            return _attachment(Response(body), f"{stem}.xlsx")
        from analytics.outputs.tables import report_json

        return Response(
            report_json(
                period=report.period,
                table=report.table,
                quality=report.quality,
                indicators=report.indicators,
            )
        )


class CoverageMapView(_CoverageBase):
    """`GET /api/coverage/map.png?period=2026-Q3&indicator=imm_hepb3[&county=450123]`."""

    renderer_classes = [PNGRenderer]

    @extend_schema(parameters=PARAMS, responses={(200, "image/png"): bytes})
    def get(self, request: Request) -> Response:
        table, asked = _table(request, _query(request, MapQuery))
        from analytics.outputs.maps import render_map

        registry = load_registry()
        body = render_map(
            table=table,
            indicator=asked.indicators[0],
            period=asked.period,
            boundaries=registry.boundaries,
            county_boundaries=registry.county_boundaries(),
            synthetic=registry.synthetic,
        )
        return Response(body)


class CoverageGeoJSONView(_CoverageBase):
    """`GET /api/coverage/geojson?period=2026-Q3[&county=...][&indicator=...]`: township
    polygons with their rates."""

    renderer_classes = [GeoJSONRenderer, GeoJSONAsJSONRenderer]

    @extend_schema(parameters=PARAMS, responses={(200, "application/geo+json"): dict})
    def get(self, request: Request) -> Response:
        table, _ = _table(request, _query(request, CoverageQuery))
        from analytics.outputs.geojson import to_geojson

        return Response(to_geojson(table, load_registry().boundaries))
