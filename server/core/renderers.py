"""DRF renderers for files the views already rendered (CSV, XLSX, PNG bytes)."""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import BaseRenderer


class _Bytes(BaseRenderer):
    """Passes bytes the view already rendered."""

    charset = None

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return data


class CSVRenderer(_Bytes):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"


class XLSXRenderer(_Bytes):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"


class PNGRenderer(_Bytes):
    media_type = "image/png"
    format = "png"


class GeoJSONRenderer(_Bytes):
    media_type = "application/geo+json"
    format = "geojson"
    charset = "utf-8"
