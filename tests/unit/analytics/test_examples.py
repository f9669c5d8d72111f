"""The examples in the analytics docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "analytics.cache",
    "analytics.children",
    "analytics.columns",
    "analytics.config",
    "analytics.flatten",
    "analytics.growth",
    "analytics.indicators",
    "analytics.memo",
    "analytics.outputs",
    "analytics.outputs.geojson",
    "analytics.outputs.maps",
    "analytics.outputs.tables",
    "analytics.per_township",
    "analytics.periods",
    "analytics.quality",
    "analytics.records",
    "analytics.service",
    "analytics.source",
    "analytics.stats",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
