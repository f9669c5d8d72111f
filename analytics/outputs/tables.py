"""CSV and JSON renderings of a coverage report (machine-readable, column names as in
`analytics.columns`)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from analytics.config import Indicator
from analytics.periods import Period


def to_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a byte-order mark, so that Excel shows the Chinese names correctly.

    >>> to_csv(pd.DataFrame({"a": [1]}))[:3] == b"\\xef\\xbb\\xbf"
    True
    """
    return frame.to_csv(index=False).encode("utf-8-sig")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN and NA as None, numpy scalars as Python values."""
    return json.loads(frame.to_json(orient="records", force_ascii=False, date_format="iso"))


def definitions(indicators: tuple[Indicator, ...] | list[Indicator]) -> list[dict[str, Any]]:
    """The definitions of the indicators shown, for people and machines."""
    return [
        {
            "indicator": i.id,
            "programme": i.programme,
            "name_zh": i.name_zh,
            "name_en": i.name_en,
            "definition_zh": i.definition_zh,
            "definition_en": i.definition_en,
            "target": i.target,
            "direction": i.direction,
            "target_population": i.target_population,
            "prorated": i.prorate,
        }
        for i in indicators
    ]


def report_json(
    *,
    period: Period,
    table: pd.DataFrame,
    quality: pd.DataFrame | None,
    indicators: tuple[Indicator, ...] | list[Indicator],
) -> dict[str, Any]:
    """The whole report as one JSON-ready object."""
    return {
        "period": {
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "indicators": definitions(indicators),
        "results": records(table),
        "quality": records(quality) if quality is not None else [],
    }


def to_json(**kwargs: Any) -> bytes:
    """`report_json(...)` as UTF-8 bytes."""
    return json.dumps(report_json(**kwargs), ensure_ascii=False, indent=1).encode("utf-8")
