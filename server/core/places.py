"""The township registry as the server uses it, loaded once per process."""

from __future__ import annotations

from functools import lru_cache

from forms.registry import load_registry
from sync.ingest.normalize import Places


@lru_cache(maxsize=1)
def registry_places() -> Places:
    registry = load_registry()
    townships = registry.townships
    return Places.from_pairs(
        dict(zip(townships["township_code"], townships["county_code"], strict=True))
    )
