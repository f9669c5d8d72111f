"""Local state kept current from one database's `_changes` feed, in a SQLite file.

A path a person or a tablet waits on must not scan CouchDB. Where no key or bounded range
answers the question (a township's children with their latest details, a count of every
submission an analyst may list), Cradle keeps the answer itself: a `Projection` turns
changed documents into rows of its own tables, and `FeedState` applies the feed to them.

- Each page of the feed is applied in one SQLite transaction together with the feed
  position it reached (kept opaque, as CouchDB returned it): a crash leaves the previous
  page's state, never a torn one, and running again resumes from there.
- Projections upsert by document id, so a change seen twice (CouchDB repeats changes after
  a restart, and sends them out of order) leaves the same rows as once.
- Several processes share one file: one refreshes at a time (an exclusive `flock`), the
  others read the state already committed (SQLite's WAL mode lets readers go on while a
  page is written). A reader that must answer at once passes a time `budget` and gets the
  last committed state when catching up takes longer.
- A projection whose `version` changed, or `rebuild=True`, empties its tables and reads
  the feed from the start.

>>> db = couch.db("cradle_submissions")  # doctest: +SKIP
>>> state = FeedState(Path("/tmp/doc-index"), db, MyProjection())  # doctest: +SKIP
>>> state.refresh().caught_up  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sync.couch import Database, Seq

#: `progress(rows_read, rows_total_or_None)` while a refresh reads the feed.
Progress = Callable[[int, int | None], None]


class Projection(Protocol):
    """How one kind of local state is derived from documents."""

    #: File stem of the SQLite file, e.g. "children".
    name: str
    #: Changes whenever the tables or what goes into them change (then: rebuild).
    version: str

    def create(self, conn: sqlite3.Connection) -> None:
        """Create the tables and indexes (`IF NOT EXISTS`)."""

    def drop(self, conn: sqlite3.Connection) -> None:
        """Drop every table `create` made."""

    def apply(self, conn: sqlite3.Connection, changes: Sequence[Mapping[str, Any]]) -> None:
        """Apply feed rows (`id`, `deleted`, `doc`) in feed order; upsert by document id."""


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh did: `rows` feed rows applied, `caught_up` with the feed or not."""

    rows: int
    caught_up: bool
    full: bool
    seconds: float


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS feed_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (`BEGIN IMMEDIATE`), committed or rolled back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class FeedState:
    """One projection of one database, in `<directory>/<projection.name>.sqlite3`."""

    def __init__(self, directory: Path, db: Database, projection: Projection) -> None:
        self.directory = Path(directory)
        self.db = db
        self.projection = projection
        self.path = self.directory / f"{projection.name}.sqlite3"
        self.lock_path = self.directory / f"{projection.name}.lock"
        self._local = threading.local()

    # -- reading ----------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the state (tables created, version checked)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            conn = _connect(self.path)
            self._local.conn = conn
            self._prepare(conn)
        return conn

    def last_seq(self) -> Seq | None:
        """The feed position the committed state reflects; None before the first page."""
        meta = self._meta(self.connection())
        return meta.get("last_seq")

    def _meta(self, conn: sqlite3.Connection) -> dict[str, Any]:
        rows = conn.execute("SELECT key, value FROM feed_meta").fetchall()
        return {key: json.loads(value) for key, value in rows}

    def _set_meta(self, conn: sqlite3.Connection, **values: Any) -> None:
        conn.executemany(
            "INSERT INTO feed_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(key, json.dumps(value)) for key, value in values.items()],
        )

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Tables exist and belong to this projection version and database; else reset."""
        meta = self._meta(conn)
        if meta.get("version") == self.projection.version and meta.get("database") == self.db.name:
            return
        self._reset(conn)

    def _reset(self, conn: sqlite3.Connection) -> None:
        with transaction(conn):
            self.projection.drop(conn)
            self.projection.create(conn)
            conn.execute("DELETE FROM feed_meta")
            self._set_meta(conn, version=self.projection.version, database=self.db.name)

    # -- refreshing -------------------------------------------------------------------

    @contextlib.contextmanager
    def _refresh_lock(self, budget: float | None) -> Iterator[bool]:
        """Hold the refresh lock; with a `budget`, give up (False) when it is not had in time."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a+") as handle:
            deadline = None if budget is None else time.monotonic() + budget
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.02)
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def refresh(
        self,
        *,
        budget: float | None = None,
        batch: int = 1000,
        rebuild: bool = False,
        progress: Progress | None = None,
    ) -> RefreshResult:
        """Apply the changes since the last refresh.

        With a `budget` (seconds), stop after the page that passes it (or when another
        process holds the refresh lock that long) and report `caught_up=False`: the state
        committed so far stays valid and readable.
        """
        started = time.monotonic()
        conn = self.connection()
        with self._refresh_lock(budget) as locked:
            if not locked:
                return RefreshResult(0, False, False, time.monotonic() - started)
            if rebuild:
                self._reset(conn)
            else:
                self._prepare(conn)  # another process may have changed the version meanwhile
            since = self._meta(conn).get("last_seq")
            full = since is None
            read = 0
            total: int | None = None
            while True:
                page = self.db.changes(
                    since=since if since is not None else 0, limit=batch, include_docs=True
                )
                rows = [r for r in page.results if not str(r.get("id", "")).startswith("_design/")]
                with transaction(conn):
                    if rows:
                        self.projection.apply(conn, rows)
                    self._set_meta(conn, last_seq=page.last_seq)
                read += len(rows)
                if total is None and page.pending is not None:
                    total = read + page.pending
                if progress is not None:
                    progress(read, max(total, read) if total is not None else None)
                drained = len(page.results) < batch or page.last_seq == since
                since = page.last_seq
                if drained:
                    return RefreshResult(read, True, full, time.monotonic() - started)
                if budget is not None and time.monotonic() - started >= budget:
                    return RefreshResult(read, False, full, time.monotonic() - started)

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def doc_of(change: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The document of a feed row, or None when the row is a deletion."""
    doc = change.get("doc")
    if change.get("deleted") or not doc or doc.get("_deleted"):
        return None
    return doc
