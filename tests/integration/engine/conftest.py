"""The form engine (one Node process per test module) and, re-exported from the OpenRosa
tests, the Cradle server on fresh CouchDB databases, its users and the built forms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.runner import Engine


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine() as running:
        yield running
