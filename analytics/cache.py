"""A local columnar copy of one CouchDB database, kept current from its `_changes` feed.

Layout, under `<CRADLE_DATA_DIR>/analytics-cache/<prefix>/`:

- `<name>-<generation>-<token>.parquet`: immutable segments of flattened rows (see
  `analytics.flatten`), each holding the documents that changed in one stretch of the feed;
  a later segment overrides an earlier one row by row (`_id`), tombstones included.
- `<name>.json`: the manifest: the segments in order, the feed position `last_seq` (kept
  opaque, exactly as CouchDB returned it), the database name and the schema version.
- `<name>.lock`: `flock`ed exclusively while refreshing, shared while reading, so several
  processes (gunicorn workers, the CLI) can share one cache.

A refresh reads only the changes since `last_seq`, writes them as a new segment and then the
manifest (each to a temporary file renamed into place): a crash leaves the previous state,
never a torn one. Many small segments are compacted into one. Deleting the directory is
always safe: the next refresh rebuilds it from the feed with the same rows.

>>> cache = ColumnarCache(Path("/tmp/cache-doc"), SUBMISSIONS)  # doctest: +SKIP
>>> cache.refresh(couch.db("cradle_submissions")).rows_read  # doctest: +SKIP
1200
>>> cache.read().shape  # doctest: +SKIP
(1180, 39)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics import columns as C
from analytics import flatten as F
from analytics.errors import AnalyticsError
from sync.couch import Database

FORMAT = 1
#: Feed rows buffered before a segment is written (bounds memory during a cold load).
SEGMENT_ROWS = 50_000
#: More segments than this, or changed rows above this share of the base, trigger compaction.
MAX_SEGMENTS = 6
COMPACT_SHARE = 0.25

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class TableSpec:
    """How one database is flattened and stored."""

    name: str
    flatten: Callable[[Sequence[Mapping[str, Any]]], pd.DataFrame]
    empty: Callable[[], pd.DataFrame]
    categorical: tuple[str, ...]

    @property
    def schema(self) -> pa.Schema:
        return _arrow_schema(self.empty())

    @property
    def version(self) -> str:
        """Changes whenever the flattened columns or their types change (then: rebuild)."""
        return f"{FORMAT}:" + ",".join(f"{f.name}={f.type}" for f in self.schema)


SUBMISSIONS = TableSpec(
    "submissions", F.flatten_submissions, F.empty_submissions, F.SUBMISSION_CATEGORICAL
)
QUARANTINE = TableSpec(
    "quarantine", F.flatten_quarantine, F.empty_quarantine, F.QUARANTINE_CATEGORICAL
)


@dataclass(frozen=True)
class RefreshStats:
    """What one refresh did: `rows_read` feed rows, from scratch or not, in `seconds`."""

    rows_read: int
    full: bool
    segments_written: int
    compacted: bool
    seconds: float


def _arrow_type(dtype: Any) -> pa.DataType:
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pa.timestamp("ns", tz="UTC")
    if pd.api.types.is_datetime64_dtype(dtype):
        return pa.timestamp("ns")
    if pd.api.types.is_bool_dtype(dtype):
        return pa.bool_()
    if pd.api.types.is_integer_dtype(dtype):
        return pa.int32()
    if pd.api.types.is_float_dtype(dtype):
        return pa.float64()
    return pa.string()


def _arrow_schema(template: pd.DataFrame) -> pa.Schema:
    return pa.schema(
        [pa.field(name, _arrow_type(dtype)) for name, dtype in template.dtypes.items()]
    )


# Frames read from disk, shared within the process until the manifest changes.
_memo: dict[tuple[Path, tuple[str, ...] | None], tuple[tuple[str, int], pd.DataFrame]] = {}
_memo_lock = threading.Lock()


class ColumnarCache:
    """One database's Parquet mirror in `directory` (see the module docstring)."""

    def __init__(self, directory: Path, spec: TableSpec) -> None:
        self.directory = Path(directory)
        self.spec = spec
        self.manifest_path = self.directory / f"{spec.name}.json"
        self.lock_path = self.directory / f"{spec.name}.lock"

    # -- state ----------------------------------------------------------------------

    def manifest(self) -> dict[str, Any] | None:
        """The current manifest, or None when there is none (or it is from another schema)."""
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise AnalyticsError(f"{self.manifest_path}: unreadable cache manifest: {e}") from e
        if data.get("version") != self.spec.version:
            return None
        return data

    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a+") as handle:
            fcntl.flock(handle.fileno(), mode)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # -- refresh --------------------------------------------------------------------

    def refresh(
        self,
        db: Database,
        *,
        progress: Progress | None = None,
        batch: int = 1000,
        rebuild: bool = False,
    ) -> RefreshStats:
        """Read the changes since the last refresh (everything when new or `rebuild`)."""
        started = time.monotonic()
        with self._locked(fcntl.LOCK_EX):
            manifest = None if rebuild else self.manifest()
            if manifest is not None and manifest.get("database") != db.name:
                manifest = None
            full = manifest is None
            if full:
                manifest = {
                    "version": self.spec.version,
                    "database": db.name,
                    "id": secrets.token_hex(8),
                    "generation": 0,
                    "last_seq": 0,
                    "segments": [],
                }
                self._write_manifest(manifest)
            self._remove_orphans(manifest)
            since = manifest["last_seq"]
            schema = self.spec.schema
            # Pages wait as Arrow tables: a fraction of the memory of object-dtype frames.
            pending: list[pa.Table] = []
            buffered = read = written = 0
            total: int | None = None
            for page in db.iter_changes(since=since, batch=batch, include_docs=True):
                if page.results:
                    frame = self.spec.flatten(page.results)
                    pending.append(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
                    buffered += len(page.results)
                    read += len(page.results)
                if total is None and page.pending is not None:
                    total = read + page.pending
                since = page.last_seq
                if progress is not None:
                    progress(read, max(total or 0, read) if total is not None else None)
                if buffered >= SEGMENT_ROWS:
                    manifest = self._append(manifest, pending, since)
                    pending, buffered, written = [], 0, written + 1
            if pending or since != manifest["last_seq"]:
                manifest = self._append(manifest, pending, since)
                written += 1 if pending else 0
            if progress is not None:
                progress(read, read)  # done: the total is now known, whatever the server said
            compacted = self._maybe_compact(manifest, force=full and written > 1)
            _release_arrow_memory()
        return RefreshStats(read, full, written, compacted, time.monotonic() - started)

    def _append(
        self, manifest: dict[str, Any], tables: list[pa.Table], last_seq: Any
    ) -> dict[str, Any]:
        segments = list(manifest["segments"])
        # Only new rows make a new generation: a feed position alone (CouchDB 3 may name
        # the same point differently from one request to the next) changes no data, and
        # must not throw away the reports kept for this generation.
        tables = [t for t in tables if t.num_rows]
        generation = int(manifest.get("generation", 0)) + (1 if tables else 0)
        if tables:
            table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
            latest = _last_copies(table[C.DOC_ID])
            if not latest.all():  # a document changed again while the feed was read
                table = table.filter(pa.array(latest))
            segments.append(self._write_segment([table], generation))
        updated = {**manifest, "segments": segments, "last_seq": last_seq, "generation": generation}
        self._write_manifest(updated)
        return updated

    def _write_segment(self, parts: Iterable[pa.Table], generation: int) -> dict[str, Any]:
        """One segment file from `parts` in order, each written as it comes (then dropped)."""
        schema = self.spec.schema
        name = f"{self.spec.name}-{generation:08d}-{secrets.token_hex(4)}.parquet"
        final = self.directory / name
        temporary = self.directory / f".{name}.tmp"
        rows = gone = 0
        with pq.ParquetWriter(temporary, schema, compression="zstd") as writer:
            for part in parts:
                writer.write_table(part.cast(schema))
                rows += part.num_rows
                gone += pc.sum(part[C.TOMBSTONE].cast(pa.int64())).as_py() or 0
        _fsync(temporary)
        os.replace(temporary, final)
        return {"file": name, "rows": rows, "live": rows - gone}

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        temporary = self.manifest_path.with_name(f".{self.manifest_path.name}.tmp")
        temporary.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        _fsync(temporary)
        os.replace(temporary, self.manifest_path)
        _fsync(self.directory)

    def _maybe_compact(self, manifest: dict[str, Any], *, force: bool = False) -> bool:
        segments = manifest["segments"]
        if len(segments) < 2:
            return False
        base = segments[0]["rows"]
        changed = sum(s["rows"] for s in segments[1:])
        if not force and len(segments) <= MAX_SEGMENTS and changed <= COMPACT_SHARE * max(base, 1):
            return False
        # Columnar all the way, one segment in memory at a time: a million rows never become
        # Python objects here, nor one table.
        generation = int(manifest["generation"]) + 1
        segment = self._write_segment(self._current(segments, dictionary=None), generation)
        self._write_manifest({**manifest, "segments": [segment], "generation": generation})
        for old in segments:
            (self.directory / old["file"]).unlink(missing_ok=True)
        return True

    def _remove_orphans(self, manifest: Mapping[str, Any]) -> None:
        """Segments no manifest names (a crash mid-write, a superseded schema) go."""
        keep = {s["file"] for s in manifest["segments"]}
        for path in self.directory.glob(f"{self.spec.name}-*.parquet"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
        for path in self.directory.glob(f".{self.spec.name}*.tmp"):
            path.unlink(missing_ok=True)

    # -- read -----------------------------------------------------------------------

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The current documents (tombstones applied), low-cardinality columns categorical.

        `columns` limits what is read (the document id and tombstone flag always are). The
        frame is shared by every caller in the process until the next refresh changes the
        cache: treat it as read-only.
        """
        wanted = None
        if columns is not None:
            known = set(self.spec.schema.names)
            wanted = list(
                dict.fromkeys([C.DOC_ID, C.TOMBSTONE, *(c for c in columns if c in known)])
            )
        with self._locked(fcntl.LOCK_SH):
            manifest = self.manifest()
            if manifest is None:
                empty = F.categorise(self.spec.empty(), self.spec.categorical)
                return empty if wanted is None else empty[wanted]
            key = (self.manifest_path.resolve(), tuple(wanted) if wanted else None)
            generation = (str(manifest.get("id")), int(manifest["generation"]))
            with _memo_lock:
                hit = _memo.get(key)
            if hit is not None and hit[0] == generation:
                return hit[1]
            parts = list(
                self._current(
                    manifest["segments"], dictionary=list(self.spec.categorical), columns=wanted
                )
            )
            table = pa.concat_tables(parts, promote_options="permissive")
            del parts  # the table's buffers may then be released column by column
            frame = table.to_pandas(split_blocks=True, self_destruct=True)
            del table
            _release_arrow_memory()
        with _memo_lock:
            _memo[key] = (generation, frame)
        return frame

    def _current(
        self,
        segments: Sequence[Mapping[str, Any]],
        *,
        dictionary: list[str] | None,
        columns: list[str] | None = None,
    ) -> Iterator[pa.Table]:
        """Each document's last row, tombstones dropped, segment by segment in order.

        Which rows stay is decided from the id and tombstone columns first, so that only one
        whole segment is in memory at a time besides the rows already kept.
        """
        if not segments:
            empty = pa.Table.from_pandas(self.spec.empty(), schema=self.spec.schema)
            yield empty.select(columns) if columns else empty
            return
        keys = [C.TOMBSTONE] if len(segments) == 1 else [C.DOC_ID, C.TOMBSTONE]
        marks = pa.concat_tables([self._read_segment(s, columns=keys) for s in segments])
        keep = ~marks[C.TOMBSTONE].to_numpy()
        if len(segments) > 1:  # within a segment, ids are unique
            keep &= _last_copies(marks[C.DOC_ID])
        del marks
        start = 0
        for segment in segments:
            part = self._read_segment(segment, columns=columns, dictionary=dictionary)
            kept = keep[start : start + part.num_rows]
            start += part.num_rows
            if not kept.all():
                schema, arrays = part.schema, part.columns
                del part  # from here on the list holds the only reference to each column
                _filter_each(arrays, kept)
                part = pa.Table.from_arrays(arrays, schema=schema)
            yield part

    def _read_segment(
        self,
        segment: Mapping[str, Any],
        *,
        columns: list[str] | None,
        dictionary: list[str] | None = None,
    ) -> pa.Table:
        if dictionary is not None and columns is not None:
            dictionary = [c for c in dictionary if c in columns]
        try:
            return pq.read_table(
                self.directory / segment["file"], columns=columns, read_dictionary=dictionary
            )
        except (OSError, pa.ArrowException) as e:
            raise AnalyticsError(
                f"{self.directory}: unreadable analytics cache ({e}); rebuild it with "
                "--rebuild-cache"
            ) from e

    def clear(self) -> None:
        """Forget everything (the next refresh reads the whole feed)."""
        with self._locked(fcntl.LOCK_EX):
            manifest = self.manifest()
            self.manifest_path.unlink(missing_ok=True)
            for segment in (manifest or {}).get("segments", []):
                (self.directory / segment["file"]).unlink(missing_ok=True)
        with _memo_lock:
            for key in [k for k in _memo if k[0] == self.manifest_path.resolve()]:
                _memo.pop(key, None)


def _last_copies(ids: pa.ChunkedArray) -> np.ndarray:
    """True at each id's last occurrence (a later row of a document overrides an earlier)."""
    rows = pa.array(np.arange(len(ids), dtype=np.int64))
    last = (
        pa.table({C.DOC_ID: ids, "_row": rows})
        .group_by(C.DOC_ID, use_threads=False)
        .aggregate([("_row", "max")])["_row_max"]
    )
    latest = np.zeros(len(ids), dtype=bool)
    latest[last.to_numpy()] = True
    return latest


def _filter_each(columns: list[pa.ChunkedArray], keep: np.ndarray) -> None:
    """Replace each column by its rows at `keep`, one at a time: each original is released
    as soon as its copy exists, so a filtered segment never needs twice its memory."""
    mask = pa.array(keep)
    for i in range(len(columns)):
        columns[i] = columns[i].filter(mask)


def _release_arrow_memory() -> None:
    """Hand the pages Arrow's allocator keeps for reuse back to the system: what follows is
    pandas and NumPy, which allocate elsewhere, so kept pages would only add to the peak."""
    pa.default_memory_pool().release_unused()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
