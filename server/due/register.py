"""This server's children register: caught up within a time budget, never waited on.

A request first lets the register read what changed since the last one, for at most
`BUDGET` seconds (one short `_changes` request when nothing did). If that is not enough
(a burst of submissions, another process rebuilding, CouchDB slow or down), the request
goes on with the state already committed, and one background thread per process keeps
catching up. Until the feed has been read to its end once, the register is partial:
lists must not be made from it (`RegisterNotReady`), only last good ones served.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from analytics.register import RegisterProjection, generation, is_complete, mark_complete
from server.core.local import local_state
from sync.errors import SyncError
from sync.follow import FeedState, Progress, RefreshResult

log = logging.getLogger(__name__)

#: Seconds a request lets the register catch up before answering from what it has.
BUDGET = 0.5
#: Changes per feed page read for a request: small enough that a page fits in the budget.
REQUEST_BATCH = 250
#: Seconds a client is asked to wait while the register is first built.
RETRY_AFTER = 60

_thread_lock = threading.Lock()
_thread: threading.Thread | None = None


class RegisterNotReady(Exception):
    """The register is being built from the start and no earlier answer is at hand."""


@dataclass(frozen=True)
class View:
    """The register as one request sees it."""

    state: FeedState
    caught_up: bool  # with the feed, at the time of the request
    complete: bool  # read to the end of the feed once: lists from it are whole

    def connection(self) -> sqlite3.Connection:
        return self.state.connection()


def register_state() -> FeedState:
    """The process-wide state of the children register over `submissions`."""
    return local_state("submissions", RegisterProjection())


def refresh_register(
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    budget: float | None = None,
    batch: int = 1000,
    state: FeedState | None = None,
) -> RefreshResult:
    """Bring the register up to date (from scratch with `rebuild`); for `cradle index
    refresh` and start-up warm-ups. Records when the feed was read to its end."""
    state = state or register_state()
    conn = state.connection()
    seen = [generation(conn)]

    def report(done: int, total: int | None) -> None:
        seen[0] = generation(conn)  # inside the refresh: the tables this refresh fills
        if progress is not None:
            progress(done, total)

    result = state.refresh(budget=budget, batch=batch, rebuild=rebuild, progress=report)
    if result.caught_up:
        mark_complete(conn, seen[0])
    return result


def catch_up(budget: float = BUDGET) -> View:
    """Let the register catch up for at most `budget` seconds; keep going in the
    background when that was not enough."""
    state = register_state()
    try:
        caught_up = refresh_register(budget=budget, batch=REQUEST_BATCH, state=state).caught_up
    except SyncError as exc:
        log.warning("children register not refreshed, answering from what it holds: %s", exc)
        caught_up = False
    if not caught_up:
        _keep_catching_up(state)
    return View(state, caught_up, is_complete(state.connection()))


def _keep_catching_up(state: FeedState) -> None:
    global _thread
    with _thread_lock:
        if _thread is not None and _thread.is_alive():
            return
        _thread = threading.Thread(
            target=_catch_up_fully, args=(state,), name="register-catch-up", daemon=True
        )
        _thread.start()


def _catch_up_fully(state: FeedState) -> None:
    try:
        result = refresh_register(state=state)
        log.info("children register caught up: %d changes in %.1f s", result.rows, result.seconds)
    except Exception:  # a worker thread: log and end; the next request starts another
        log.warning("children register could not catch up", exc_info=True)
    finally:
        state.close()


@contextlib.contextmanager
def snapshot(view: View) -> Iterator[sqlite3.Connection]:
    """One read transaction: every query inside sees the same committed register."""
    conn = view.connection()
    if conn.in_transaction:  # nested: the outer snapshot holds
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A small thread-safe LRU memo of values made from the register."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        value = self.get(key)
        return value if value is not None else self.put(key, make())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
