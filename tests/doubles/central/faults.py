"""Injected faults and the request log, for reliability tests.

A fault rule names a regex searched in the request target (`/v1/...?query`, raw, as
sent), a kind, and how many matching requests it hits. Rules are tried in the order
they were added; a request takes the first rule that still has hits left.

Kinds:
- `status:NNN` answer NNN with a JSON error body (429 carries `Retry-After: 1` unless
  `retry_after=` says otherwise, 0 included; `retry_after=` adds it to any status);
- `drop` close the connection without answering;
- `cut` send the real response's headers and half its body, then close;
- `delay:SECONDS` wait, then answer normally.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

_KIND = re.compile(r"^(?:status:[1-5]\d\d|drop|cut|delay:\d+(?:\.\d+)?)$")


@dataclass
class Fault:
    pattern: str
    kind: str
    times: int = 1
    method: str | None = None
    retry_after: int | None = None
    hits: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _KIND.match(self.kind):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        self._regex = re.compile(self.pattern)

    def matches(self, method: str, target: str) -> bool:
        if self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._regex.search(target) is not None

    @property
    def status(self) -> int | None:
        return int(self.kind[7:]) if self.kind.startswith("status:") else None

    @property
    def delay(self) -> float:
        return float(self.kind[6:]) if self.kind.startswith("delay:") else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class Faults:
    """`double.faults.add(r"\\.svc/Submissions", "status:503", times=2)`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(
        self,
        path_regex: str,
        kind: str,
        times: int = 1,
        *,
        method: str | None = None,
        retry_after: int | None = None,
    ) -> Fault:
        fault = Fault(path_regex, kind, times, method, retry_after)
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self._rules:
                if fault.matches(method, target):
                    fault.hits += 1
                    return fault
        return None

    @property
    def pending(self) -> list[Fault]:
        """Rules with hits left."""
        with self._lock:
            return [f for f in self._rules if f.hits < f.times]

    def as_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._rules]


@dataclass(frozen=True)
class LoggedRequest:
    """One request the double received (control endpoints excluded)."""

    method: str
    path: str  # decoded path, e.g. /v1/projects/1/forms/f.svc/Submissions
    query: dict[str, str]  # decoded, first value of each name
    status: int | None  # None when a fault dropped or cut the answer
    fault: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
