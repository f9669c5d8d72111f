"""How a run reads its window of changed rows: oldest first, one time slice at a time,
the next slice read from Central while the rows of this one are judged and written.

Central serves rows newest first and pages backwards in time, while a checkpoint may only
move past rows that are written; so nothing can be written before the oldest row of what
is being read is known. The window is therefore cut by `submissionDate` into slices:
a slice is `submissionDate gt AFTER and submissionDate le UPTO` added to the window's
filter, each slice's rows are paged newest first into temporary files (not memory) and
replayed oldest first, and the slices follow each other oldest first. Writing starts
after one slice instead of after the whole window, and reading overlaps writing.

Every row falls in exactly one slice: neighbouring slices share one literal bound, which
Central compares against its own microsecond timestamps; the first slice is open below
(rows submitted long ago and edited or deleted since) and the last open above (rows
that arrive while the run reads). A row's `submissionDate` never changes, so its live and
deleted copies fall in the same slice. Bounds come from Central itself, as the
`submissionDate` of the row `slice_rows` into the rest of the window read oldest first,
so slices hold about `slice_rows` rows however the rows are spread in time. Within a
slice, paging is by Central's `$skiptoken` (keyed on the last row), so rows arriving
during the run cannot shift pages.
"""

from __future__ import annotations

import contextlib
import heapq
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

import orjson

from sync.central.checkpoint import deleted_filter, format_time, live_filter, parse_time
from sync.central.client import CentralClient


class Spool:
    """Rows kept in a temporary file while a slice is paged, read back newest-last."""

    def __init__(self, *, keep_ids: bool = False) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="cradle-central-")
        self._starts = array("q")
        self._end = 0
        self._keep_ids = keep_ids
        self.ids: set[str] = set()  # the rows' `__id`s, when asked to keep them

    def __len__(self) -> int:
        return len(self._starts)

    def append(self, row: Mapping[str, Any]) -> None:
        data = orjson.dumps(row)
        self._starts.append(self._end)
        self._file.write(data)
        self._end += len(data)
        if self._keep_ids:
            self.ids.add(str(row.get("__id")))

    def reversed(self) -> Iterator[dict[str, Any]]:
        """Rows in the opposite order to how they were appended."""
        self._file.flush()
        end = self._end
        for start in reversed(self._starts):
            self._file.seek(start)
            yield orjson.loads(self._file.read(end - start))
            end = start

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def submitted(row: Mapping[str, Any]) -> str:
    return str((row.get("__system") or {}).get("submissionDate") or "")


def oldest_first(deleted: Spool, live: Spool) -> Iterator[dict[str, Any]]:
    """Both feeds (each newest first as Central served them) merged oldest first by
    `submissionDate`. A row deleted while the run paged may be in both: the deleted one
    is the later state, so the live copy is dropped."""
    live_rows = (r for r in live.reversed() if str(r.get("__id")) not in deleted.ids)
    return heapq.merge(deleted.reversed(), live_rows, key=submitted)


@dataclass(frozen=True)
class Slice:
    """Rows submitted after `after` and up to `upto` (None: no bound on that side)."""

    after: str | None
    upto: str | None

    def narrow(self, expr: str | None) -> str | None:
        """The window's filter `expr` limited to this slice.

        >>> Slice("2026-11-28T10:00:00.000Z", None).narrow("__system/edits gt 0")
        '(__system/edits gt 0) and __system/submissionDate gt 2026-11-28T10:00:00.000Z'
        """
        bounds = []
        if self.after is not None:
            bounds.append(f"__system/submissionDate gt {self.after}")
        if self.upto is not None:
            bounds.append(f"__system/submissionDate le {self.upto}")
        if expr is None:
            return " and ".join(bounds) or None
        return " and ".join([f"({expr})", *bounds]) if bounds else expr


def next_bound(after: str | None, found: str | None) -> str | None:
    """The upper bound of the slice that starts after `after`, from the `submissionDate`
    Central showed for the row `slice_rows` further on (None: the rest of the window).
    Central shows milliseconds, so that row may show `after` itself: the bound then
    moves on by a millisecond, so that every slice moves forward.

    >>> next_bound("2026-11-28T10:00:00.000Z", "2026-11-28T10:00:00.000Z")
    '2026-11-28T10:00:00.001Z'
    """
    if found is None or after is None or parse_time(found) > parse_time(after):
        return found
    return format_time(parse_time(after) + timedelta(milliseconds=1))


@dataclass
class SliceRows:
    """One slice, read: its deleted and live rows, each spooled newest first."""

    slice: Slice
    deleted: Spool
    live: Spool
    live_total: int | None = None  # rows the live feed held past `after`, when asked

    def close(self) -> None:
        self.deleted.close()
        self.live.close()


def read_slice(
    central: CentralClient,
    form_id: str,
    start: str | None,
    after: str | None,
    *,
    page_size: int,
    slice_rows: int,
    on_rows: Callable[[int], None],
) -> SliceRows:
    """Find where the slice after `after` ends, then page its deleted and live rows."""
    live_expr = live_filter(start)
    rest = Slice(after, None)
    found, total = central.boundary(
        form_id, filter=rest.narrow(live_expr), skip=slice_rows - 1, count=after is None
    )
    piece = Slice(after, next_bound(after, found))
    read = SliceRows(piece, Spool(keep_ids=True), Spool(), total)
    try:
        for spool, expr in ((read.deleted, deleted_filter(start)), (read.live, live_expr)):
            narrowed = piece.narrow(expr)
            for page in central.pages(form_id, filter=narrowed, top=page_size, count=False):
                rows = page.get("value") or []
                for row in rows:
                    spool.append(row)
                on_rows(len(rows))
    except BaseException:
        read.close()
        raise
    return read


def read_window(
    central: CentralClient,
    form_id: str,
    start: str | None,
    *,
    page_size: int,
    slice_rows: int,
    on_rows: Callable[[int], None] = lambda n: None,
    on_total: Callable[[int], None] = lambda n: None,
) -> Iterator[dict[str, Any]]:
    """Every row of the window that starts at `start`, oldest first; the next slice is
    read on a background thread while the caller works through this one. `on_rows`
    hears of every page (on that thread); `on_total` of how many live rows the window
    held when the run began. When the caller stops early, the slice being read is
    abandoned after its current page."""
    stopping = threading.Event()

    def paged(n: int) -> None:
        if stopping.is_set():
            raise _Abandoned
        on_rows(n)

    def fetch(after: str | None) -> SliceRows:
        return read_slice(
            central,
            form_id,
            start,
            after,
            page_size=page_size,
            slice_rows=slice_rows,
            on_rows=paged,
        )

    with ThreadPoolExecutor(1, thread_name_prefix="cradle-central-read") as reader:
        ahead: Future[SliceRows] | None = reader.submit(fetch, None)
        try:
            while ahead is not None:
                current = ahead.result()
                if current.live_total is not None:
                    on_total(current.live_total)
                upto = current.slice.upto
                ahead = reader.submit(fetch, upto) if upto is not None else None
                with current.deleted, current.live:
                    yield from oldest_first(current.deleted, current.live)
        finally:
            stopping.set()
            if ahead is not None and not ahead.cancel():
                with contextlib.suppress(Exception):  # the caller's own error is the one to raise
                    ahead.result().close()


class _Abandoned(Exception):
    """The caller stopped reading the window: the slice being read is not wanted."""
