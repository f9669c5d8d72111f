"""The form engine (one Node process per test module) and, re-exported from the OpenRosa
tests, the Cradle server on fresh CouchDB databases, its users and the built forms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.runner import Engine
from tests.integration.openrosa.conftest import built_forms, server, users

__all__ = ["built_forms", "engine", "server", "users"]


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine() as running:
        yield running
