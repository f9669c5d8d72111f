"""Results kept in memory and reused: a bounded, thread-safe LRU that computes each value once.

Keys name the data a value was computed from by `generation(frame)`: a number given to each
frame the columnar cache hands out. `ColumnarCache.read` returns the very same frame until
the cache's manifest (`id`, `generation`) changes, so "same number" means "same data". The
frames are held weakly: a result never keeps an outdated frame alive, and the results of a
frame that is gone are dropped.

>>> memo = Memo(max_entries=2)
>>> memo.get("a", lambda: 1), memo.get("a", lambda: 2), memo.computed
(1, 1, 1)
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")

_numbers = itertools.count(1)
_generations: dict[int, tuple[weakref.ref, Generation]] = {}
_generations_lock = threading.Lock()
_memos: weakref.WeakSet[Memo] = weakref.WeakSet()


class Generation(int):
    """The number `generation` gives an object (an int of its own type, so that a key's
    other numbers are never taken for one)."""


def generation(obj: Any) -> Generation:
    """A number that stays the same while `obj` is the same object, and is never reused.

    >>> import pandas as pd
    >>> frame = pd.DataFrame()
    >>> generation(frame) == generation(frame) != generation(pd.DataFrame())
    True
    """
    key = id(obj)
    with _generations_lock:
        known = _generations.get(key)
        if known is not None and known[0]() is obj:
            return known[1]
        number = Generation(next(_numbers))

        def forget(_: weakref.ref, key: int = key, number: Generation = number) -> None:
            # Runs wherever the collector runs: only atomic operations, no lock.
            for memo in list(_memos):
                memo._gone.append(number)
            entry = _generations.get(key)
            if entry is not None and entry[1] == number:
                _generations.pop(key, None)

        _generations[key] = (weakref.ref(obj, forget), number)
        return number


class _Slot(Generic[V]):
    __slots__ = ("done", "lock", "size", "value")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value: V | None = None
        self.size = 0


class Memo(Generic[V]):
    """At most `max_entries` values (and about `max_bytes`), least recently used dropped first.

    `get(key, compute)` returns the kept value, or computes it: once, even when several
    threads ask for the same key at the same time (the others wait for it). A failed
    computation keeps nothing. Keys that are tuples holding a number of a collected frame
    (see `generation`) are dropped at the next call.
    """

    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int | None = None,
        size: Callable[[Any], int] | None = None,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._size = size or (lambda value: 0)
        self._slots: OrderedDict[Hashable, _Slot[V]] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0  # how many values were computed (for tests and benchmarks)
        self._gone: list[Generation] = []  # of collected objects, from `generation`'s callback
        _memos.add(self)

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value for `key`, computed by `compute()` if not kept."""
        with self._lock:
            self._drop_gone()
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
            self._slots.move_to_end(key)
        with slot.lock:
            if slot.done:
                return slot.value  # type: ignore[return-value]
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    if self._slots.get(key) is slot:
                        del self._slots[key]
                raise
            slot.value, slot.size, slot.done = value, self._size(value), True
            self.computed += 1
        with self._lock:
            self._evict()
        return value

    def peek(self, key: Hashable) -> V | None:
        """The value kept for `key`, or None (nothing is computed, nothing waits)."""
        with self._lock:
            self._drop_gone()
            slot = self._slots.get(key)
            return slot.value if slot is not None and slot.done else None

    def clear(self) -> None:
        """Forget every value (computations under way finish, and are forgotten)."""
        with self._lock:
            self._slots.clear()

    def __len__(self) -> int:
        return len(self._slots)

    def _evict(self) -> None:
        def too_big() -> bool:
            if len(self._slots) > self.max_entries:
                return True
            if self.max_bytes is None:
                return False
            return sum(s.size for s in self._slots.values()) > self.max_bytes

        # Oldest first; a value still being computed stays, and so does the newest.
        for key in list(self._slots)[:-1]:
            if not too_big():
                break
            if self._slots[key].done:
                del self._slots[key]

    def _drop_gone(self) -> None:
        if not self._gone:
            return
        gone = set()
        while self._gone:
            gone.add(self._gone.pop())
        for key in list(self._slots):
            if isinstance(key, tuple) and any(
                isinstance(part, Generation) and part in gone for part in key
            ):
                del self._slots[key]
