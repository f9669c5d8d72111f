"""`analytics.memo`: each value computed once, bounded, and forgotten with its data."""

from __future__ import annotations

import gc
import threading

import pandas as pd
import pytest

from analytics.memo import Memo, generation


def test_a_value_is_computed_once_and_the_oldest_is_dropped_first() -> None:
    memo: Memo[str] = Memo(max_entries=2)
    calls: list[str] = []

    def make(key: str):
        return lambda: calls.append(key) or key.upper()

    assert memo.get("a", make("a")) == "A"
    assert memo.get("b", make("b")) == "B"
    assert memo.get("a", make("a")) == "A"  # kept; now the most recently used
    assert memo.get("c", make("c")) == "C"  # drops "b", the least recently used
    assert memo.get("a", make("a")) == "A"
    assert memo.get("b", make("b")) == "B"
    assert calls == ["a", "b", "c", "b"]
    assert (len(memo), memo.computed) == (2, 4)


def test_values_are_bounded_by_size_too() -> None:
    memo: Memo[bytes] = Memo(max_entries=10, max_bytes=100, size=len)
    memo.get("a", lambda: b"x" * 60)
    memo.get("b", lambda: b"y" * 60)  # 120 bytes: "a" goes
    assert memo.peek("a") is None
    assert memo.peek("b") == b"y" * 60
    memo.get("c", lambda: b"z" * 500)  # too big alone: kept, being the newest
    assert (memo.peek("b"), memo.peek("c")) == (None, b"z" * 500)


def test_a_failed_computation_keeps_nothing() -> None:
    memo: Memo[int] = Memo(max_entries=2)

    def fail() -> int:
        raise RuntimeError("CouchDB went away")

    with pytest.raises(RuntimeError, match="went away"):
        memo.get("k", fail)
    assert memo.peek("k") is None
    assert memo.get("k", lambda: 7) == 7


def test_threads_asking_at_once_share_one_computation() -> None:
    memo: Memo[int] = Memo(max_entries=4)
    started = threading.Event()
    release = threading.Event()
    calls = []

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(5)
        return 42

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(memo.get("k", slow))) for _ in range(6)
    ]
    threads[0].start()
    assert started.wait(5)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(5)
    assert results == [42] * 6
    assert len(calls) == 1


def test_generation_follows_the_object_and_results_go_with_it() -> None:
    frame = pd.DataFrame({"a": [1]})
    same = generation(frame)
    assert generation(frame) == same
    other = pd.DataFrame({"a": [1]})
    assert generation(other) != same  # equal content, another object: other data
    memo: Memo[int] = Memo(max_entries=8)
    memo.get((same, "2026-Q3"), lambda: 1)
    memo.get((generation(other), "2026-Q3"), lambda: 2)
    del frame
    gc.collect()
    assert memo.peek((same, "2026-Q3")) is None  # its frame is gone: so is the result
    assert memo.peek((generation(other), "2026-Q3")) == 2
    assert len(memo) == 1
    assert generation(pd.DataFrame()) > same  # numbers are never reused
