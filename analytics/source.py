"""Where the analytics get their data: CouchDB through the columnar cache, or frames given.

>>> source = FrameSource(Dataset(empty_submissions(), empty_quarantine()))
>>> source.load().submissions.empty
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from analytics.cache import QUARANTINE, SUBMISSIONS, ColumnarCache, RefreshStats
from analytics.config import cache_dir
from analytics.errors import AnalyticsError
from analytics.flatten import empty_quarantine, empty_submissions
from sync.couch import CouchClient
from sync.errors import SyncError
from sync.schema import db_name

#: `progress(stage, done, total)`: stage is "submissions" or "quarantine"; total may be None.
StageProgress = Callable[[str, int, int | None], None]

__all__ = [
    "CouchSource",
    "Dataset",
    "FrameSource",
    "Source",
    "StageProgress",
    "empty_quarantine",
    "empty_submissions",
]


@dataclass(frozen=True)
class Dataset:
    """Flattened current documents: submissions (soft-deleted ones included, flagged) and
    quarantined (refused) submissions. Read-only: frames may be shared."""

    submissions: pd.DataFrame
    quarantine: pd.DataFrame
    stats: tuple[RefreshStats, ...] = ()


class Source(Protocol):
    def load(self, *, progress: StageProgress | None = None, rebuild: bool = False) -> Dataset: ...


@dataclass(frozen=True)
class FrameSource:
    """Frames already in memory (tests, notebooks)."""

    dataset: Dataset

    def load(self, *, progress: StageProgress | None = None, rebuild: bool = False) -> Dataset:
        return self.dataset


class CouchSource:
    """Cradle's `submissions` and `quarantine` databases, through the columnar cache.

    Every `load` first reads what changed since the previous one (one short request when
    nothing did), then returns the cached frames.
    """

    def __init__(
        self,
        client: CouchClient,
        prefix: str,
        directory: Path | None = None,
        *,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.columns = columns  # submission columns to read (None: all)
        self.directory = Path(directory) if directory is not None else cache_dir(prefix)
        self.caches = {
            "submissions": ColumnarCache(self.directory, SUBMISSIONS),
            "quarantine": ColumnarCache(self.directory, QUARANTINE),
        }

    def load(self, *, progress: StageProgress | None = None, rebuild: bool = False) -> Dataset:
        stats = []
        frames = {}
        for key, cache in self.caches.items():
            db = self.client.db(db_name(self.prefix, key))

            def report(done: int, total: int | None, stage: str = key) -> None:
                if progress is not None:
                    progress(stage, done, total)

            try:
                stats.append(cache.refresh(db, progress=report, rebuild=rebuild))
            except SyncError as e:
                raise AnalyticsError(f"cannot read {db.name} from CouchDB: {e}") from e
            except OSError as e:
                raise AnalyticsError(
                    f"cannot write the analytics cache in {cache.directory}: {e}"
                ) from e
            frames[key] = cache.read(self.columns if key == "submissions" else None)
        return Dataset(frames["submissions"], frames["quarantine"], tuple(stats))
